package io.meshlet.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the README's demo as a user would, from its jar, in quick mode: checks what it prints for
 * each phase, that it exits 0, and that none of the processes it started outlives it, also when
 * it is interrupted.
 */
class DemoIT {

  private static final Pattern PID = Pattern.compile("\\(pid (\\d+)\\)|started \\S+ +pid (\\d+)");

  private final List<Process> demos = new ArrayList<>();

  @Test
  void demoRunsEveryPhaseAndLeavesNothingBehind(@TempDir Path dir) throws Exception {
    Path output = dir.resolve("demo.out");
    Process demo = startDemo(output);

    // About a minute on 2 idle cores; the bound leaves room for a busy machine.
    assertThat(demo.waitFor(6, TimeUnit.MINUTES)).as("demo finished in time").isTrue();
    String out = Files.readString(output, StandardCharsets.UTF_8);
    assertThat(demo.exitValue()).as(out).isZero();
    assertThat(out)
        .contains("== 1. The control server")
        .containsPattern("console: http://127\\.0\\.0\\.1:\\d+/console")
        .containsPattern("catalog +[1-9]\\d* requests, +\\d+ errors in the last 1m;(  v[12] \\d+)+")
        .containsPattern("xDS is TLS \\(the apps check the server against \\S+/ca/trust-bundle\\.pem\\) and registration"
            + " is bound to identity: join token over TLS -> SVID -> mTLS xDS -> registration")
        .containsPattern("registered catalog v1 +127\\.0\\.0\\.1:\\d+ \\{\"version\":\"v1\"\\}")
        .containsPattern("registered catalog v2 +127\\.0\\.0\\.1:\\d+ \\{\"version\":\"v2\"\\}")
        .containsPattern("registered inventory \\(gRPC\\) +127\\.0\\.0\\.1:\\d+")
        .contains("it sees the caller as spiffe://example.org/service/frontend")
        .contains("catalog's three instances run on Tomcat, each logging \"inbound strict mTLS for service 'catalog'"
            + " on the embedded Tomcat server\"; the frontend on Jetty")
        .containsPattern("trace [0-9a-f]{32} frontend -> catalog \\(same trace id in both")
        .containsPattern("GET http://127\\.0\\.0\\.1:\\d+/actuator/prometheus \\(Meshlet's metrics")
        .containsPattern("\n {5}meshlet_\\w+\\{[^\n]*meshlet_service=\"catalog\"")
        .contains("Callers > catalog: payments highlighted as denied")
        .contains("== 3. Canary 90/10")
        .containsPattern("90/10 +v1 #+ +\\d+ +(8\\d|9\\d|100)\\.\\d%  v2 .* failed 0")
        .contains("== 4. Canary 50/50")
        .containsPattern("50/50 +v1 #+ +\\d+ +[3-6]\\d\\.\\d%  v2 #+ +\\d+ +[3-6]\\d\\.\\d%  failed 0")
        .containsPattern("== 5. Killing catalog v1 instance on port \\d+ while traffic flows")
        .containsPattern("calls since the kill: \\d+ ok, 0 failed")
        .containsPattern("the control server dropped 127\\.0\\.0\\.1:\\d+ from catalog")
        .contains("== 6. Canary 0/100")
        .containsPattern("0/100 +v1 +0 +0\\.0%  v2 #{20} +\\d+ 100\\.0%  failed 0")
        .contains("unauthorized caller refused: 403 x-meshlet-denied: true \"caller "
            + "spiffe://example.org/service/payments may not call GET /items on service 'catalog'\"")
        .containsPattern("a caller without a certificate straight to catalog at 127\\.0\\.0\\.1:\\d+: refused")
        .containsPattern("caller of catalog: payments +[1-9]\\d* requests, +0 errors, +[1-9]\\d* denied  <- refused caller")
        .containsPattern("caller of catalog: frontend +[1-9]\\d* requests, +\\d+ errors, +0 denied\n")
        .contains("Demo done: every phase behaved");
    assertNoneAlive(pids(out), out);
  }

  @Test
  void anInterruptedDemoStopsWhatItStarted(@TempDir Path dir) throws Exception {
    Path output = dir.resolve("demo.out");
    Process demo = startDemo(output);

    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    String out = "";
    // Interrupted while its services start up: the moment with the most processes half-way.
    while (!out.contains("started payments") && demo.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(100);
      out = Files.readString(output, StandardCharsets.UTF_8);
    }
    assertThat(out).as("the demo got as far as starting its services").contains("started payments");
    List<Long> pids = pids(out);
    assertThat(pids).hasSize(7);

    demo.destroy();   // SIGTERM: what a Ctrl-C does to the JVM, shutdown hooks run
    assertThat(demo.waitFor(1, TimeUnit.MINUTES)).as("demo stopped").isTrue();
    assertNoneAlive(pids, Files.readString(output, StandardCharsets.UTF_8));
  }

  private Process startDemo(Path output) throws IOException {
    Path demoJar = Path.of("target", "meshlet-demo.jar");
    Path serverJar = Path.of("..", "xds-control-server", "target", "xds-control-server.jar");
    assertThat(demoJar).exists();
    assertThat(serverJar).exists();
    Process demo = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
        "-jar", demoJar.toString(), "--quick", "--server-jar", serverJar.toString())
        .redirectErrorStream(true)
        .redirectOutput(output.toFile())
        .start();
    demos.add(demo);
    return demo;
  }

  /** The processes the demo says it started. */
  private static List<Long> pids(String out) {
    List<Long> pids = new ArrayList<>();
    Matcher m = PID.matcher(out);
    while (m.find()) {
      long pid = Long.parseLong(m.group(1) != null ? m.group(1) : m.group(2));
      if (!pids.contains(pid)) {
        pids.add(pid);
      }
    }
    return pids;
  }

  private static void assertNoneAlive(List<Long> pids, String out) throws InterruptedException {
    assertThat(pids).as(out).isNotEmpty();
    // The demo waits for its children before it exits; allow the OS a moment to reap them.
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    List<Long> alive = alive(pids);
    while (!alive.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(100);
      alive = alive(pids);
    }
    assertThat(alive).as("processes the demo started and left running\n" + out).isEmpty();
  }

  private static List<Long> alive(List<Long> pids) {
    return pids.stream().filter(pid -> ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).toList();
  }

  @AfterEach
  void stopDemos() {
    for (Process demo : demos) {
      demo.descendants().forEach(ProcessHandle::destroyForcibly);
      demo.destroyForcibly();
    }
  }
}
