package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.grpc.ManagedChannel;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.XdsClients;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * grpc-java's own xDS client follows the routing that Meshlet's control server serves from
 * mesh.yaml: round robin, weighted splits, path and header routes, and edits of the file.
 */
class GrpcRoutingIT {

  private static final String NODE_ID = "routing-it-client";

  @TempDir static Path dir;
  static EchoBackend a;
  static EchoBackend b;
  static EchoBackend c;
  static MeshFile mesh;
  static ControlServer server;
  static AdminClient admin;

  @BeforeAll
  static void start() throws Exception {
    a = new EchoBackend("a");
    b = new EchoBackend("b");
    c = new EchoBackend("c");
    mesh = new MeshFile(dir).write(meshYaml(80, 20));
    server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).build().start();
    admin = new AdminClient(server.adminPort());
    XdsClients.bootstrap(server.xdsPort(), NODE_ID);
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(server, a, b, c);
  }

  static String meshYaml(int v1Weight, int v2Weight) {
    return """
        services:
          rr:
            protocol: grpc
            endpoints: [ { address: %1$s }, { address: %2$s }, { address: %3$s } ]
          split:
            protocol: grpc
            endpoints:
              - { address: %1$s, labels: { version: v1 } }
              - { address: %3$s, labels: { version: v2 } }
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            routes:
              - to: [ { subset: v1, weight: 80 }, { subset: v2, weight: 20 } ]
          edited:
            protocol: grpc
            endpoints:
              - { address: %1$s, labels: { version: v1 } }
              - { address: %3$s, labels: { version: v2 } }
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            routes:
              - to: [ { subset: v1, weight: %4$d }, { subset: v2, weight: %5$d } ]
          routed:
            protocol: grpc
            endpoints:
              - { address: %1$s, labels: { version: v1 } }
              - { address: %2$s, labels: { version: v1 } }
              - { address: %3$s, labels: { version: v2 } }
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            routes:
              - match: { headers: { x-canary: "true" } }
                to: [ { subset: v2 } ]
              - match: { path: /meshlet.test.Echo/Other }
                to: [ { subset: v2 } ]
              - match: { pathPrefix: / }
                to: [ { subset: v1 } ]
        """.formatted(a.address(), b.address(), c.address(), v1Weight, v2Weight);
  }

  private static Map<String, Integer> count(ManagedChannel channel, int calls) {
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < calls; i++) {
      seen.merge(XdsClients.who(channel), 1, Integer::sum);
    }
    return seen;
  }

  @Test
  void roundRobinSpreadsCallsEvenlyOverThreeBackends() {
    ManagedChannel channel = XdsClients.channel("rr");
    try {
      XdsClients.awaitFirstAnswer(channel, 10_000);
      // Wait until all three subchannels are connected, then round robin is exact.
      Await.until("all three backends answering", Duration.ofSeconds(10),
          () -> count(channel, 6).size() == 3);
      Map<String, Integer> seen = count(channel, 300);
      assertThat(seen).containsOnlyKeys("a", "b", "c");
      assertThat(seen.values()).allSatisfy(n -> assertThat(n).isBetween(95, 105));
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void weightedSplitFollowsTheWeightsWithinStatisticalTolerance() {
    ManagedChannel channel = XdsClients.channel("split");
    try {
      XdsClients.awaitFirstAnswer(channel, 10_000);
      Map<String, Integer> seen = count(channel, 1000);
      // 20% of 1000: mean 200, sd ~12.6; 150..250 is ~4 sd either side.
      assertThat(seen.getOrDefault("c", 0)).isBetween(150, 250);
      assertThat(seen.getOrDefault("a", 0) + seen.getOrDefault("c", 0)).isEqualTo(1000);
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void routesByHeaderAndByPathToSubsets() {
    ManagedChannel channel = XdsClients.channel("routed");
    try {
      XdsClients.awaitFirstAnswer(channel, 10_000);
      for (int i = 0; i < 20; i++) {
        assertThat(XdsClients.who(channel)).isIn("a", "b");
        assertThat(XdsClients.call(channel, EchoBackend.WHO, XdsClients.header("x-canary", "true"), 5000))
            .isEqualTo("c");
        assertThat(XdsClients.call(channel, EchoBackend.WHO, XdsClients.header("x-canary", "false"), 5000))
            .isIn("a", "b");
        assertThat(XdsClients.call(channel, EchoBackend.OTHER, null, 5000)).isEqualTo("c");
      }
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void clientFollowsAnEditAndKeepsServingThroughABadOne() throws Exception {
    ManagedChannel channel = XdsClients.channel("edited");
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    Thread traffic = new Thread(() -> {
      while (running.get()) {
        try {
          XdsClients.who(channel);
          ok.incrementAndGet();
        } catch (RuntimeException e) {
          failed.incrementAndGet();
        }
      }
    });
    try {
      XdsClients.awaitFirstAnswer(channel, 10_000);
      traffic.start();
      String before = admin.version();

      // A good edit: everything to v2.
      mesh.write(meshYaml(0, 100));
      Await.until("the edit to reach the client", Duration.ofSeconds(10),
          () -> count(channel, 20).keySet().equals(java.util.Set.of("c")));
      String after = admin.version();
      assertThat(after).isNotEqualTo(before);

      // A bad edit: refused with its errors, the last good version keeps being served.
      mesh.write(meshYaml(0, 100).replace("subset: v2, weight: 100", "subset: v9, weight: 100"));
      Await.until("the bad edit to be refused", Duration.ofSeconds(10),
          () -> !admin.json("/config").path("lastRefused").isNull());
      JsonNode config = admin.json("/config");
      assertThat(config.path("version").asText()).isEqualTo(after);
      assertThat(config.path("lastRefused").path("errors").get(0).asText())
          .isEqualTo("mesh.yaml:20: service 'edited': routes[0].to[1].subset: v9 "
              + "(expected: a subset defined under subsets: v1, v2)");
      assertThat(count(channel, 50)).containsOnlyKeys("c");
      assertThat(admin.get("/metrics").body()).contains("meshlet_config_refusals_total 1");

      // And back to the original split.
      mesh.write(meshYaml(80, 20));
      Await.until("the original split to return", Duration.ofSeconds(10),
          () -> admin.version().equals(before));
    } finally {
      running.set(false);
      traffic.join(TimeUnit.SECONDS.toMillis(10));
      channel.shutdownNow();
    }
    assertThat(ok.get()).isPositive();
    assertThat(failed.get()).as("calls failed during the edits").isZero();
  }

  /**
   * A canary forward to v2 and rolled back to v1, a subset the client used a minute before: the
   * client drops the v1 cluster, then asks for it again at an unchanged cluster version. A server
   * that counts it as still known never sends it (java-control-plane#339) and every call fails
   * after grpc-java's 15 s does-not-exist timer.
   */
  @Test
  void canaryRolledBackToASubsetUsedBeforeServesEveryCallFromIt() throws Exception {
    ManagedChannel channel = XdsClients.channel("edited");
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicInteger failed = new AtomicInteger();
    java.util.concurrent.atomic.AtomicReference<String> lastFailure = new java.util.concurrent.atomic.AtomicReference<>();
    Thread traffic = new Thread(() -> {
      while (running.get()) {
        try {
          XdsClients.who(channel);
        } catch (RuntimeException e) {
          failed.incrementAndGet();
          lastFailure.set(e.toString());
        }
      }
    });
    String base = admin.version();
    try {
      mesh.write(meshYaml(100, 0));
      XdsClients.awaitFirstAnswer(channel, 10_000);
      Await.until("every call on v1", Duration.ofSeconds(10), () -> count(channel, 20).keySet().equals(java.util.Set.of("a")));
      traffic.start();
      mesh.write(meshYaml(0, 100));
      Await.until("the canary to take every call", Duration.ofSeconds(10),
          () -> count(channel, 20).keySet().equals(java.util.Set.of("c")));
      mesh.write(meshYaml(100, 0));
      Await.until("the rollback to take every call", Duration.ofSeconds(10),
          () -> count(channel, 20).keySet().equals(java.util.Set.of("a")));
      assertThat(count(channel, 50)).containsOnlyKeys("a");
    } finally {
      running.set(false);
      traffic.join(TimeUnit.SECONDS.toMillis(10));
      channel.shutdownNow();
      mesh.write(meshYaml(80, 20));
      Await.until("the original split to return", Duration.ofSeconds(10), () -> admin.version().equals(base));
    }
    assertThat(failed.get()).as("calls failed during the canary and its rollback (last: %s)", lastFailure.get())
        .isZero();
  }

  @Test
  void clientsEndpointShowsTheVersionEachTypeWasAckedAt() {
    ManagedChannel channel = XdsClients.channel("rr");
    try {
      XdsClients.awaitFirstAnswer(channel, 10_000);
      JsonNode versions = admin.json("/config").path("resourceVersions");
      Await.until("/clients to show the ACKs", Duration.ofSeconds(5), () -> {
        for (JsonNode client : admin.json("/clients").path("clients")) {
          if (client.path("nodeId").asText().equals(NODE_ID)) {
            JsonNode r = client.path("resources");
            return r.path("Listener").path("ackedVersion").asText().equals(versions.path("Listener").asText())
                && r.path("RouteConfiguration").path("ackedVersion").asText()
                    .equals(versions.path("RouteConfiguration").asText())
                && r.path("Cluster").path("ackedVersion").asText().equals(versions.path("Cluster").asText())
                && r.path("ClusterLoadAssignment").path("ackedVersion").asText()
                    .equals(versions.path("ClusterLoadAssignment").asText())
                && r.path("Listener").path("lastNack").isNull();
          }
        }
        return false;
      });
    } finally {
      channel.shutdownNow();
    }
  }
}
