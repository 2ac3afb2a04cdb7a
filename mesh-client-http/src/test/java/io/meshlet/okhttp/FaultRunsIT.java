package io.meshlet.okhttp;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.grpc.ManagedChannel;
import io.meshlet.MeshClient;
import io.meshlet.MeshListener;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.FaultReport;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.XdsClients;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault runs: steady HTTP traffic (Meshlet's OkHttp client) and gRPC traffic (grpc-java's own xDS
 * client) to three instances of each, while one fault is injected: the control server killed and
 * restarted, a bad config then a good one, the control server's network path cut, one instance of
 * three made slow, one instance of three killed. Each run prints requests sent, failed and the
 * recovery time through {@link FaultReport}. {@code -Dmeshlet.faults.seconds=N} sets each run's
 * length (4 s in the default, CI, mode; the {@code reliability} profile runs 60 s).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FaultRunsIT {

  static final Duration RUN = FaultReport.runLength(Duration.ofSeconds(4));

  @TempDir static Path dir;
  static final TestMesh mesh = new TestMesh();
  static MeshFile file;
  static int xdsPort;
  static ControlServer server;
  static BlackholeProxy proxy;
  static final List<WireMockServer> http = new ArrayList<>();
  static final List<EchoBackend> grpc = new ArrayList<>();
  static MeshClient client;
  static OkHttpClient okHttp;
  static ManagedChannel channel;
  static final AtomicLong connects = new AtomicLong();

  static String config(int retries) {
    StringBuilder y = new StringBuilder("services:\n  catalog:\n    endpoints:\n");
    http.forEach(w -> y.append("      - { address: 127.0.0.1:").append(w.port()).append(" }\n"));
    y.append("""
            routes:
              - to: [ {} ]
                timeout: 2s
                retries: { attempts: %d, perTryTimeout: 500ms, on: [connect-failure, reset, 5xx] }
            outlierDetection: { consecutive5xx: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 67 }
          inventory:
            protocol: grpc
            endpoints:
        """.formatted(retries));
    grpc.forEach(g -> y.append("      - { address: ").append(g.address()).append(" }\n"));
    y.append("""
            routes:
              - to: [ {} ]
                timeout: 2s
                retries: { attempts: %d, on: [unavailable] }
            outlierDetection: { failurePercentage: { threshold: 50, minimumHosts: 2, requestVolume: 5 }, interval: 1s, baseEjectionTime: 30s }
        """.formatted(retries));
    return y.toString();
  }

  @BeforeAll
  static void start() throws Exception {
    for (int i = 0; i < 3; i++) {
      WireMockServer w = mesh.upstream("catalog-" + i);
      w.stubFor(any(anyUrl()).atPriority(10).willReturn(aResponse().withStatus(200).withBody("catalog-" + i)));
      http.add(w);
      grpc.add(mesh.closeLater(new EchoBackend("inventory-" + i)));
    }
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      xdsPort = s.getLocalPort();
    }
    file = new MeshFile(dir).write(config(3));
    server = startServer();
    proxy = mesh.closeLater(new BlackholeProxy(xdsPort));
    // Both clients reach the control server through the proxy, which can cut the path.
    XdsClients.bootstrap(proxy.port(), "fault-runs");
    client = mesh.closeLater(MeshClient.builder().xdsPlaintext().serviceName("frontend")
        .controlServers("127.0.0.1:" + proxy.port())
        .reconnectBackoff(Duration.ofMillis(100), Duration.ofSeconds(1))
        .listener(new MeshListener() {
          @Override
          public void onConnected(String s) {
            connects.incrementAndGet();
          }
        }).build()).start();
    assertThat(client.awaitConfig(Duration.ofSeconds(20))).isTrue();
    okHttp = mesh.http(client);
    channel = mesh.closeLater(XdsClients.channel("inventory"), () -> channel.shutdownNow());
    XdsClients.awaitFirstAnswer(channel, 20_000);
  }

  static ControlServer startServer() throws Exception {
    return ControlServer.builder().xdsPlaintext(true).configFile(file.path()).xdsPort(xdsPort).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).build().start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    mesh.close();
  }

  /** Steady traffic on both transports until stopped; counts and the last failure's time. */
  static final class Traffic implements AutoCloseable {
    final AtomicLong httpSent = new AtomicLong();
    final AtomicLong httpFailed = new AtomicLong();
    final AtomicLong grpcSent = new AtomicLong();
    final AtomicLong grpcFailed = new AtomicLong();
    final AtomicReference<String> firstFailure = new AtomicReference<>();
    final AtomicLong lastFailureNanos = new AtomicLong();
    final AtomicBoolean running = new AtomicBoolean(true);
    final List<Thread> threads = new ArrayList<>();
    final List<Long> httpMillis = new ArrayList<>();
    final List<Long> grpcMillis = new ArrayList<>();

    Traffic() {
      for (int i = 0; i < 2; i++) {
        threads.add(start(() -> {
          try {
            TestMesh.Reply r = TestMesh.get(okHttp, "http://catalog/items");
            return r.code() == 200 ? null : "HTTP " + r.code() + " " + r.body();
          } catch (Exception e) {
            return e.toString();
          }
        }, httpSent, httpFailed, httpMillis));
        threads.add(start(() -> {
          try {
            XdsClients.call(channel, EchoBackend.WHO, null, 3_000);
            return null;
          } catch (Exception e) {
            return e.toString();
          }
        }, grpcSent, grpcFailed, grpcMillis));
      }
    }

    Thread start(java.util.function.Supplier<String> call, AtomicLong sent, AtomicLong failed, List<Long> millis) {
      Thread t = new Thread(() -> {
        while (running.get()) {
          long began = System.nanoTime();
          String failure = call.get();
          synchronized (millis) {
            millis.add((System.nanoTime() - began) / 1_000_000);
          }
          sent.incrementAndGet();
          if (failure != null) {
            failed.incrementAndGet();
            firstFailure.compareAndSet(null, failure);
            lastFailureNanos.set(System.nanoTime());
          }
        }
      }, "fault-traffic");
      t.start();
      return t;
    }

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      for (Thread t : threads) {
        t.join(10_000);
      }
    }

    long failed() {
      return httpFailed.get() + grpcFailed.get();
    }

    /** Prints and records one run. */
    void report(String fault, String recovery) {
      FaultReport.record(fault, recovery + "; latency p99 / max: HTTP " + percentile(httpMillis, 0.99) + " / "
          + percentile(httpMillis, 1) + " ms, gRPC " + percentile(grpcMillis, 0.99) + " / " + percentile(grpcMillis, 1)
          + " ms",
          firstFailure.get(), new FaultReport.Counts("HTTP", httpSent.get(), httpFailed.get()),
          new FaultReport.Counts("gRPC", grpcSent.get(), grpcFailed.get()));
    }

    double okPercent() {
      return FaultReport.okPercent(httpSent.get() + grpcSent.get(), failed());
    }

    static long percentile(List<Long> millis, double p) {
      List<Long> sorted;
      synchronized (millis) {
        sorted = new ArrayList<>(millis);
      }
      if (sorted.isEmpty()) {
        return 0;
      }
      java.util.Collections.sort(sorted);
      return sorted.get((int) Math.min(sorted.size() - 1, Math.ceil(p * sorted.size()) - 1));
    }
  }

  static void sleep(Duration d) throws InterruptedException {
    Thread.sleep(d.toMillis());
  }

  @Test
  @Order(1)
  void controlServerKilledAndRestarted() throws Exception {
    try (Traffic traffic = new Traffic()) {
      sleep(RUN.dividedBy(3));
      long before = connects.get();
      server.close();
      sleep(Duration.ofSeconds(1));
      server = startServer();
      Duration back = Await.until("the mesh client to reconnect", Duration.ofSeconds(30), () -> connects.get() > before);
      sleep(RUN.dividedBy(3));
      traffic.close();
      traffic.report("control server killed, restarted after 1 s", "client reconnected "
          + back.plusSeconds(1).toMillis() + " ms after the kill");
      assertThat(traffic.failed()).as("failed requests; first: %s", traffic.firstFailure.get()).isZero();
    }
  }

  @Test
  @Order(2)
  void badConfigThenGoodConfig() throws Exception {
    try (Traffic traffic = new Traffic()) {
      sleep(RUN.dividedBy(3));
      String before = client.snapshot().version();
      file.write("services:\n  catalog: { routes: [ { to: [ { subset: nope } ] } ] }\n");
      Await.until("the refusal", Duration.ofSeconds(10),
          () -> !new AdminClient(server.adminPort()).json("/config").get("lastRefused").isNull());
      sleep(RUN.dividedBy(3));
      assertThat(client.snapshot().version()).isEqualTo(before);
      file.write(config(2));
      Duration applied = Await.until("the good config", Duration.ofSeconds(10),
          () -> !client.snapshot().version().equals(before));
      sleep(RUN.dividedBy(3));
      traffic.close();
      traffic.report("bad config, then a good one", "good config in force " + applied.toMillis()
          + " ms after it was written");
      assertThat(traffic.failed()).as("failed requests; first: %s", traffic.firstFailure.get()).isZero();
    }
  }

  @Test
  @Order(3)
  void controlServerPathCut() throws Exception {
    try (Traffic traffic = new Traffic()) {
      sleep(RUN.dividedBy(3));
      proxy.cut(true);
      // Longer than any client timeout in the mesh (2 s route timeout, 500 ms per try).
      sleep(RUN.dividedBy(3).plusSeconds(3));
      proxy.cut(false);
      String before = client.snapshot().version();
      file.write(config(3));
      Duration caughtUp = Await.until("an edit after the path heals", Duration.ofSeconds(60),
          () -> !client.snapshot().version().equals(before));
      traffic.close();
      traffic.report("control server path cut for " + RUN.dividedBy(3).plusSeconds(3).toSeconds() + " s",
          "an edit reached the client " + caughtUp.toMillis() + " ms after the path healed");
      assertThat(traffic.failed()).as("failed requests; first: %s", traffic.firstFailure.get()).isZero();
    }
  }

  @Test
  @Order(4)
  void oneOfThreeInstancesMadeSlow() throws Exception {
    WireMockServer slowHttp = http.get(1);
    EchoBackend slowGrpc = grpc.get(1);
    var slow = aResponse().withStatus(200).withBody("slow").withFixedDelay(1_500);
    try (Traffic traffic = new Traffic()) {
      sleep(RUN.dividedBy(3));
      // Slower than the HTTP route's 500 ms per-try timeout; within the gRPC route's 2 s timeout,
      // since grpc-java's xDS client has no per-try timeout (gRFC A44).
      var stub = slowHttp.stubFor(any(anyUrl()).atPriority(1).willReturn(slow));
      Duration slowFor = RUN.dividedBy(3).multipliedBy(2);
      try {
        slowGrpc.delay(1_000);
        sleep(slowFor);
        traffic.close();
      } finally {
        slowHttp.removeStub(stub);
        slowGrpc.delay(0);
      }
      // The requests the slow stub answered: those the instance got while it was slow.
      long reachedSlow = slowHttp.getAllServeEvents().stream()
          .filter(e -> e.getStubMapping() != null && stub.getId().equals(e.getStubMapping().getId())).count();
      traffic.report("one of three instances made slow (HTTP 1.5 s, gRPC 1 s)", "the slow HTTP instance got "
          + reachedSlow + " requests before and between ejections");
      assertThat(traffic.failed()).as("failed requests; first: %s", traffic.firstFailure.get()).isZero();
      // Ejected after the configured 2 consecutive errors (timeouts count), plus what the two
      // callers had in flight; once more each time a 30 s ejection ends.
      long ejections = 1 + slowFor.toSeconds() / 30;
      assertThat(reachedSlow).as("requests that reached the slow HTTP instance").isBetween(2L, 4 * ejections);
    }
  }

  @Test
  @Order(5)
  void oneOfThreeInstancesKilled() throws Exception {
    // The slow instance of the run before may still be ejected: maxEjectionPercent 67 leaves room
    // to eject the dead one too.
    var ejections = new ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent>();
    var telemetry = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
        io.meshlet.internal.telemetry.Telemetry.class);
    ejections.start();
    telemetry.addAppender(ejections);
    String dead = "127.0.0.1:" + http.get(0).port();
    try (Traffic traffic = new Traffic()) {
      sleep(RUN.dividedBy(3));
      long at = System.nanoTime();
      http.get(0).stop();
      grpc.get(0).close();
      sleep(RUN.dividedBy(3).multipliedBy(2));
      traffic.close();
      long last = traffic.lastFailureNanos.get();
      traffic.report("one of three instances killed", last == 0 ? "no failed request"
          : "last failure " + Duration.ofNanos(last - at).toMillis() + " ms after the kill");
      assertThat(traffic.okPercent()).as("success %%; first failure: %s", traffic.firstFailure.get())
          .isGreaterThanOrEqualTo(99.9);
      assertThat(ejections.list).extracting(e -> e.getFormattedMessage())
          .as("the dead HTTP instance ejected after the configured 2 errors (and what the two callers had in flight)")
          .anySatisfy(m -> assertThat(m).matches("ejected " + java.util.regex.Pattern.quote(dead)
              + " from cluster 'catalog' for \\d+ ms: [234] consecutive errors"));
    } finally {
      telemetry.detachAppender(ejections);
    }
  }
}
