package io.meshlet.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.FaultReport;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.identity.WorkloadIdentity;
import java.net.InetSocketAddress;
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
 * grpc-java's own xDS client does mTLS with SPIFFE identities from the mesh config: the bootstrap
 * MeshGrpc generates declares the certificate provider the clusters name, fed by certificate files
 * that follow the workload's rotating identity; a server with the wrong SPIFFE ID is refused.
 */
class GrpcMtlsIT {

  @TempDir static Path dir;
  static ControlServer server;
  static CaIdentitySource catalogId;
  static CaIdentitySource frontendId;
  static CaIdentitySource paymentsId;
  static Server catalog;
  static Server impostor;

  @BeforeAll
  static void start() throws Exception {
    int catalogPort = freePort();
    int impostorPort = freePort();
    Path file = Files.writeString(dir.resolve("mesh.yaml"), """
        trustDomain: example.org
        mtls: { mode: strict, certTtl: 1m }
        services:
          catalog: { protocol: grpc, endpoints: [ { address: 127.0.0.1:%d } ] }
          ledger: { protocol: grpc, endpoints: [ { address: 127.0.0.1:%d } ] }
        """.formatted(catalogPort, impostorPort));
    server = ControlServer.builder().configFile(file).xdsPort(0).adminPort(0).joinTokens(Identities.TOKENS).build().start();
    String cs = "127.0.0.1:" + server.xdsPort();
    catalogId = identity("catalog", cs);
    frontendId = identity("frontend", cs);
    paymentsId = identity("payments", cs);
    catalog = tlsServer(catalogPort, "catalog", catalogId::current);
    // Answers for 'ledger' but holds the certificate of 'payments'.
    impostor = tlsServer(impostorPort, "impostor", paymentsId::current);

    CertificateFiles files = new CertificateFiles(dir.resolve("certs"));
    files.write(frontendId.current());
    frontendId.addListener(files::write);
    MeshGrpc.bootstrap("frontend", List.of(cs)).controlServerTrust(server.trustBundleFile().orElseThrow()).nodeId("grpc-mtls-it").certificates(files).install();
  }

  static CaIdentitySource identity(String service, String cs) throws InterruptedException {
    return Identities.start(service, cs, server.trustBundleFile().orElseThrow(), 0.05);
  }

  static Server tlsServer(int port, String name, Supplier<WorkloadIdentity> identity) throws Exception {
    SslContextBuilder tls = GrpcSslContexts.configure(SslContextBuilder.forServer(SpiffeTls.keyManager(identity)))
        .trustManager(SpiffeTls.trustManager(identity, SpiffeTls.allowAny()))
        .clientAuth(ClientAuth.REQUIRE);
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
        .sslContext(tls.build())
        .addService(ServerServiceDefinition.builder(EchoBackend.SERVICE)
            .addMethod(EchoBackend.WHO, ServerCalls.asyncUnaryCall((req, resp) -> {
              resp.onNext(name);
              resp.onCompleted();
            }))
            .build())
        .build().start();
  }

  static int freePort() throws Exception {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @AfterAll
  static void stop() {
    for (Server s : new Server[] {catalog, impostor}) {
      if (s != null) {
        s.shutdownNow();
      }
    }
    for (AutoCloseable c : new AutoCloseable[] {catalogId, frontendId, paymentsId, server}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing
      }
    }
  }

  static String who(ManagedChannel channel) {
    return ClientCalls.blockingUnaryCall(channel, EchoBackend.WHO,
        CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS).withWaitForReady(), "hi");
  }

  @Test
  void callsTheServiceOverMtls() {
    ManagedChannel channel = MeshGrpc.channel("catalog");
    try {
      assertThat(who(channel)).isEqualTo("catalog");
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void refusesAServerWithTheWrongSpiffeId() {
    ManagedChannel channel = MeshGrpc.channel("ledger");
    try {
      StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
          () -> ClientCalls.blockingUnaryCall(channel, EchoBackend.WHO,
              CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), "hi"));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      StringBuilder causes = new StringBuilder();
      for (Throwable t = e; t != null; t = t.getCause()) {
        causes.append(t).append('\n');
      }
      // grpc-java's check of match_subject_alt_names (the SPIFFE ID the cluster expects).
      assertThat(causes.toString()).contains("Peer certificate SAN check failed");
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void certificatesRotateUnderTrafficWithNoFailedCall() {
    ManagedChannel channel = MeshGrpc.channel("catalog");
    try {
      assertThat(who(channel)).isEqualTo("catalog");
      String clientSerial = frontendId.current().chain().get(0).getSerialNumber().toString(16);
      String serverSerial = catalogId.current().chain().get(0).getSerialNumber().toString(16);
      int ok = 0;
      List<String> failures = new java.util.ArrayList<>();
      java.util.Set<String> serials = new java.util.HashSet<>();
      Duration run = FaultReport.runLength(Duration.ofSeconds(8));
      long end = System.nanoTime() + run.toNanos();
      while (System.nanoTime() < end) {
        serials.add(frontendId.current().chain().get(0).getSerialNumber().toString(16));
        try {
          ClientCalls.blockingUnaryCall(channel, EchoBackend.WHO,
              CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS), "hi");
          ok++;
        } catch (StatusRuntimeException e) {
          failures.add(e.getStatus().toString());
        }
      }
      FaultReport.record("certificates rotating every ~3 s (gRPC, mTLS)", (serials.size() - 1)
          + " client certificate rotations in " + run.toSeconds() + " s", failures.isEmpty() ? null : failures.get(0),
          new FaultReport.Counts("gRPC", ok + failures.size(), failures.size()));
      assertThat(failures).as("failed calls during rotation (%d ok)", ok).isEmpty();
      assertThat(frontendId.current().chain().get(0).getSerialNumber().toString(16)).isNotEqualTo(clientSerial);
      assertThat(catalogId.current().chain().get(0).getSerialNumber().toString(16)).isNotEqualTo(serverSerial);
    } finally {
      channel.shutdownNow();
    }
  }
}
