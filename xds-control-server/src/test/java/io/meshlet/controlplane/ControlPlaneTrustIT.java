package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.meshlet.MeshClient;
import io.meshlet.MeshListener;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.RawAdsClient;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.CertificateRequests;
import io.meshlet.internal.spiffe.ControlPlaneTls;
import io.meshlet.identity.WorkloadIdentity;
import io.meshlet.identity.v1.IdentityServiceGrpc;
import io.meshlet.identity.v1.SignRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing is trusted for being on the network: the attack table of the control plane. Each case
 * asserts the refusal and that nothing changed.
 *
 * <table>
 *   <tr><th>attack</th><th>refused by</th></tr>
 *   <tr><td>an impostor control server with its own CA</td><td>MeshClient's TLS check of the trust bundle</td></tr>
 *   <tr><td>registering as another service, over TLS without an SVID</td><td>the server: no certificate</td></tr>
 *   <tr><td>registering as payments with frontend's SVID</td><td>the server: wrong SPIFFE ID</td></tr>
 *   <tr><td>registering over plaintext (a server on --xds-plaintext)</td><td>the server, unless allowed</td></tr>
 *   <tr><td>a plaintext client on the TLS port</td><td>the TLS handshake</td></tr>
 *   <tr><td>a join token sent over plaintext</td><td>the CA, even with the right token</td></tr>
 * </table>
 * grpc-java's refusal of an impostor is {@code GrpcJavaImpostorIT} (its bootstrap is one per JVM);
 * the admin API's is {@code AdminAuthIT}; path normalization on server adapters is
 * {@code InboundPathBypassIT}.
 */
class ControlPlaneTrustIT {

  static final Map<String, String> TOKENS = Map.of("frontend", "frontend-token-0123456789",
      "payments", "payments-token-0123456789");
  static final Duration TIMEOUT = Duration.ofSeconds(15);

  @TempDir static Path dir;
  static ControlServer server;
  static ControlServer impostor;
  static ControlServer plaintext;
  static AdminClient admin;
  static CaIdentitySource frontend;
  static CaIdentitySource payments;

