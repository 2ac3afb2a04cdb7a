package io.meshlet.controlplane;

import static io.meshlet.controlplane.testing.RawAdsClient.CLUSTER;
import static io.meshlet.controlplane.testing.RawAdsClient.ENDPOINTS;
import static io.meshlet.controlplane.testing.RawAdsClient.LISTENER;
import static io.meshlet.controlplane.testing.RawAdsClient.node;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.Status;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.RawAdsClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control server speaks the ADS protocol as the xDS spec says, seen from a bare client that
 * plays every step itself: ACKs and NACKs (state of the world), delta subscriptions and pushes,
 * the mesh-wide view for any node id, and no churn for a client that reconnects up to date.
 */
class AdsProtocolIT {

  private static final Duration RESPONSE_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(10);

  @TempDir static Path dir;
  static MeshFile mesh;
  static ControlServer server;
  static AdminClient admin;
  static RawAdsClient ads;
  static String baseVersion;

  @BeforeAll
  static void start() throws Exception {
    mesh = new MeshFile(dir).write(meshYaml("round_robin", false));
    server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).build().start();
    admin = new AdminClient(server.adminPort());
    ads = new RawAdsClient(server.xdsPort());
    baseVersion = admin.version();
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(ads, server);
  }

  /** Tests that edit the file put the base config back, so each test starts from it. */
  @AfterEach
  void restoreBaseConfig() {
    mesh.write(meshYaml("round_robin", false));
    Await.until("the base config to be served again", ADMIN_TIMEOUT, () -> admin.version().equals(baseVersion));
  }

  static String meshYaml(String loadBalancing, boolean extraService) {
    String yaml = """
        services:
          svc:
            protocol: grpc
            loadBalancing: %s
            endpoints:
              - { address: 127.0.0.1:10001, labels: { version: v1 } }
              - { address: 127.0.0.1:10002, labels: { version: v2 } }
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            routes:
              - to: [ { subset: v1 } ]
          other:
            protocol: grpc
            endpoints: [ { address: 127.0.0.1:10003 } ]
        """.formatted(loadBalancing);
    if (extraService) {
      yaml += """
            extra:
              protocol: grpc
              endpoints: [ { address: 127.0.0.1:10004 } ]
          """;
    }
    return yaml;
  }

  // --- (a) state of the world: ACK, then NACK -------------------------------------------------

  @Test
  void sotwAckAndNackShowOnClientsAndMetrics() {
    String nodeId = "sotw-ack-nack";
    try (var stream = ads.sotw()) {
      stream.send(listenerRequest(nodeId, List.of("svc", "extra"), "", ""));
      DiscoveryResponse first = stream.next(RESPONSE_TIMEOUT);
      assertThat(first.getTypeUrl()).isEqualTo(LISTENER);
      assertThat(first.getVersionInfo()).isEqualTo(resourceVersion("Listener"));
      assertThat(names(first)).as("'extra' does not exist yet").containsExactly("svc");

      // ACK: the version and nonce of the response, no error.
      stream.send(listenerRequest(nodeId, List.of("svc", "extra"), first.getVersionInfo(), first.getNonce()));
      Await.until("/clients to show the ACK", ADMIN_TIMEOUT, () -> {
        JsonNode listener = clientResources(nodeId).path("Listener");
        return listener.path("ackedVersion").asText().equals(first.getVersionInfo())
            && listener.path("sentVersion").asText().equals(first.getVersionInfo());
      });
      assertThat(clientResources(nodeId).path("Listener").path("lastNack").isNull()).isTrue();
      assertThat(client(nodeId).path("protocol").asText()).isEqualTo("sotw");
      assertThat(client(nodeId).path("cluster").asText()).isEqualTo("raw-ads-test");
      assertThat(clientResources(nodeId).path("Listener").path("subscribed"))
          .extracting(JsonNode::asText).containsExactly("svc", "extra");
      long nacksBefore = nacksTotal();

      // An edit that adds the listener 'extra', which the stream asked for, is pushed on it.
      mesh.write(meshYaml("round_robin", true));
      DiscoveryResponse second = stream.next(RESPONSE_TIMEOUT);
      assertThat(second.getTypeUrl()).isEqualTo(LISTENER);
      assertThat(second.getVersionInfo()).isNotEqualTo(first.getVersionInfo());
      awaitServed("Listener", second.getVersionInfo());
      assertThat(names(second)).containsExactlyInAnyOrder("svc", "extra");

      // NACK it: as the spec says, version_info stays the last accepted one; the nonce names
      // the refused response.
      String reason = "field x not supported";
      stream.send(listenerRequest(nodeId, List.of("svc", "extra"), first.getVersionInfo(), second.getNonce()).toBuilder()
          .setErrorDetail(Status.newBuilder().setCode(io.grpc.Status.Code.INVALID_ARGUMENT.value())
              .setMessage(reason))
          .build());
      Await.until("/clients to show the NACK", ADMIN_TIMEOUT,
          () -> clientResources(nodeId).path("Listener").path("lastNack").isObject());
      JsonNode listener = clientResources(nodeId).path("Listener");
      assertThat(listener.path("lastNack").path("version").asText())
          .as("the NACKed version is the refused response's, not the version_info the NACK carries")
          .isEqualTo(second.getVersionInfo());
      assertThat(listener.path("lastNack").path("message").asText()).isEqualTo(reason);
      assertThat(listener.path("ackedVersion").asText())
          .as("a NACK leaves the last ACKed version as it was")
          .isEqualTo(first.getVersionInfo());
      assertThat(nacksTotal()).isGreaterThanOrEqualTo(1).isEqualTo(nacksBefore + 1);
      // The server waits for a new version instead of resending the one just refused (a client
      // that answers every resend with a NACK would otherwise loop with it).
      assertThat(stream.poll(Duration.ofSeconds(1))).as("a response resending the NACKed version").isNull();
    }
  }

  // --- (b) delta: subscribe by name, get the resources, get pushed an edit ---------------------

  @Test
  void deltaSubscriptionGetsTheClustersAndIsPushedOnlyWhatAnEditChanged() throws Exception {
    String nodeId = "delta-clusters";
    try (var stream = ads.delta()) {
      stream.send(DeltaDiscoveryRequest.newBuilder()
          .setNode(node(nodeId))
          .setTypeUrl(CLUSTER)
          .addResourceNamesSubscribe("svc")
          .addResourceNamesSubscribe("svc/v1")
          .build());
      DeltaDiscoveryResponse first = stream.next(RESPONSE_TIMEOUT);
      String clusterVersion = resourceVersion("Cluster");
      assertThat(first.getTypeUrl()).isEqualTo(CLUSTER);
      assertThat(first.getSystemVersionInfo()).isEqualTo(clusterVersion);
      assertThat(first.getRemovedResourcesList()).isEmpty();
      Map<String, Resource> before = byName(first);
      // A named subscription gets the named clusters only (java-control-plane, which served ADS
      // before, treated every delta CDS subscription as a wildcard one).
      assertThat(before).containsOnlyKeys("svc", "svc/v1");
      for (Map.Entry<String, Resource> e : before.entrySet()) {
        assertThat(e.getValue().getVersion()).as("version of %s", e.getKey()).isNotEmpty();
        Cluster cluster = e.getValue().getResource().unpack(Cluster.class);
        assertThat(cluster.getName()).isEqualTo(e.getKey());
        assertThat(cluster.getLoadBalancingPolicy().getPolicies(0).getTypedExtensionConfig().getName())
            .isEqualTo("envoy.load_balancing_policies.round_robin");
      }

      // ACK, then /clients shows the delta stream with what it subscribed to and ACKed.
      stream.send(deltaAck(CLUSTER, first));
      Await.until("/clients to show the delta ACK", ADMIN_TIMEOUT,
          () -> clientResources(nodeId).path("Cluster").path("ackedVersion").asText().equals(clusterVersion));
      assertThat(client(nodeId).path("protocol").asText()).isEqualTo("delta");
      assertThat(clientResources(nodeId).path("Cluster").path("subscribed"))
          .extracting(JsonNode::asText).containsExactly("svc", "svc/v1");

      // Endpoint assignments are not wildcard: only the one named comes.
      stream.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ENDPOINTS)
          .addResourceNamesSubscribe("svc/v1").build());
      DeltaDiscoveryResponse endpoints = stream.next(RESPONSE_TIMEOUT);
      assertThat(endpoints.getTypeUrl()).isEqualTo(ENDPOINTS);
      assertThat(endpoints.getSystemVersionInfo()).isEqualTo(resourceVersion("ClusterLoadAssignment"));
      assertThat(byName(endpoints)).containsOnlyKeys("svc/v1");
      stream.send(deltaAck(ENDPOINTS, endpoints));

      // An edit of the clusters of svc is pushed on the same stream: the changed clusters with
      // new versions, and nothing of what did not change (cluster 'other', every endpoint).
      mesh.write(meshYaml("least_request", false));
      DeltaDiscoveryResponse pushed = stream.next(RESPONSE_TIMEOUT);
      String editedVersion = pushed.getSystemVersionInfo();
      assertThat(pushed.getTypeUrl()).isEqualTo(CLUSTER);
      assertThat(editedVersion).isNotEqualTo(clusterVersion);
      awaitServed("Cluster", editedVersion);
      assertThat(pushed.getRemovedResourcesList()).isEmpty();
      Map<String, Resource> after = byName(pushed);
      assertThat(after).containsOnlyKeys("svc", "svc/v1");
      for (Map.Entry<String, Resource> e : after.entrySet()) {
        assertThat(e.getValue().getVersion()).as("version of %s", e.getKey())
            .isNotEmpty().isNotEqualTo(before.get(e.getKey()).getVersion());
        assertThat(e.getValue().getResource().unpack(Cluster.class).getLoadBalancingPolicy().getPolicies(0)
            .getTypedExtensionConfig().getName()).isEqualTo("envoy.load_balancing_policies.least_request");
      }
      stream.send(deltaAck(CLUSTER, pushed));
      Await.until("/clients to show the ACK of the push", ADMIN_TIMEOUT,
          () -> clientResources(nodeId).path("Cluster").path("ackedVersion").asText().equals(editedVersion));
      assertThat(clientResources(nodeId).path("ClusterLoadAssignment").path("ackedVersion").asText())
          .isEqualTo(resourceVersion("ClusterLoadAssignment"));
    }
  }

  // --- (c) any node id gets the mesh-wide view --------------------------------------------------

  @Test
  void anyNodeIdGetsTheSameMeshWideListeners() throws Exception {
    List<DiscoveryResponse> responses = new ArrayList<>();
    for (String nodeId : List.of("checkout-7f9c", "sidecar~10.0.0.7~payments-0.prod~prod.svc.cluster.local")) {
      try (var stream = ads.sotw()) {
        stream.send(listenerRequest(nodeId, List.of(), "", ""));
        responses.add(stream.next(RESPONSE_TIMEOUT));
      }
    }
    DiscoveryResponse one = responses.get(0);
    DiscoveryResponse two = responses.get(1);
    assertThat(one.getVersionInfo()).isEqualTo(resourceVersion("Listener"));
    assertThat(two.getVersionInfo()).isEqualTo(one.getVersionInfo());
    // Client listeners; the gRPC services' server listeners (grpc/server?...) come along in a wildcard request.
    assertThat(names(one)).filteredOn(n -> !n.startsWith("grpc/server?")).containsExactlyInAnyOrder("svc", "other");
    assertThat(listeners(two)).isEqualTo(listeners(one));
    assertThat(two.getResourcesList()).as("byte for byte").isEqualTo(one.getResourcesList());
  }

  // --- (d) a client that reconnects up to date sees no churn ------------------------------------

  @Test
  void reconnectingWithTheCurrentVersionCausesNoChurn() {
    String nodeId = "reconnecting";
    String version;
    try (var stream = ads.sotw()) {
      stream.send(listenerRequest(nodeId, List.of(), "", ""));
      DiscoveryResponse first = stream.next(RESPONSE_TIMEOUT);
      version = first.getVersionInfo();
      stream.send(listenerRequest(nodeId, List.of(), version, first.getNonce()));
      Await.until("/clients to show the ACK", ADMIN_TIMEOUT,
          () -> clientResources(nodeId).path("Listener").path("ackedVersion").asText().equals(version));
    }
    Await.until("the first stream to be gone", ADMIN_TIMEOUT, () -> clientsNamed(nodeId).size() == 0);

    // A new stream (a reconnect, or a restarted server) that names the version it has: a
    // wildcard subscription is up to date, so nothing is sent.
    try (var stream = ads.sotw()) {
      stream.send(listenerRequest(nodeId, List.of(), version, ""));
      Await.until("/clients to show the reconnected stream", ADMIN_TIMEOUT,
          () -> clientResources(nodeId).path("Listener").path("ackedVersion").asText().equals(version));
      assertThat(stream.poll(Duration.ofSeconds(1))).as("a response to an up-to-date client").isNull();
    }

    // Naming resources on a new stream makes java-control-plane send them once more, which a
    // client must accept: but with the same version, so nothing changes for it.
    try (var stream = ads.sotw()) {
      stream.send(listenerRequest(nodeId, List.of("svc", "other"), version, ""));
      List<DiscoveryResponse> seen = new ArrayList<>();
      Duration quiet = Duration.ofSeconds(1);
      for (DiscoveryResponse r = stream.poll(quiet); r != null; r = stream.poll(quiet)) {
        seen.add(r);
        stream.send(listenerRequest(nodeId, List.of("svc", "other"), r.getVersionInfo(), r.getNonce()));
        assertThat(seen).as("responses to one up-to-date request").hasSizeLessThanOrEqualTo(1);
      }
      assertThat(seen).allSatisfy(r -> assertThat(r.getVersionInfo()).isEqualTo(version));
    }
  }

  // --- helpers -----------------------------------------------------------------------------------

  private static DiscoveryRequest listenerRequest(String nodeId, List<String> names, String version,
      String nonce) {
    return DiscoveryRequest.newBuilder()
        .setNode(node(nodeId))
        .setTypeUrl(LISTENER)
        .addAllResourceNames(names)
        .setVersionInfo(version)
        .setResponseNonce(nonce)
        .build();
  }

  /** An ACK on a delta stream: the nonce of the response, no error. */
  private static DeltaDiscoveryRequest deltaAck(String typeUrl, DeltaDiscoveryResponse response) {
    return DeltaDiscoveryRequest.newBuilder().setTypeUrl(typeUrl).setResponseNonce(response.getNonce()).build();
  }

  private static String resourceVersion(String type) {
    return admin.json("/config").path("resourceVersions").path(type).asText();
  }

  /**
   * Waits for /config to show a version a client was just pushed: the cache pushes a new
   * snapshot a moment before /config shows it.
   */
  private static void awaitServed(String type, String version) {
    Await.until("/config to show " + type + " version " + version, ADMIN_TIMEOUT,
        () -> resourceVersion(type).equals(version));
  }

  private static List<String> names(DiscoveryResponse response) {
    return listeners(response).stream().map(Listener::getName).toList();
  }

  private static List<Listener> listeners(DiscoveryResponse response) {
    List<Listener> out = new ArrayList<>();
    for (var any : response.getResourcesList()) {
      try {
        out.add(any.unpack(Listener.class));
      } catch (InvalidProtocolBufferException e) {
        throw new AssertionError("not a Listener: " + any.getTypeUrl(), e);
      }
    }
    return out;
  }

  private static Map<String, Resource> byName(DeltaDiscoveryResponse response) {
    Map<String, Resource> out = new TreeMap<>();
    for (Resource r : response.getResourcesList()) {
      assertThat(out.put(r.getName(), r)).as("resource %s sent twice", r.getName()).isNull();
    }
    return out;
  }

  private static List<JsonNode> clientsNamed(String nodeId) {
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode c : admin.json("/clients").path("clients")) {
      if (c.path("nodeId").asText().equals(nodeId)) {
        out.add(c);
      }
    }
    return out;
  }

  /** The newest stream of a node on /clients; a missing node reads as an empty object. */
  private static JsonNode client(String nodeId) {
    List<JsonNode> named = clientsNamed(nodeId);
    return named.isEmpty() ? MissingNode.getInstance() : named.get(named.size() - 1);
  }

  private static JsonNode clientResources(String nodeId) {
    return client(nodeId).path("resources");
  }

  private static long nacksTotal() {
    for (String line : admin.get("/metrics").body().split("\n")) {
      if (line.startsWith("meshlet_xds_nacks_total ")) {
        return (long) Double.parseDouble(line.substring(line.indexOf(' ') + 1).trim());
      }
    }
    throw new AssertionError("no meshlet_xds_nacks_total on /metrics");
  }
}
