package io.meshlet.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.CallOptions;
import io.grpc.Contexts;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.xds.XdsServerBuilder;
import io.meshlet.controlplane.internal.ca.CertificateAuthority;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.CertificateRequests;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.identity.WorkloadIdentity;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.SSLSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mtls.mode: permissive} on an {@code XdsServerBuilder} server built with
 * {@link MeshGrpc#serverCredentials}: plaintext callers and mTLS callers are both served on the
 * same port, mTLS callers with their SPIFFE ID known to the service; a certificate from another
 * CA is still refused. The server's instance is registered by grpc-java's own xDS stream.
 */
class GrpcPermissiveMtlsIT {

  static final Context.Key<String> CALLER = Context.key("caller");

  @TempDir static Path dir;
  static ControlServer server;
  static CaIdentitySource catalogId;
  static CaIdentitySource frontendId;
  static Server catalog;
  static int port;

  @BeforeAll
  static void start() throws Exception {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path file = Files.writeString(dir.resolve("mesh.yaml"), """
        trustDomain: example.org
        mtls: { mode: permissive, certTtl: 1h }
        services:
          catalog:
            protocol: grpc
        """);
    server = ControlServer.builder().configFile(file).xdsPort(0).adminPort(0).joinTokens(Identities.TOKENS)
        .build().start();
    String cs = "127.0.0.1:" + server.xdsPort();
    catalogId = Identities.start("catalog", cs, server.trustBundleFile().orElseThrow(), 0.5);
    frontendId = Identities.start("frontend", cs, server.trustBundleFile().orElseThrow(), 0.5);
    CertificateFiles files = new CertificateFiles(dir.resolve("certs"));
    files.write(catalogId.current());
    catalogId.addListener(files::write);
    // The server registers its own instance; no endpoint is written in mesh.yaml.
    MeshGrpc.bootstrap("catalog", List.of(cs)).controlServerTrust(server.trustBundleFile().orElseThrow()).nodeId("grpc-permissive-it").certificates(files)
        .instance("127.0.0.1:" + port, java.util.Map.of("version", "v1")).install();
    ServerServiceDefinition echo = ServerServiceDefinition.builder(EchoBackend.SERVICE)
        .addMethod(EchoBackend.WHO, ServerCalls.asyncUnaryCall((req, resp) -> {
          resp.onNext(CALLER.get());
          resp.onCompleted();
        }))
        .build();
    catalog = XdsServerBuilder.forPort(port, MeshGrpc.serverCredentials(catalogId::current))
        .addService(ServerInterceptors.intercept(echo, new CallerInterceptor()))
        .build()
        .start();
  }

  /** Puts the caller's SPIFFE ID, or "plaintext", where the service can read it. */
  static final class CallerInterceptor implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
        ServerCallHandler<Q, R> next) {
      SSLSession tls = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
      String caller = tls == null ? "plaintext" : SpiffeTls.peerSpiffeId(tls).orElse("no SPIFFE ID");
      return Contexts.interceptCall(Context.current().withValue(CALLER, caller), call, headers, next);
    }
  }

  @AfterAll
  static void stop() {
    if (catalog != null) {
      catalog.shutdownNow();
    }
    for (AutoCloseable c : new AutoCloseable[] {catalogId, frontendId, server}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing
      }
    }
  }

  static String call(ManagedChannel channel, int deadlineSeconds) {
    try {
      return ClientCalls.blockingUnaryCall(channel, EchoBackend.WHO,
          CallOptions.DEFAULT.withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS).withWaitForReady(), "hi");
    } finally {
      channel.shutdownNow();
    }
  }

  static ManagedChannel mtls(Supplier<WorkloadIdentity> identity) throws Exception {
    SslContextBuilder tls = GrpcSslContexts.forClient()
        .trustManager(SpiffeTls.trustManager(identity, id -> id.equals("spiffe://example.org/service/catalog")))
        .keyManager(SpiffeTls.keyManager(identity));
    return NettyChannelBuilder.forAddress("127.0.0.1", port).sslContext(tls.build()).overrideAuthority("catalog")
        .build();
  }

  @Test
  void aPlaintextCallerIsServed() {
    ManagedChannel plain = Grpc.newChannelBuilderForAddress("127.0.0.1", port, InsecureChannelCredentials.create())
        .build();
    assertThat(call(plain, 20)).isEqualTo("plaintext");
  }

  @Test
  void anMtlsCallerIsServedAndItsIdentityKnown() throws Exception {
    assertThat(call(mtls(frontendId::current), 20)).isEqualTo("spiffe://example.org/service/frontend");
  }

  @Test
  void anXdsChannelUsesMtlsToAPermissiveServer() {
    // The channel's cluster asks for mTLS with the server's SPIFFE ID; the bootstrap's
    // certificates are catalog's own, so the server sees catalog calling.
    assertThat(call(MeshGrpc.channel("catalog"), 20)).isEqualTo("spiffe://example.org/service/catalog");
  }

  @Test
  void aCertificateFromAnotherCaIsRefused() throws Exception {
    CertificateAuthority other = CertificateAuthority.loadOrCreate("example.org", null, Clock.systemUTC());
    KeyPair pair = CertificateRequests.newKeyPair();
    WorkloadIdentity forged = new WorkloadIdentity("spiffe://example.org/service/frontend",
        List.of(other.sign("frontend", CertificateRequests.csr(pair, "frontend"), Duration.ofHours(1))),
        pair.getPrivate(), frontendId.current().trustBundle());
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> call(mtls(() -> forged), 5));
    assertThat(e).isNotNull();
    assertThat(e.getStatus().getCode()).isIn(io.grpc.Status.Code.UNAVAILABLE, io.grpc.Status.Code.DEADLINE_EXCEEDED);
  }
}