  @BeforeAll
  static void start() throws Exception {
    MeshFile mesh = new MeshFile(dir).write("""
        trustDomain: example.org
        services:
          payments: { endpoints: [ { address: 127.0.0.1:9001 } ] }
        """);
    server = ControlServer.builder().configFile(mesh.path()).xdsPort(0).adminPort(0)
        .caDirectory(dir.resolve("ca")).joinTokens(TOKENS).build().start();
    impostor = ControlServer.builder().configFile(mesh.path()).xdsPort(0).adminPort(0)
        .caDirectory(dir.resolve("impostor-ca")).build().start();
    plaintext = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0)
        .joinTokens(TOKENS).build().start();
    admin = new AdminClient(server.adminPort());
    frontend = identity("frontend");
    payments = identity("payments");
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(frontend, payments, server, impostor, plaintext);
  }

  static CaIdentitySource identity(String service) throws InterruptedException {
    CaIdentitySource s = CaIdentitySource.builder().service(service).joinToken(TOKENS.get(service))
        .controlServers("127.0.0.1:" + server.xdsPort()).controlServerTrust(trust()).build().start();
    s.awaitIdentity(TIMEOUT);
    return s;
  }

  static Path trust() {
    return server.trustBundleFile().orElseThrow();
  }

  @Test
  void theTrustBundleHoldsTheRootsAndTheServerPresentsItsSpiffeId() throws Exception {
    assertThat(trust()).isEqualTo(dir.resolve("ca").resolve(ControlServer.TRUST_BUNDLE_FILE));
    assertThat(ControlPlaneTls.readTrustBundle(trust())).hasSize(1);
    assertThat(frontend.current().trustBundle()).isEqualTo(ControlPlaneTls.readTrustBundle(trust()));
  }

  @Test
  void healthzSaysHowXdsIsServed() {
    assertThat(admin.json("/healthz").path("xds").asText()).isEqualTo("tls, trust bundle " + trust());
    assertThat(new AdminClient(plaintext.adminPort()).json("/healthz").path("xds").asText())
        .startsWith("PLAINTEXT (--xds-plaintext)");
  }

  @Test
  void anImpostorControlServerWithItsOwnCaIsRefusedByMeshClient() throws Exception {
    BlockingQueue<String> disconnects = new LinkedBlockingQueue<>();
    try (MeshClient fooled = MeshClient.builder().serviceName("frontend").controlServers("127.0.0.1:" + impostor.xdsPort())
        .controlServerTrust(trust()).reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(200))
        .listener(new MeshListener() {
          @Override
          public void onDisconnected(String server, String status, Duration retryIn) {
            disconnects.add(status);
          }
        }).build().start()) {
      String status = disconnects.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      assertThat(status).as("the first connection attempt's end").isNotNull().contains("UNAVAILABLE");
      assertThat(fooled.snapshot().services()).as("config taken from the impostor").isEmpty();
      assertThat(new AdminClient(impostor.adminPort()).json("/clients").path("clients")).isEmpty();
    }
    // The same settings against the real server: config arrives.
    try (MeshClient real = MeshClient.builder().serviceName("frontend").controlServers("127.0.0.1:" + server.xdsPort())
        .controlServerTrust(trust()).build().start()) {
      assertThat(real.awaitConfig(TIMEOUT)).isTrue();
      assertThat(real.snapshot().services()).containsKey("payments");
    }
  }

  @Test
  void aPlaintextClientCannotTalkToTheTlsPort() {
    try (RawAdsClient raw = new RawAdsClient(server.xdsPort(), InsecureChannelCredentials.create());
        var stream = raw.sotw()) {
      stream.send(DiscoveryRequest.newBuilder().setNode(RawAdsClient.node("plaintext-client"))
          .setTypeUrl(RawAdsClient.CLUSTER).build());
      Await.until("the stream to fail", TIMEOUT, () -> stream.error() != null);
      assertThat(stream.error()).hasMessageContaining("UNAVAILABLE");
    }
    assertThat(clientsNamed(admin, "plaintext-client")).isEmpty();
  }

  @Test
  void registrationWithoutAnSvidIsRefused() {
    JsonNode client = register(server, ControlPlaneTls.channelCredentials(trust(), null), "no-svid", "payments");
    assertThat(client.path("registrationRefused").asText()).isEqualTo("instance 127.0.0.1:7001 of 'payments' "
        + "refused: the stream presented no certificate (expected: mTLS with spiffe://example.org/service/payments; "
        + "get it from the CA first)");
    assertThat(client.path("instance").isMissingNode()).isTrue();
    assertThat(client.path("transport").asText()).isEqualTo("TLS without a client certificate");
    assertPaymentsEndpointsUnchanged();
  }

  @Test
  void registrationWithAnotherServicesSvidIsRefused() {
    JsonNode client = register(server, ControlPlaneTls.channelCredentials(trust(), frontend::current), "wrong-svid",
        "payments");
    assertThat(client.path("registrationRefused").asText()).isEqualTo("instance 127.0.0.1:7001 of 'payments' "
        + "refused: the stream is authenticated as spiffe://example.org/service/frontend "
        + "(expected: spiffe://example.org/service/payments)");
    assertThat(client.path("instance").isMissingNode()).isTrue();
    assertPaymentsEndpointsUnchanged();
  }

  @Test
  void registrationWithItsOwnSvidIsAccepted() {
    Supplier<WorkloadIdentity> own = payments::current;
    try (RawAdsClient raw = new RawAdsClient(server.xdsPort(), ControlPlaneTls.channelCredentials(trust(), own));
        var stream = raw.sotw()) {
      stream.send(registering("own-svid", "payments"));
      stream.next(TIMEOUT);
      Await.until("the instance on /clients", TIMEOUT,
          () -> !clientsNamed(admin, "own-svid").isEmpty()
              && clientsNamed(admin, "own-svid").get(0).path("instance").path("address").asText()
                  .equals("127.0.0.1:7001"));
      assertThat(clientsNamed(admin, "own-svid").get(0).path("transport").asText())
          .isEqualTo("mTLS spiffe://example.org/service/payments");
    }
  }

  @Test
  void registrationOverPlaintextIsRefusedUnlessTheOperatorAllowsIt() {
    JsonNode client = register(plaintext, InsecureChannelCredentials.create(), "plaintext-reg", "payments");
    assertThat(client.path("registrationRefused").asText()).isEqualTo("instance 127.0.0.1:7001 of 'payments' "
        + "refused: this stream is plaintext (expected: mTLS with spiffe://example.org/service/payments; a server "
        + "on --xds-plaintext accepts registrations only with --allow-plaintext-registration)");
    assertThat(client.path("instance").isMissingNode()).isTrue();
  }

  @Test
  void aJoinTokenSentOverPlaintextIsRefusedEvenWhenRight() throws Exception {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", plaintext.xdsPort()).usePlaintext().build();
    try {
      SignRequest request = SignRequest.newBuilder().setService("payments").setJoinToken(TOKENS.get("payments"))
          .setCsrDer(ByteString.copyFrom(CertificateRequests.csr(CertificateRequests.newKeyPair(), "payments")))
          .build();
      assertThatThrownBy(() -> IdentityServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
          .sign(request))
          .isInstanceOf(StatusRuntimeException.class)
          .hasMessage("FAILED_PRECONDITION: join tokens are accepted only over TLS (expected: a control server "
              + "without --xds-plaintext, and a client given its trust bundle)");
    } finally {
      channel.shutdownNow();
    }
    assertThat(new AdminClient(plaintext.adminPort()).get("/metrics").body())
        .contains("meshlet_ca_certificates_signed_total 0");
    assertThatThrownBy(() -> CaIdentitySource.builder().service("payments").joinToken("x")
        .controlServers("127.0.0.1:" + plaintext.xdsPort()).build())
        .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("controlServerTrust is required");
  }

  // --- helpers -------------------------------------------------------------------------------------

  /** Opens a stream that registers 127.0.0.1:7001 as an instance of {@code service}; its /clients entry. */
  static JsonNode register(ControlServer target, io.grpc.ChannelCredentials credentials, String nodeId,
      String service) {
    AdminClient targetAdmin = new AdminClient(target.adminPort());
    try (RawAdsClient raw = new RawAdsClient(target.xdsPort(), credentials); var stream = raw.sotw()) {
      stream.send(registering(nodeId, service));
      stream.next(TIMEOUT);
      Await.until("the refusal on /clients", TIMEOUT, () -> !clientsNamed(targetAdmin, nodeId).isEmpty()
          && clientsNamed(targetAdmin, nodeId).get(0).has("registrationRefused"));
      return clientsNamed(targetAdmin, nodeId).get(0);
    }
  }

  static DiscoveryRequest registering(String nodeId, String service) {
    Node node = RawAdsClient.node(nodeId).toBuilder().setMetadata(Struct.newBuilder().putFields("meshlet.instance",
        Value.newBuilder().setStructValue(Struct.newBuilder()
            .putFields("address", Value.newBuilder().setStringValue("127.0.0.1:7001").build())
            .putFields("service", Value.newBuilder().setStringValue(service).build())).build())).build();
    return DiscoveryRequest.newBuilder().setNode(node).setTypeUrl(RawAdsClient.CLUSTER).build();
  }

  static List<JsonNode> clientsNamed(AdminClient a, String nodeId) {
    List<JsonNode> out = new java.util.ArrayList<>();
    a.json("/clients").path("clients").forEach(c -> {
      if (c.path("nodeId").asText().equals(nodeId)) {
        out.add(c);
      }
    });
    return out;
  }

  void assertPaymentsEndpointsUnchanged() {
    assertThat(server.config().orElseThrow().services().get("payments").endpoints())
        .extracting(e -> e.address()).containsExactly("127.0.0.1:9001");
    for (JsonNode c : admin.json("/clients").path("clients")) {
      assertThat(c.path("instance").path("address").asText()).as("a registered instance").isNotEqualTo("127.0.0.1:7001")
          .satisfiesAnyOf(a -> assertThat(c.path("nodeId").asText()).isEqualTo("own-svid"), a -> { });
    }
  }
}
