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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * grpc-java's own xDS client rides out a restart of the control server: it keeps calling with
 * the last config while the server is down, reconnects to the new server on the same port and
 * follows an edit made in the meantime. Versions are content hashes, so a restarted server
 * given the same file reports the same versions and clients see no churn.
 */
class ControlServerRestartIT {

  private static final String NODE_ID = "restart-it-client";
  private static final List<String> TYPES =
      List.of("Listener", "RouteConfiguration", "Cluster", "ClusterLoadAssignment");

  @TempDir static Path dir;
  static EchoBackend a;
  static EchoBackend b;
  static MeshFile mesh;
  static ControlServer first;
  static ControlServer restarted;
  static JsonNode firstVersions;
  static String firstVersion;

  @BeforeAll
  static void start() throws Exception {
    a = new EchoBackend("a");
    b = new EchoBackend("b");
    mesh = new MeshFile(dir).write(meshYaml("a"));
    first = start(mesh.path(), 0);
    JsonNode config = new AdminClient(first.adminPort()).json("/config");
    firstVersions = config.path("resourceVersions");
    firstVersion = config.path("version").asText();
    XdsClients.bootstrap(first.xdsPort(), NODE_ID);
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(first, restarted, a, b);
  }

  private static ControlServer start(Path file, int xdsPort) throws Exception {
    return ControlServer.builder().xdsPlaintext(true).allowPlaintextRegistration(true).configFile(file).xdsPort(xdsPort).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).build().start();
  }

  /** One service over both backends; its only route goes to the named one. */
  static String meshYaml(String routeTo) {
    return """
        services:
          svc:
            protocol: grpc
            endpoints:
              - { address: %s, labels: { backend: a } }
              - { address: %s, labels: { backend: b } }
            subsets: { a: { backend: a }, b: { backend: b } }
            routes:
              - to: [ { subset: %s } ]
        """.formatted(a.address(), b.address(), routeTo);
  }

  @Test
  void aFreshServerGivenTheSameFileReportsTheSameVersions() throws Exception {
    Path twinDir = Files.createDirectories(dir.resolve("twin"));
    MeshFile twinMesh = new MeshFile(twinDir).write(meshYaml("a"));
    try (ControlServer twin = start(twinMesh.path(), 0)) {
      JsonNode config = new AdminClient(twin.adminPort()).json("/config");
      assertThat(config.path("version").asText()).isEqualTo(firstVersion);
      for (String type : TYPES) {
        assertThat(config.path("resourceVersions").path(type).asText()).as(type)
            .isNotEmpty().isEqualTo(firstVersions.path(type).asText());
      }
    }
  }

  @Test
  void clientKeepsCallingThroughARestartAndFollowsAnEditMadeWhileTheServerWasDown() throws Exception {
    ManagedChannel channel = XdsClients.channel("svc");
    Traffic traffic = new Traffic(channel, Duration.ofSeconds(90));
    try {
      assertThat(XdsClients.awaitFirstAnswer(channel, 10_000)).isEqualTo("a");
      AdminClient firstAdmin = new AdminClient(first.adminPort());
      Await.until("the client to ACK every type on the first server", Duration.ofSeconds(10),
          () -> ackedEverything(firstAdmin, firstVersions));
      traffic.start();
      Await.until("traffic to flow", Duration.ofSeconds(10), () -> traffic.ok() >= 20);

      // Stop the control server under traffic: the client keeps its last config.
      int xdsPort = first.xdsPort();
      first.close();
      first = null;
      int okAtStop = traffic.ok();
      long stoppedAt = System.nanoTime();
      Await.until("2 s of calls with the control server down", Duration.ofSeconds(10),
          () -> System.nanoTime() - stoppedAt >= TimeUnit.SECONDS.toNanos(2));
      assertThat(traffic.ok()).as("calls while the control server was down").isGreaterThan(okAtStop + 10);
      assertThat(traffic.failed())
          .as("failed calls while the control server was down: %s", traffic.firstFailure()).isZero();
      assertThat(traffic.answeredB()).as("calls answered by b before the edit").isZero();

      // Edit the file while the server is down, then start a new server on the same port.
      mesh.write(meshYaml("b"));
      restarted = start(mesh.path(), xdsPort);
      assertThat(restarted.xdsPort()).isEqualTo(xdsPort);
      Await.until("the client to follow the restarted server", Duration.ofSeconds(30),
          () -> traffic.consecutiveB() >= 20);

      // Only the route changed: every other type keeps its version across the restart.
      AdminClient admin = new AdminClient(restarted.adminPort());
      JsonNode versions = admin.json("/config").path("resourceVersions");
      assertThat(versions.path("RouteConfiguration").asText())
          .isNotEqualTo(firstVersions.path("RouteConfiguration").asText());
      for (String type : List.of("Listener", "Cluster", "ClusterLoadAssignment")) {
        assertThat(versions.path(type).asText()).as(type).isEqualTo(firstVersions.path(type).asText());
      }
      Await.until("the client to ACK every type on the restarted server", Duration.ofSeconds(10),
          () -> ackedEverything(admin, versions));
    } finally {
      traffic.stop();
      channel.shutdownNow();
    }
    assertThat(traffic.ok()).isPositive();
    assertThat(traffic.failed()).as("failed calls across the whole run: %s", traffic.firstFailure()).isZero();
  }

  private static boolean ackedEverything(AdminClient admin, JsonNode versions) {
    for (JsonNode client : admin.json("/clients").path("clients")) {
      if (client.path("nodeId").asText().equals(NODE_ID)) {
        JsonNode r = client.path("resources");
        return TYPES.stream().allMatch(type ->
            r.path(type).path("ackedVersion").asText().equals(versions.path(type).asText())
                && r.path(type).path("lastNack").isNull());
      }
    }
    return false;
  }

  /** Calls the service in a loop on its own thread until stopped or its time is up. */
  private static final class Traffic {
    private final ManagedChannel channel;
    private final long deadline;
    private final AtomicInteger ok = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final AtomicInteger answeredB = new AtomicInteger();
    private final AtomicInteger consecutiveB = new AtomicInteger();
    private final AtomicReference<Throwable> firstFailure = new AtomicReference<>();
    private final Thread thread;
    private volatile boolean running = true;

    Traffic(ManagedChannel channel, Duration maxRun) {
      this.channel = channel;
      this.deadline = System.nanoTime() + maxRun.toNanos();
      this.thread = new Thread(this::run, "restart-it-traffic");
      this.thread.setDaemon(true);
    }

    private void run() {
      while (running && System.nanoTime() < deadline) {
        try {
          String who = XdsClients.who(channel);
          ok.incrementAndGet();
          if (who.equals("b")) {
            answeredB.incrementAndGet();
            consecutiveB.incrementAndGet();
          } else {
            consecutiveB.set(0);
          }
        } catch (RuntimeException e) {
          failed.incrementAndGet();
          firstFailure.compareAndSet(null, e);
        }
      }
    }

    void start() {
      thread.start();
    }

    void stop() throws InterruptedException {
      running = false;
      thread.join(TimeUnit.SECONDS.toMillis(10));
    }

    int ok() {
      return ok.get();
    }

    int failed() {
      return failed.get();
    }

    Throwable firstFailure() {
      return firstFailure.get();
    }

    /** Calls answered by backend b. */
    int answeredB() {
      return answeredB.get();
    }

    /** Calls answered by backend b since the last one that was not. */
    int consecutiveB() {
      return consecutiveB.get();
    }
  }
}
