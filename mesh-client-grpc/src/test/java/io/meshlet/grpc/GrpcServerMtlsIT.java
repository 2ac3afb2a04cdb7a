package io.meshlet.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.CallOptions;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.xds.XdsServerBuilder;
import io.grpc.xds.XdsServerCredentials;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.identity.WorkloadIdentity;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A gRPC service served by grpc-java's {@code XdsServerBuilder} gets its inbound security from the
 * mesh config: strict mTLS with the workload certificate from the generated bootstrap's provider,
 * and RBAC allowing only the SPIFFE IDs on the service's allow list.
 */
class GrpcServerMtlsIT {

  @TempDir static Path dir;
  static ControlServer server;
  static CaIdentitySource catalogId;
  static CaIdentitySource frontendId;
  static CaIdentitySource paymentsId;
  static Server catalog;
  static io.meshlet.MeshClient catalogMesh;
  static ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logs;
  static int port;

  @BeforeAll
  static void start() throws Exception {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path file = Files.writeString(dir.resolve("mesh.yaml"), """
        trustDomain: example.org
        mtls: { mode: strict, certTtl: 1h }
        services:
          catalog:
            protocol: grpc
            endpoints: [ { address: 127.0.0.1:%d } ]
            authorization:
              allow: [ spiffe://example.org/service/frontend ]
              rules:
                - match: { path: /meshlet.test.Echo/Other }
                  allow: [ spiffe://example.org/service/payments ]
        """.formatted(port));
    server = ControlServer.builder().configFile(file).xdsPort(0).adminPort(0).joinTokens(Identities.TOKENS).build().start();
    String cs = "127.0.0.1:" + server.xdsPort();
    catalogId = identity("catalog", cs);
    frontendId = identity("frontend", cs);
    paymentsId = identity("payments", cs);
    CertificateFiles files = new CertificateFiles(dir.resolve("certs"));
    files.write(catalogId.current());
    catalogId.addListener(files::write);
    MeshGrpc.bootstrap("catalog", List.of(cs)).controlServerTrust(server.trustBundleFile().orElseThrow()).nodeId("grpc-server-it").certificates(files).install();
    catalogMesh = io.meshlet.MeshClient.builder().controlServerTrust(server.trustBundleFile().orElseThrow()).serviceName("catalog").controlServers(cs).build().start();
    catalog = XdsServerBuilder.forPort(port, XdsServerCredentials.create(InsecureServerCredentials.create()))
        .addStreamTracerFactory(MeshGrpc.deniedCallsTracer(catalogMesh))
        .addService(ServerServiceDefinition.builder(EchoBackend.SERVICE)
            .addMethod(EchoBackend.WHO, ServerCalls.asyncUnaryCall((req, resp) -> {
              resp.onNext("catalog");
              resp.onCompleted();
            }))
            .addMethod(EchoBackend.OTHER, ServerCalls.asyncUnaryCall((req, resp) -> {
              resp.onNext("catalog other");
              resp.onCompleted();
            }))
            .build())
        .build()
        .start();
  }

  static CaIdentitySource identity(String service, String cs) throws InterruptedException {
    return Identities.start(service, cs, server.trustBundleFile().orElseThrow(), 0.5);
  }

  @AfterAll
  static void stop() {
    if (catalog != null) {
      catalog.shutdownNow();
    }
    for (AutoCloseable c : new AutoCloseable[] {catalogMesh, catalogId, frontendId, paymentsId, server}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing
      }
    }
  }

  /** A plain TLS gRPC client presenting {@code identity}; the server is checked against the bundle. */
  static String callAs(Supplier<WorkloadIdentity> identity) throws Exception {
    return call(identity, true);
  }

  static String call(Supplier<WorkloadIdentity> identity, boolean presentCertificate) throws Exception {
    return call(identity, presentCertificate, EchoBackend.WHO);
  }

  static String call(Supplier<WorkloadIdentity> identity, boolean presentCertificate,
      io.grpc.MethodDescriptor<String, String> method) throws Exception {
    SslContextBuilder tls = GrpcSslContexts.forClient()
        .trustManager(SpiffeTls.trustManager(identity, id -> id.equals("spiffe://example.org/service/catalog")));
    if (presentCertificate) {
      tls.keyManager(SpiffeTls.keyManager(identity));
    }
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).sslContext(tls.build())
        .overrideAuthority("catalog").build();
    try {
      return ClientCalls.blockingUnaryCall(channel, method,
          CallOptions.DEFAULT.withDeadlineAfter(presentCertificate ? 20 : 5, TimeUnit.SECONDS).withWaitForReady(), "hi");
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void anAllowedCallerIsServedOverMtls() throws Exception {
    assertThat(callAs(frontendId::current)).isEqualTo("catalog");
  }

  @Test
  void aCallerWithoutACertificateIsRefused() {
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
        () -> call(frontendId::current, false));
    assertThat(e.getStatus().getCode()).isIn(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED);
  }

  @Test
  void aCallerNotOnTheAllowListIsDeniedLoggedWithItsIdentity() {
    logs = new ch.qos.logback.core.read.ListAppender<>();
    logs.start();
    ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(DeniedCallsTracer.class)).addAppender(logs);
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> callAs(paymentsId::current));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    io.meshlet.controlplane.testing.Await.until("the denial to be logged", Duration.ofSeconds(5),
        () -> logs.list.stream().anyMatch(ev -> ev.getFormattedMessage()
            .contains("denied meshlet.test.Echo/Who from spiffe://example.org/service/payments")));
  }

  @Test
  void aRuleForOneMethodComesBeforeTheServiceWideList() throws Exception {
    assertThat(call(paymentsId::current, true, EchoBackend.OTHER)).isEqualTo("catalog other");
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
        () -> call(frontendId::current, true, EchoBackend.OTHER));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
  }
}
