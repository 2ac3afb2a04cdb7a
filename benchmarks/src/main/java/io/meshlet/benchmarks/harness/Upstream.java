package io.meshlet.benchmarks.harness;

import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.inbound.MeshJetty;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The upstream JVM of the load cases: a Jetty server answering {@code ok} on a plaintext port
 * and on a strict mTLS port ({@link MeshJetty}, an SVID from the CA), a gRPC server with one
 * unary method, and the control server whose {@code mesh.yaml} names them. It runs apart from the
 * load generator so that the client's CPU and memory are measured alone.
 */
final class Upstream {

  /** Join tokens of the harness's services. */
  static final Map<String, String> TOKENS = Map.of(
      "echo", "echo-token-0123456789abcdef",
      "echo-tls", "echo-tls-token-0123456789abcdef",
      "frontend", "frontend-token-0123456789abcdef");

  /** The gRPC method of the upstream: a string in, {@code ok} out. */
  static final MethodDescriptor<String, String> ECHO = MethodDescriptor.<String, String>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY)
      .setFullMethodName("bench.Echo/Call")
      .setRequestMarshaller(Utf8.INSTANCE)
      .setResponseMarshaller(Utf8.INSTANCE)
      .build();

  private static final byte[] OK = "ok".getBytes(StandardCharsets.UTF_8);

  private Upstream() {}

  static String meshYaml(int httpPort, int httpsPort, int grpcPort) {
    return """
        trustDomain: bench.local
        mtls: { mode: off, certTtl: 2h }
        services:
          echo:
            endpoints: [ { address: 127.0.0.1:%d } ]
            circuitBreaker: { maxRequests: 1000, maxPendingRequests: 100, maxRetries: 3 }
            outlierDetection: { consecutive5xx: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
            routes:
              - match: { pathPrefix: / }
                to: [ { weight: 100 } ]
                timeout: 2s
                retries: { attempts: 2, on: [5xx, reset, connect-failure] }
          echo-tls:
            mtls: { mode: strict }
            endpoints: [ { address: 127.0.0.1:%d } ]
            circuitBreaker: { maxRequests: 1000, maxPendingRequests: 100, maxRetries: 3 }
            outlierDetection: { consecutive5xx: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
            routes:
              - match: { pathPrefix: / }
                to: [ { weight: 100 } ]
                timeout: 2s
                retries: { attempts: 2, on: [5xx, reset, connect-failure] }
          grpc-echo:
            protocol: grpc
            endpoints: [ { address: 127.0.0.1:%d } ]
            circuitBreaker: { maxRequests: 1000 }
            routes:
              - match: { pathPrefix: / }
                to: [ { weight: 100 } ]
                timeout: 2s
                retries: { attempts: 2, on: [unavailable] }
          grpc-plain:
            protocol: grpc
            endpoints: [ { address: 127.0.0.1:%d } ]
        """.formatted(httpPort, httpsPort, grpcPort, grpcPort);
  }

  /** Mode {@code upstream <work-dir>}. */
  static void main(String[] args) throws Exception {
    Path work = Files.createDirectories(Path.of(args[0]));
    int xdsPort = Proc.freePort();
    String controlServer = "127.0.0.1:" + xdsPort;
    AtomicReference<CaIdentitySource> identity = new AtomicReference<>();
    // xDS and the CA over TLS, as in production: every client checks this bundle.
    Path trustBundle = work.resolve("trust-bundle.pem");
    MeshClient tlsMesh = MeshClient.builder().controlServerTrust(trustBundle).serviceName("echo-tls")
        .controlServers(controlServer).build();

    QueuedThreadPool threads = new QueuedThreadPool(64, 8);
    threads.setName("upstream");
    Server jetty = new Server(threads);
    ServerConnector plain = new ServerConnector(jetty, 1, 1);
    plain.setHost("127.0.0.1");
    plain.setPort(0);
    jetty.addConnector(plain);
    ServerConnector tls = MeshJetty.connector(jetty, tlsMesh, () -> identity.get().current());
    tls.setHost("127.0.0.1");
    tls.setPort(0);
    jetty.addConnector(tls);
    jetty.setHandler(new Handler.Abstract.NonBlocking() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, OK.length);
        response.write(true, ByteBuffer.wrap(OK), callback);
        return true;
      }
    });
    jetty.start();

    io.grpc.Server grpc = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .directExecutor()
        .addService(ServerServiceDefinition.builder("bench.Echo")
            .addMethod(ECHO, ServerCalls.asyncUnaryCall((in, out) -> {
              out.onNext("ok");
              out.onCompleted();
            }))
            .build())
        .build().start();

    Path file = work.resolve("mesh.yaml");
    Files.writeString(file, meshYaml(plain.getLocalPort(), tls.getLocalPort(), grpc.getPort()));
    ControlServer server = ControlServer.builder().configFile(file).xdsPort(xdsPort).adminPort(0)
        .trustBundleFile(trustBundle).joinTokens(TOKENS).build().start();
    identity.set(CaIdentitySource.builder().service("echo-tls").joinToken(TOKENS.get("echo-tls"))
        .controlServers(controlServer).controlServerTrust(trustBundle).build().start());
    identity.get().awaitIdentity(Duration.ofSeconds(30));
    tlsMesh.start();
    if (!tlsMesh.awaitConfig(Duration.ofSeconds(30))) {
      throw new IllegalStateException("the upstream's MeshClient got no config");
    }

    Map<String, Object> ready = new LinkedHashMap<>();
    ready.put("xdsPort", xdsPort);
    ready.put("trustBundle", trustBundle.toString());
    ready.put("adminPort", server.adminPort());
    ready.put("httpPort", plain.getLocalPort());
    ready.put("httpsPort", tls.getLocalPort());
    ready.put("grpcPort", grpc.getPort());
    ready.put("pid", ProcessHandle.current().pid());
    Proc.say("READY", ready);
    try {
      Proc.serveUntilStdinCloses();
    } finally {
      tlsMesh.close();
      identity.get().close();
      server.close();
      grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      jetty.stop();
    }
  }

  /** UTF-8 strings on the wire: no generated code. */
  enum Utf8 implements MethodDescriptor.Marshaller<String> {
    INSTANCE;

    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
