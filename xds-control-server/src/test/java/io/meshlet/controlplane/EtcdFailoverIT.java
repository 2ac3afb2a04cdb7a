package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.EtcdCluster;
import io.meshlet.controlplane.testing.FaultReport;
import io.meshlet.controlplane.testing.IntentAdmin;
import io.meshlet.transport.MeshRoute;
import io.meshlet.transport.ResponseInfo;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failures under traffic, over a real three-member etcd cluster and two replicas: a bad config
 * pushed through the admin API, one etcd member killed, all of etcd stopped and started again, and
 * a replica killed while its clients call through the mesh. The upstream is not written in the intent: it registers itself, so every
 * call also depends on the registration surviving. No call may fail.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EtcdFailoverIT {

  private static final Duration LEASE_TTL = Duration.ofSeconds(3);
  private static final String INTENT = """
      services:
        catalog:
          protocol: http
          routes:
            - match: { pathPrefix: / }
              to: [ { weight: 100 } ]
              retries: { attempts: 3, on: [5xx, reset, connect-failure] }
      """;

  @TempDir static Path dir;
  static EtcdCluster etcd;
  static ControlServer a;
  static ControlServer b;
  static HttpServer upstream;
  static MeshClient catalog;
  static MeshClient frontend;
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  Traffic traffic;

  @BeforeAll
  static void start() throws Exception {
    etcd = EtcdCluster.start();
    Path file = Files.writeString(dir.resolve("mesh.yaml"), INTENT);
    // serve --config seeds etcd when it holds no intent yet.
    a = ControlServer.builder().xdsPlaintext(true).allowPlaintextRegistration(true).etcd(etcd.endpointList()).caKeyEncryptionKeyFile(etcd.caKeyEncryptionKey()).configFile(file).xdsPort(0).adminPort(0)
        .leaseTtl(LEASE_TTL).build().start();
    b = ControlServer.builder().xdsPlaintext(true).allowPlaintextRegistration(true).etcd(etcd.endpointList()).caKeyEncryptionKeyFile(etcd.caKeyEncryptionKey()).xdsPort(0).adminPort(0).leaseTtl(LEASE_TTL)
        .build().start();
    upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    upstream.createContext("/", ex -> {
      byte[] body = "catalog".getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(200, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    upstream.start();
    List<String> servers = List.of("127.0.0.1:" + a.xdsPort(), "127.0.0.1:" + b.xdsPort());
    catalog = MeshClient.builder().xdsPlaintext().serviceName("catalog").nodeId("catalog-1").controlServers(servers)
        .instance("127.0.0.1:" + upstream.getAddress().getPort(), Map.of("version", "v1"))
        .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500)).build().start();
    frontend = MeshClient.builder().xdsPlaintext().serviceName("frontend").nodeId("frontend-1").controlServers(servers)
        .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500)).build().start();
    Await.until("the frontend to see the registered catalog instance", Duration.ofSeconds(15), () -> {
      try {
        return call().equals("catalog");
      } catch (IOException | RuntimeException e) {
        return false;
      }
    });
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(frontend, catalog, a, b, etcd);
    if (upstream != null) {
      upstream.stop(0);
    }
  }

  @BeforeEach
  void startTraffic() {
    traffic = new Traffic();
    traffic.start();
  }

  @AfterEach
  void stopTraffic() throws Exception {
    traffic.stop();
  }

  @Test
  @Order(0)
  void aBadConfigPushedThroughTheAdminApiChangesNothingThenAGoodOneReachesEveryone() throws Exception {
    IntentAdmin admin = new IntentAdmin(a.adminPort());
    IntentAdmin.Intent before = admin.read();
    String version = a.version().orElseThrow();
    String clientVersion = frontend.snapshot().version();
    Thread.sleep(1000);
    HttpResponse<String> bad = admin.write("services:\n  catalog: { routes: [ { to: [ { subset: nope } ] } ] }\n",
        before.etag());
    assertThat(bad.statusCode()).as(bad.body()).isEqualTo(400);
    assertThat(bad.body()).contains("subset");
    Thread.sleep(1000);
    assertThat(admin.read()).as("the intent in etcd").isEqualTo(before);
    assertThat(a.version()).contains(version);
    assertThat(b.version()).contains(version);
    assertThat(frontend.snapshot().version()).isEqualTo(clientVersion);

    HttpResponse<String> good = admin.write(before.text() + "  after-admin-push: {}\n", before.etag());
    assertThat(good.statusCode()).as(good.body()).isEqualTo(200);
    Duration applied = Await.until("the frontend, a client of both replicas, to see the good config",
        Duration.ofSeconds(5), () -> frontend.snapshot().services().containsKey("after-admin-push"));
    Await.until("replica B to serve it", Duration.ofSeconds(5),
        () -> b.config().orElseThrow().services().containsKey("after-admin-push"));
    Thread.sleep(500);
    traffic.report("bad config PUT through the admin API, then a good one",
        "the good config reached the client " + applied.toMillis() + " ms after the PUT");
    traffic.assertNoFailures(50);
  }

  @Test
  @Order(1)
  void oneEtcdMemberKilledHasNoEffect() throws Exception {
    etcd.kill(0);
    try {
      // Edits keep flowing through the two members left, and calls keep succeeding.
      editThrough(a, "after-member-kill");
      Await.until("replica B to serve the edit made through A", Duration.ofSeconds(5),
          () -> b.config().orElseThrow().services().containsKey("after-member-kill"));
      Await.until("the frontend to see the edit", Duration.ofSeconds(5),
          () -> frontend.snapshot().services().containsKey("after-member-kill"));
      Thread.sleep(LEASE_TTL.toMillis() * 2); // longer than the lease: it must have been renewed
      assertThat(metric(a, "meshlet_etcd_connected")).isEqualTo(1);
      assertThat(metric(b, "meshlet_etcd_connected")).isEqualTo(1);
      traffic.report("one etcd member of three killed", "edits kept flowing; leases renewed");
      traffic.assertNoFailures(50);
    } finally {
      etcd.restart(0);
      etcd.awaitHealthy(Duration.ofSeconds(20));
    }
  }

  @Test
  @Order(2)
  void allOfEtcdStoppedLeavesReplicasAndClientsServingTheLastConfig() throws Exception {
    String version = a.version().orElseThrow();
    etcd.killAll();
    for (ControlServer r : List.of(a, b)) {
      AdminClient admin = new AdminClient(r.adminPort());
      Await.until("replica " + r.adminPort() + " to report etcd unreachable", Duration.ofSeconds(10),
          () -> admin.json("/healthz").path("etcd").asText().startsWith("unreachable since "));
      assertThat(admin.get("/healthz").statusCode()).isEqualTo(200);
      assertThat(metric(r, "meshlet_etcd_connected")).isEqualTo(0);
    }
    // Longer than the lease TTL: the registered instance must still be served.
    Thread.sleep(LEASE_TTL.toMillis() * 2);
    assertThat(a.version()).contains(version);
    assertThat(b.version()).contains(version);
    HttpResponse<String> put = new IntentAdmin(a.adminPort()).write(INTENT, "*");
    assertThat(put.statusCode()).as(put.body()).isEqualTo(503);
    traffic.assertNoFailures(50);

    etcd.restartAll();
    for (ControlServer r : List.of(a, b)) {
      Await.until("replica " + r.adminPort() + " to reconnect", Duration.ofSeconds(15),
          () -> metric(r, "meshlet_etcd_connected") == 1);
    }
    // Caught up: an edit through B reaches A and the clients, and the registration is back in etcd.
    editThrough(b, "after-etcd-returned");
    Await.until("replica A to serve the edit made through B", Duration.ofSeconds(5),
        () -> a.config().orElseThrow().services().containsKey("after-etcd-returned"));
    Await.until("the frontend to see it", Duration.ofSeconds(5),
        () -> frontend.snapshot().services().containsKey("after-etcd-returned"));
    Thread.sleep(LEASE_TTL.toMillis() * 2);
    traffic.report("all of etcd stopped, then restarted", "replicas served the last config; caught up on return");
    traffic.assertNoFailures(100);
    assertThat(new AdminClient(b.adminPort()).json("/config").path("registered").size()).isEqualTo(1);
  }

  @Test
  @Order(3)
  void aReplicaKilledUnderTrafficFailsNoRequestWhileItsClientsMove() throws Exception {
    assertThat(new AdminClient(a.adminPort()).get("/clients").body()).contains("frontend-1", "catalog-1");
    String version = a.version().orElseThrow();

    a.close();
    AdminClient adminB = new AdminClient(b.adminPort());
    Await.until("both clients to move to replica B", Duration.ofSeconds(10),
        () -> adminB.get("/clients").body().contains("frontend-1")
            && adminB.get("/clients").body().contains("catalog-1"));
    // Longer than A's lease: the instance A held lives on under B's lease.
    Thread.sleep(LEASE_TTL.toMillis() * 2);
    assertThat(b.version()).contains(version);
    assertThat(adminB.json("/config").path("registered").size()).isEqualTo(1);

    editThrough(b, "after-replica-kill");
    Await.until("the frontend to follow B", Duration.ofSeconds(5),
        () -> frontend.snapshot().services().containsKey("after-replica-kill"));
    traffic.report("one replica of two killed", "clients moved to the other replica");
    traffic.assertNoFailures(100);
  }

  private static void editThrough(ControlServer replica, String service) {
    IntentAdmin admin = new IntentAdmin(replica.adminPort());
    IntentAdmin.Intent now = admin.read();
    HttpResponse<String> r = admin.write(now.text() + "  " + service + ": {}\n", now.etag());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  private static long metric(ControlServer server, String name) {
    for (String line : new AdminClient(server.adminPort()).get("/metrics").body().split("\n")) {
      if (line.startsWith(name + " ")) {
        return (long) Double.parseDouble(line.substring(name.length() + 1).trim());
      }
    }
    return -1;
  }

  /** One call to {@code http://catalog/} through the frontend's mesh client. */
  static String call() throws IOException {
    MeshRoute route = frontend.calls().route("catalog", "/", h -> null);
    HttpResponse<String> r = frontend.calls().execute(route, null, true, t -> {
      try {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + t.endpoint().host() + ":"
            + t.endpoint().port() + "/")).timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException();
      }
    }, new ResponseInfo<HttpResponse<String>>() {
      @Override
      public int status(HttpResponse<String> response) {
        return response.statusCode();
      }

      @Override
      public void discard(HttpResponse<String> response) {}
    });
    if (r.statusCode() != 200) {
      throw new IOException("status " + r.statusCode());
    }
    return r.body();
  }

  /** Calls without pause on a thread of its own, counting what succeeds and what fails. */
  static final class Traffic {
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicInteger ok = new AtomicInteger();
    private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    private final Thread thread = new Thread(this::run, "traffic");

    void start() {
      thread.start();
    }

    private void run() {
      while (running.get()) {
        try {
          call();
          ok.incrementAndGet();
        } catch (IOException | RuntimeException e) {
          failures.add(e.toString());
        }
        try {
          Thread.sleep(5);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    void report(String fault, String recovery) {
      FaultReport.record(fault, recovery, failures.peek(),
          new FaultReport.Counts("HTTP", ok.get() + failures.size(), failures.size()));
    }

    void assertNoFailures(int atLeast) {
      assertThat(failures).as("failed calls").isEmpty();
      assertThat(ok.get()).as("successful calls").isGreaterThanOrEqualTo(atLeast);
    }

    void stop() throws InterruptedException {
      running.set(false);
      thread.join(5000);
      System.out.println("traffic: " + ok.get() + " calls ok, " + failures.size() + " failed");
    }
  }
}
