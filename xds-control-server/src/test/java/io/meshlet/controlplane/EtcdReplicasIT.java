package io.meshlet.controlplane;

import static io.meshlet.controlplane.testing.RawAdsClient.CLUSTER;
import static io.meshlet.controlplane.testing.RawAdsClient.ENDPOINTS;
import static io.meshlet.controlplane.testing.RawAdsClient.LISTENER;
import static io.meshlet.controlplane.testing.RawAdsClient.ROUTE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.EtcdCluster;
import io.meshlet.controlplane.testing.IntentAdmin;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.RawAdsClient;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stateless replicas over a real three-member etcd cluster: they serve byte-identical resources
 * with identical versions, an edit through one reaches the clients of the other, concurrent admin
 * writes lose no update, bad input changes nothing, and a registration whose replica is gone
 * vanishes when its lease expires (unless its workload reconnected elsewhere first).
 */
class EtcdReplicasIT {

  private static final Duration RESPONSE_TIMEOUT = Duration.ofSeconds(5);
  static final String INTENT = MeshFile.CANARY;

  @TempDir static Path dir;
  static EtcdCluster etcd;
  static ControlServer a;
  static ControlServer b;

  @BeforeAll
  static void start() throws Exception {
    etcd = EtcdCluster.start();
    Path file = Files.writeString(dir.resolve("mesh.yaml"), INTENT);
    assertThat(main("import", file.toString(), "--etcd", etcd.endpoints())).isEqualTo(Main.OK);
    a = replica(Duration.ofSeconds(15));
    b = replica(Duration.ofSeconds(15));
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(a, b, etcd);
  }

  static ControlServer replica(Duration leaseTtl) throws Exception {
    return ControlServer.builder().xdsPlaintext(true).allowPlaintextRegistration(true).etcd(etcd.endpointList()).caKeyEncryptionKeyFile(etcd.caKeyEncryptionKey()).xdsPort(0).adminPort(0).leaseTtl(leaseTtl)
        .build().start();
  }

