package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.XdsClients;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One JVM with 200 {@code xds:///} targets, one per service, all resolved and routed through
 * Meshlet's control server. grpc-java keeps one xDS client per target (gRFC A71), and in 1.85
 * each of those opens its own channel to the xDS server: 200 ADS streams on 200 connections, so
 * the server must take that many streams at once and push an edit to all of them.
 *
 * <p>Prints, for information and without asserting on them, the time to the first answer on all
 * 200 targets, the time for an edit to reach the targets it moved, and how many ADS streams and
 * connections the control server saw.
 */
class ManyTargetsIT {

  private static final String NODE_ID = "many-targets-it-client";
  private static final int TARGETS = 200;

  @TempDir static Path dir;
  static List<EchoBackend> backends;
  static MeshFile mesh;
  static ControlServer server;
  static AdminClient admin;

  @BeforeAll
  static void start() throws Exception {
    backends = List.of(new EchoBackend("a"), new EchoBackend("b"), new EchoBackend("c"));
    mesh = new MeshFile(dir).write(meshYaml(i -> false));
    server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).build().start();
    admin = new AdminClient(server.adminPort());
    XdsClients.bootstrap(server.xdsPort(), NODE_ID);
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(server);
    if (backends != null) {
      Closeables.closeAll(backends.toArray(AutoCloseable[]::new));
    }
  }

  static String service(int i) {
    return "svc-%03d".formatted(i);
  }

  /** The backend service {@code i} is on: round the three, one further along when moved. */
  static EchoBackend backendOf(int i, boolean moved) {
    return backends.get((i + (moved ? 1 : 0)) % backends.size());
  }

  static String meshYaml(IntPredicate moved) {
    StringBuilder yaml = new StringBuilder("services:\n");
    for (int i = 0; i < TARGETS; i++) {
      yaml.append("  ").append(service(i)).append(":\n")
          .append("    protocol: grpc\n")
          .append("    endpoints: [ { address: ").append(backendOf(i, moved.test(i)).address()).append(" } ]\n");
    }
    return yaml.toString();
  }

  @Test
  void twoHundredTargetsInOneJvmAllAnswerFromTheirBackendAndFollowAnEdit() throws Exception {
    List<ManagedChannel> channels = new ArrayList<>(TARGETS);
    try {
      long start = System.nanoTime();
      for (int i = 0; i < TARGETS; i++) {
        channels.add(XdsClients.channel(service(i)));
      }
      // Wait for ready: each call waits for its target's config and a connected backend.
      long[] took = new long[TARGETS];
      Map<String, String> wrong = onEach(channels, CallOptions.DEFAULT.withWaitForReady()
          .withDeadlineAfter(30, TimeUnit.SECONDS), i -> backendOf(i, false).name(), took);
      long allAnswered = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertThat(wrong).as("targets that did not answer from their backend").isEmpty();

      // Every target's xDS client has its stream open by now: it had config to make the call.
      int streams = admin.json("/clients").path("clients").size();
      String metrics = admin.get("/metrics").body();
      report("%d targets, all called at once: first answer on all of them %d ms after the first channel "
              + "was built (per target: min %d ms, median %d ms, p90 %d ms, max %d ms); ADS streams: /clients %d, "
              + "meshlet_xds_connected_clients %d, meshlet_xds_streams_total %d; "
              + "TCP connections to the xDS port: %s; this JVM (client and server): %d threads, %d MB heap in use",
          TARGETS, allAnswered, percentileMillis(took, 0), percentileMillis(took, 50), percentileMillis(took, 90),
          percentileMillis(took, 100), streams, metric(metrics, "meshlet_xds_connected_clients"),
          metric(metrics, "meshlet_xds_streams_total"), connectionsTo(server.xdsPort()),
          ManagementFactory.getThreadMXBean().getThreadCount(),
          (Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory()) >> 20);
      assertThat(streams).as("ADS streams open with %d targets", TARGETS).isPositive();

      // Every tenth service moves one backend further; the others stay.
      IntPredicate moved = i -> i % 10 == 0;
      String before = admin.version();
      long edited = System.nanoTime();
      mesh.write(meshYaml(moved));
      Await.until("a new config version", Duration.ofSeconds(10), () -> !admin.version().equals(before));
      Await.until("every moved target to answer from its new backend", Duration.ofSeconds(20), () -> {
        for (int i = 0; i < TARGETS; i += 10) {
          if (!XdsClients.who(channels.get(i)).equals(backendOf(i, true).name())) {
            return false;
          }
        }
        return true;
      });
      long followed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - edited);
      Map<String, String> wrongAfter = onEach(channels,
          CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), i -> backendOf(i, moved.test(i)).name(), null);
      assertThat(wrongAfter).as("targets that did not answer from their backend after the edit").isEmpty();
      metrics = admin.get("/metrics").body();
      report("edit moving %d of %d services: all of them followed %d ms after the write, the others stayed; "
              + "meshlet_xds_pushes_total %d, meshlet_xds_nacks_total %d",
          TARGETS / 10, TARGETS, followed, metric(metrics, "meshlet_xds_pushes_total"),
          metric(metrics, "meshlet_xds_nacks_total"));
    } finally {
      for (ManagedChannel channel : channels) {
        channel.shutdownNow();
      }
      for (ManagedChannel channel : channels) {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Makes one call on every channel, all at once and without blocking a thread per call, and
   * returns, by service, what answered where {@code expected(i)} should have (a failed call as
   * its status). {@code tookNanos}, when not null, gets each call's time from now to its answer.
   */
  private static Map<String, String> onEach(List<ManagedChannel> channels, CallOptions options,
      IntFunction<String> expected, long[] tookNanos) throws InterruptedException {
    long start = System.nanoTime();
    List<ListenableFuture<String>> answers = new ArrayList<>(channels.size());
    for (int i = 0; i < channels.size(); i++) {
      int n = i;
      ListenableFuture<String> answer = ClientCalls.futureUnaryCall(
          channels.get(i).newCall(EchoBackend.WHO, options), "hi");
      if (tookNanos != null) {
        // A transform, not a listener: its future completes after the time is written.
        answer = Futures.transform(answer, who -> {
          tookNanos[n] = System.nanoTime() - start;
          return who;
        }, MoreExecutors.directExecutor());
      }
      answers.add(answer);
    }
    Map<String, String> wrong = new TreeMap<>();
    for (int i = 0; i < answers.size(); i++) {
      String got;
      try {
        // Every call has a deadline; this only guards against one that never completes.
        got = answers.get(i).get(60, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        got = Status.fromThrowable(e.getCause()).toString();
      } catch (TimeoutException e) {
        got = "no answer in 60 s";
      }
      if (!got.equals(expected.apply(i))) {
        wrong.put(service(i), got + " (expected: " + expected.apply(i) + ")");
      }
    }
    return wrong;
  }

  private static long percentileMillis(long[] nanos, int percent) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    return TimeUnit.NANOSECONDS.toMillis(sorted[Math.max(0, sorted.length * percent / 100 - 1)]);
  }

  private static long metric(String metrics, String name) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\d+)(?:\\.0)?$").matcher(metrics);
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  /**
   * Established TCP connections whose local port is {@code port}, from /proc/net/tcp and tcp6
   * (Linux; Java's dual-stack sockets show IPv4 loopback in tcp6). Client and server share this
   * JVM and the server's port is not the client's, so these are the server's ends. "n/a" elsewhere.
   */
  private static String connectionsTo(int port) {
    String local = ":%04X".formatted(port);
    long count = 0;
    for (String file : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      Path table = Path.of(file);
      if (!Files.isReadable(table)) {
        return "n/a";
      }
      try (var lines = Files.lines(table)) {
        // sl local_address rem_address st ...; st 01 is ESTABLISHED.
        count += lines.skip(1).map(String::trim).map(l -> l.split("\\s+"))
            .filter(f -> f.length > 3 && f[1].endsWith(local) && f[3].equals("01")).count();
      } catch (IOException e) {
        return "n/a (" + e.getMessage() + ")";
      }
    }
    return Long.toString(count);
  }

  private static void report(String format, Object... args) {
    System.out.println("ManyTargetsIT: " + format.formatted(args));
  }
}