  static int main(String... args) {
    return Main.run(args, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
  }

  @Test
  void twoReplicasServeByteIdenticalResourcesAndVersions() {
    // One instance registers through each replica: both must serve both, in the same order.
    try (RawAdsClient toA = new RawAdsClient(a.xdsPort()); RawAdsClient toB = new RawAdsClient(b.xdsPort());
        var regA = toA.sotw(); var regB = toB.sotw()) {
      regA.send(request(LISTENER, registering("catalog-a", "127.0.0.1:9101", "v2"), List.of()));
      regB.send(request(LISTENER, registering("catalog-b", "127.0.0.1:9102", "v2"), List.of()));
      for (ControlServer r : List.of(a, b)) {
        Await.until("both registered instances served by " + r.adminPort(), Duration.ofSeconds(10),
            () -> new AdminClient(r.adminPort()).json("/config").path("registered").size() == 2);
      }
      Await.until("the same version on both replicas", Duration.ofSeconds(5),
          () -> a.version().equals(b.version()));

      List<DiscoveryResponse> fromA = everything(a);
      List<DiscoveryResponse> fromB = everything(b);
      for (int i = 0; i < fromA.size(); i++) {
        assertThat(fromB.get(i).getVersionInfo()).isEqualTo(fromA.get(i).getVersionInfo());
        assertThat(fromB.get(i).getResourcesList()).hasSameSizeAs(fromA.get(i).getResourcesList()).isNotEmpty();
        for (int j = 0; j < fromA.get(i).getResourcesCount(); j++) {
          assertThat(fromB.get(i).getResources(j).toByteArray())
              .isEqualTo(fromA.get(i).getResources(j).toByteArray());
        }
      }
      JsonNode configA = new AdminClient(a.adminPort()).json("/config");
      JsonNode configB = new AdminClient(b.adminPort()).json("/config");
      assertThat(configB.path("version")).isEqualTo(configA.path("version"));
      assertThat(configB.path("resourceVersions")).isEqualTo(configA.path("resourceVersions"));
      assertThat(configB.path("registered")).isEqualTo(configA.path("registered"));
    }
  }

  @Test
  void anEditThroughReplicaAReachesClientsOfReplicaBWithinASecond() throws Exception {
    try (RawAdsClient toB = new RawAdsClient(b.xdsPort()); var stream = toB.sotw()) {
      stream.send(request(CLUSTER, RawAdsClient.node("edit-watcher"), List.of()));
      DiscoveryResponse first = stream.next(RESPONSE_TIMEOUT);
      stream.send(ack(first, "edit-watcher"));

      IntentAdmin admin = new IntentAdmin(a.adminPort());
      IntentAdmin.Intent now = admin.read();
      long start = System.nanoTime();
      HttpResponse<String> put = admin.write(now.text() + "  edited-" + System.nanoTime() % 100000 + ": {}\n",
          now.etag());
      assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
      DiscoveryResponse next = stream.next(RESPONSE_TIMEOUT);
      Duration took = Duration.ofNanos(System.nanoTime() - start);

      assertThat(next.getVersionInfo()).isNotEqualTo(first.getVersionInfo());
      assertThat(next.getResourcesCount()).isGreaterThan(first.getResourcesCount());
      assertThat(took).as("from PUT on replica A to the push by replica B").isLessThan(Duration.ofSeconds(1));
    }
  }

  @Test
  void concurrentAdminWritesNeverLoseAnUpdate() throws Exception {
    int writers = 4;
    int each = 5;
    AtomicInteger conflicts = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(writers);
    try {
      List<Future<Void>> done = new ArrayList<>();
      for (int w = 0; w < writers; w++) {
        int writer = w;
        done.add(pool.submit((Callable<Void>) () -> {
          // Writers alternate between the replicas: both write to the same etcd key.
          IntentAdmin admin = new IntentAdmin((writer % 2 == 0 ? a : b).adminPort());
          for (int i = 0; i < each; i++) {
            while (true) {
              IntentAdmin.Intent now = admin.read();
              HttpResponse<String> r = admin.write(now.text() + "  w" + writer + "-" + i + ": {}\n", now.etag());
              if (r.statusCode() == 200) {
                break;
              }
              assertThat(r.statusCode()).as(r.body()).isEqualTo(409);
              conflicts.incrementAndGet();
            }
          }
          return null;
        }));
      }
      for (Future<Void> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }

    String stored = new IntentAdmin(a.adminPort()).read().text();
    for (int w = 0; w < writers; w++) {
      for (int i = 0; i < each; i++) {
        assertThat(stored).contains("  w" + w + "-" + i + ": {}\n");
      }
    }
    for (ControlServer r : List.of(a, b)) {
      Await.until("every written service served by " + r.adminPort(), Duration.ofSeconds(5),
          () -> r.config().orElseThrow().services().keySet().containsAll(List.of("w0-0", "w3-4", "w1-2")));
    }
    System.out.println("concurrent writers: " + writers * each + " updates, " + conflicts.get()
        + " conflicts retried");
  }

  @Test
  void badInputIsRefusedWholeAndChangesNothing() throws Exception {
    IntentAdmin admin = new IntentAdmin(a.adminPort());
    IntentAdmin.Intent before = admin.read();
    String version = a.version().orElseThrow();

    HttpResponse<String> put = admin.write("services:\n  payments:\n    protocol: soap\n"
        + "    outlierDetection: { maxEjectionPercent: 140 }\n", before.etag());
    assertThat(put.statusCode()).isEqualTo(400);
    assertThat(put.body())
        .contains("PUT /config:3: service 'payments': protocol: soap (expected: one of http, grpc)")
        .contains("PUT /config:4: service 'payments': outlierDetection.maxEjectionPercent: 140 (expected: 0..100)");

    assertThat(admin.write(before.text(), null).statusCode()).isEqualTo(428);
    assertThat(admin.write(before.text(), "\"1\"").statusCode()).isEqualTo(409);

    Path bad = Files.writeString(dir.resolve("bad.yaml"), "services:\n  payments:\n    protocol: soap\n");
    assertThat(main("import", bad.toString(), "--etcd", etcd.endpoints())).isEqualTo(Main.INVALID_CONFIG);

    assertThat(admin.read()).isEqualTo(before);
    assertThat(a.version()).contains(version);
    assertThat(b.version()).contains(version);

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code = Main.run(new String[] {"export", "--etcd", etcd.endpoints()},
        new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
    assertThat(code).isEqualTo(Main.OK);
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(before.text());
  }

  @Test
  void aRegistrationVanishesAfterItsLeaseExpiresUnlessItsWorkloadMovedFirst() throws Exception {
    ControlServer c = replica(Duration.ofSeconds(2));
    AdminClient adminA = new AdminClient(a.adminPort());
    try (RawAdsClient toC = new RawAdsClient(c.xdsPort()); RawAdsClient toA = new RawAdsClient(a.xdsPort());
        var stays = toC.sotw(); var moves = toC.sotw(); var moved = toA.sotw()) {
      stays.send(request(LISTENER, registering("lease-stays", "127.0.0.1:9201", "v1"), List.of()));
      moves.send(request(LISTENER, registering("lease-moves", "127.0.0.1:9202", "v1"), List.of()));
      Await.until("both instances registered through replica C served by A", Duration.ofSeconds(10),
          () -> registered(adminA).containsAll(List.of("127.0.0.1:9201", "127.0.0.1:9202")));
      // The second workload reconnects to replica A before C goes away.
      moved.send(request(LISTENER, registering("lease-moves", "127.0.0.1:9202", "v1"), List.of()));
      Await.until("A holds the moved instance", Duration.ofSeconds(5),
          () -> a.config().isPresent() && clientsOf(a).contains("lease-moves"));
      Thread.sleep(1500); // let A's write land before C stops renewing

      c.close(); // C stops renewing its lease, as if it died; it deletes nothing
      long closedAt = System.nanoTime();
      assertThat(registered(adminA)).contains("127.0.0.1:9201");

      Await.until("the instance whose replica is gone to vanish after the lease TTL", Duration.ofSeconds(10),
          () -> !registered(adminA).contains("127.0.0.1:9201"));
      Duration after = Duration.ofNanos(System.nanoTime() - closedAt);
      assertThat(after).isGreaterThan(Duration.ofMillis(500));
      assertThat(registered(adminA)).contains("127.0.0.1:9202");
      assertThat(registered(new AdminClient(b.adminPort()))).contains("127.0.0.1:9202")
          .doesNotContain("127.0.0.1:9201");
    } finally {
      c.close();
    }
  }

  private static List<String> registered(AdminClient admin) {
    List<String> out = new ArrayList<>();
    admin.json("/config").path("registered").forEach(n -> out.add(n.path("address").asText()));
    return out;
  }

  private static String clientsOf(ControlServer server) {
    return new AdminClient(server.adminPort()).get("/clients").body();
  }

  /** LDS and CDS (wildcard), then RDS and EDS for every name they name, from one replica. */
  private static List<DiscoveryResponse> everything(ControlServer server) {
    try (RawAdsClient client = new RawAdsClient(server.xdsPort()); var stream = client.sotw()) {
      Node node = RawAdsClient.node("compare-" + server.adminPort());
      List<DiscoveryResponse> out = new ArrayList<>();
      out.add(stream.send(request(LISTENER, node, List.of())).next(RESPONSE_TIMEOUT));
      DiscoveryResponse clusters = stream.send(request(CLUSTER, node, List.of())).next(RESPONSE_TIMEOUT);
      out.add(clusters);
      List<String> clusterNames = new ArrayList<>();
      for (var any : clusters.getResourcesList()) {
        try {
          clusterNames.add(any.unpack(Cluster.class).getName());
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          throw new AssertionError(e);
        }
      }
      out.add(stream.send(request(ROUTE, node, List.of("catalog"))).next(RESPONSE_TIMEOUT));
      out.add(stream.send(request(ENDPOINTS, node, clusterNames)).next(RESPONSE_TIMEOUT));
      return out;
    }
  }

  static DiscoveryRequest request(String type, Node node, List<String> names) {
    return DiscoveryRequest.newBuilder().setNode(node).setTypeUrl(type).addAllResourceNames(names).build();
  }

  static DiscoveryRequest ack(DiscoveryResponse r, String nodeId) {
    return DiscoveryRequest.newBuilder().setNode(RawAdsClient.node(nodeId)).setTypeUrl(r.getTypeUrl())
        .setVersionInfo(r.getVersionInfo()).setResponseNonce(r.getNonce()).build();
  }

  /** A node of service {@code catalog} that registers its own instance. */
  static Node registering(String id, String address, String version) {
    Struct instance = Struct.newBuilder()
        .putFields("address", Value.newBuilder().setStringValue(address).build())
        .putFields("labels", Value.newBuilder().setStructValue(Struct.newBuilder()
            .putFields("version", Value.newBuilder().setStringValue(version).build())).build())
        .putFields("protocol", Value.newBuilder().setStringValue("grpc").build())
        .build();
    return Node.newBuilder().setId(id).setCluster("catalog")
        .setMetadata(Struct.newBuilder().putFields("meshlet.instance",
            Value.newBuilder().setStructValue(instance).build()))
        .build();
  }
}
