package io.meshlet.benchmarks.harness;

import io.meshlet.benchmarks.harness.LoadRun.Case;
import io.meshlet.identity.CaIdentitySource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Meshlet's end-to-end benchmark harness, run by {@code benchmarks/run.sh [--quick]}: the load
 * cases against a direct call measured in the same run (interleaved, repeated, medians), the
 * control server's fan-out to many ADS clients, and the heap a {@code MeshClient} retains. Writes
 * {@code benchmarks/results/latest.json} and prints a table.
 *
 * <p>Everything runs on 127.0.0.1. Each load case runs in a fresh JVM (so its CPU and memory are
 * its own); the upstream servers and the control server run in another; HAProxy runs as two
 * processes. Every process it starts is stopped at the end, on Ctrl-C (shutdown hook), and, for
 * the child JVMs and the HAProxy wrappers, when this JVM dies (they exit when their stdin closes).
 *
 * <pre>
 * benchmarks/run.sh --quick        # about two minutes
 * benchmarks/run.sh                # the full run
 * benchmarks/run.sh --reps 3 --rate 1000 --cases direct,meshlet --no-fanout --no-heap
 * </pre>
 */
public final class Harness {

  private Harness() {}

  public static void main(String[] args) throws Exception {
    String mode = args.length == 0 ? "run" : args[0];
    String[] rest = args.length == 0 ? args : java.util.Arrays.copyOfRange(args, 1, args.length);
    switch (mode) {
      case "run" -> run(Settings.parse(rest));
      case "upstream" -> Upstream.main(rest);
      case "load" -> LoadRun.main(rest);
      case "server" -> ServerChild.main(rest);
      case "client-heap" -> ClientHeap.main(rest);
      default -> {
        System.err.println("usage: Harness run [--quick] [--reps N] [--rate R] [--cases a,b] [--out FILE]"
            + " [--no-cases] [--no-fanout] [--no-heap] [--fanout 10000:delta,50000:delta,10000:sotw]"
            + " [--fanout-into FILE]");
        System.exit(2);
      }
    }
  }

  /** What a run does. */
  record Settings(boolean quick, int reps, double warmup, double peak, double latency, int rate, int concurrency,
      List<Case> cases, List<FanOutSpec> fanout, boolean heap, Path out, Path work, String command,
      Path fanoutInto) {

    static Settings parse(String[] args) {
      boolean quick = List.of(args).contains("--quick");
      // Three repetitions at least: a median of two is a mean, and one stalled run spoils it.
      int reps = quick ? 3 : 5;
      double warmup = quick ? 1 : 4;
      double peak = quick ? 1 : 5;
      double latency = quick ? 1.5 : 8;
      // Below the peak of every case on a busy 2-core machine, so that latency is not queueing.
      int rate = 300;
      int concurrency = 8;
      List<Case> cases = java.util.Arrays.stream(Case.values()).filter(c -> c != Case.MESHLET_NO_TELEMETRY).toList();
      List<FanOutSpec> fanout = FanOutSpec.parse(quick ? "1000:delta" : "10000:delta,50000:delta,10000:sotw");
      Path fanoutInto = null;
      boolean heap = true;
      Path out = Path.of("benchmarks/results/latest.json");
      Path work = Path.of("benchmarks/target/harness");
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--quick" -> { }
          case "--reps" -> reps = Integer.parseInt(args[++i]);
          case "--rate" -> rate = Integer.parseInt(args[++i]);
          case "--concurrency" -> concurrency = Integer.parseInt(args[++i]);
          case "--warmup" -> warmup = Double.parseDouble(args[++i]);
          case "--peak" -> peak = Double.parseDouble(args[++i]);
          case "--latency" -> latency = Double.parseDouble(args[++i]);
          case "--cases" -> cases = java.util.Arrays.stream(args[++i].split(",")).map(Case::of).toList();
          case "--fanout" -> fanout = FanOutSpec.parse(args[++i]);
          case "--fanout-into" -> fanoutInto = Path.of(args[++i]);
          case "--no-cases" -> cases = List.of();
          case "--no-fanout" -> fanout = List.of();
          case "--no-heap" -> heap = false;
          case "--out" -> out = Path.of(args[++i]);
          case "--work" -> work = Path.of(args[++i]);
          default -> throw new IllegalArgumentException("unknown option: " + args[i]);
        }
      }
      return new Settings(quick, reps, warmup, peak, latency, rate, concurrency, cases, fanout, heap, out, work,
          "benchmarks/run.sh " + String.join(" ", args), fanoutInto);
    }
  }

  /** One fan-out run: {@code clients} ADS streams speaking {@code protocol} ({@code delta} or {@code sotw}). */
  record FanOutSpec(int clients, String protocol) {
    FanOutSpec {
      if (clients < 1 || !(protocol.equals("delta") || protocol.equals("sotw"))) {
        throw new IllegalArgumentException("--fanout: " + clients + ":" + protocol
            + " (expected: N[:delta|:sotw], N >= 1)");
      }
    }

    /** {@code 10000,50000:delta,10000:sotw}; the protocol defaults to delta. */
    static List<FanOutSpec> parse(String list) {
      return java.util.Arrays.stream(list.split(",")).map(String::trim).filter(x -> !x.isEmpty()).map(x -> {
        String[] p = x.split(":", 2);
        return new FanOutSpec(Integer.parseInt(p[0].replace("_", "")), p.length > 1 ? p[1] : "delta");
      }).toList();
    }
  }

  static void run(Settings s) throws Exception {
    Instant started = Instant.now();
    Files.createDirectories(s.work());
    log("Meshlet benchmark harness: %s, %d repetitions of %d cases, %.0f s warm-up, %.0f s peak, %.0f s at %d req/s",
        s.quick() ? "quick" : "full", s.reps(), s.cases().size(), s.warmup(), s.peak(), s.latency(), s.rate());
    List<Map<String, Object>> runs = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    List<Case> cases = new ArrayList<>(s.cases());
    Optional<Path> haproxy = Proc.onPath("haproxy");
    if (cases.contains(Case.SIDECARS) && haproxy.isEmpty()) {
      String note = "haproxy is not on PATH: case 'sidecars' skipped (install it: apt-get install -y haproxy)";
      log(note);
      notes.add(note);
      cases.remove(Case.SIDECARS);
    }

    if (!cases.isEmpty()) {
      try (Proc upstream = Proc.jvm("upstream", List.of("-Xmx1g"), s.work().resolve("upstream.log"), "upstream",
          List.of(s.work().resolve("upstream").toString()))) {
        Map<String, Object> ports = upstream.expectJson("READY");
        log("upstream up: HTTP :%s, mTLS :%s, gRPC :%s, control server :%s", ports.get("httpPort"),
            ports.get("httpsPort"), ports.get("grpcPort"), ports.get("xdsPort"));
        Sidecars sidecars = null;
        try {
          if (cases.contains(Case.SIDECARS)) {
            sidecars = startSidecars(haproxy.get(), s.work().resolve("haproxy"), ports);
            log("HAProxy sidecars up: A :%d -> (mTLS) -> B -> upstream, pids %s", sidecars.port(), sidecars.pids());
          }
          for (int rep = 0; rep < s.reps(); rep++) {
            for (int i = 0; i < cases.size(); i++) {
              // Interleaved, and rotated so that no case always runs first or right after another.
              Case c = cases.get((i + rep) % cases.size());
              Map<String, Object> r = load(s, c, ports, sidecars, rep);
              r.put("rep", rep);
              runs.add(r);
              log("rep %d %-13s %9.0f req/s  p50 %7.1f us  p99 %8.1f us  CPU %6.1f us/req  heap %5.1f MiB  errors %s",
                  rep + 1, c.id, num(r, "peakRps"), num(r, "p50Us"), num(r, "p99Us"), num(r, "cpuUsPerReq"),
                  num(r, "heapAfterGcBytes") / 1048576.0,
                  ((Number) r.get("peakErrors")).longValue() + ((Number) r.get("latencyErrors")).longValue());
            }
          }
        } finally {
          if (sidecars != null) {
            sidecars.close();
          }
        }
      }
    }

    List<Map<String, Object>> fanout = new ArrayList<>();
    for (FanOutSpec spec : s.fanout()) {
      int n = spec.clients();
      log("fan-out: %d ADS clients (%s) ...", n, spec.protocol());
      Map<String, Object> f = FanOut.run(n, spec.protocol(), s.work());
      fanout.add(f);
      log("fan-out: %d %s clients subscribed in %.0f ms; edit ACKed by all in %.0f ms (first %.0f, median %.0f);"
              + " server heap %.0f MiB (idle %.0f MiB); CPU for the edit: server %.0f ms, clients %.0f ms;"
              + " load average %.2f",
          n, spec.protocol(), num(f, "subscribeAllMs"), num(f, "lastAckMs"), num(f, "firstAckMs"),
          num(f, "medianAckMs"), num(f, "serverHeapConnectedBytes") / 1048576.0,
          num(f, "serverHeapIdleBytes") / 1048576.0, num(f, "serverCpuEditMs"), num(f, "clientCpuEditMs"),
          num(f, "loadAverageAtEdit"));
    }

    List<Map<String, Object>> heap = new ArrayList<>();
    if (s.heap()) {
      // {services, clients, services subscribed on demand (0: all)}
      // e.g. -Dharness.heap=10000:20:5 (services:clients:on-demand services, comma-separated) to run only those
      String only = System.getProperty("harness.heap", "");
      int[][] specs = !only.isBlank()
          ? java.util.Arrays.stream(only.split(",")).map(x -> java.util.Arrays.stream(x.split(":"))
              .mapToInt(Integer::parseInt).toArray()).toArray(int[][]::new)
          : s.quick() ? new int[][] {{100, 10, 0}, {1000, 4, 0}, {1000, 4, 5}}
          : new int[][] {{100, 20, 0}, {1000, 10, 0}, {10000, 20, 5}};
      for (int[] sc : specs) {
        Map<String, Object> h = clientHeap(s.work(), sc[0], sc[1], sc[2]);
        heap.add(h);
        log("MeshClient heap with %d services%s: %.1f KiB per client (%d clients)", sc[0],
            sc[2] > 0 ? " (" + sc[2] + " on demand)" : "", num(h, "perClientBytes") / 1024, sc[1]);
      }
    }

    Report report = new Report(s, started, runs, cases, fanout, heap, notes);
    report.write();
    if (s.fanoutInto() != null) {
      report.mergeFanOutInto(s.fanoutInto());
      log("fan-out rows refreshed in %s", s.fanoutInto());
    }
    System.out.println();
    System.out.println(report.table());
    log("wrote %s in %d s", s.out(), Duration.between(started, Instant.now()).toSeconds());
  }

  private static Sidecars startSidecars(Path haproxy, Path dir, Map<String, Object> ports) throws Exception {
    String cs = "127.0.0.1:" + ports.get("xdsPort");
    try (CaIdentitySource a = CaIdentitySource.builder().service("frontend").joinToken(Upstream.TOKENS.get("frontend"))
        .controlServers(cs).controlServerTrust(Path.of((String) ports.get("trustBundle"))).build().start();
        CaIdentitySource b = CaIdentitySource.builder().service("echo").joinToken(Upstream.TOKENS.get("echo"))
            .controlServers(cs).controlServerTrust(Path.of((String) ports.get("trustBundle"))).build().start()) {
      return Sidecars.start(haproxy, dir, a.awaitIdentity(Duration.ofSeconds(30)),
          b.awaitIdentity(Duration.ofSeconds(30)), (Integer) ports.get("httpPort"));
    }
  }

  private static Map<String, Object> load(Settings s, Case c, Map<String, Object> ports, Sidecars sidecars, int rep)
      throws Exception {
    List<String> args = new ArrayList<>(List.of(
        "case=" + c.id,
        "xdsPort=" + ports.get("xdsPort"),
        "trustBundle=" + ports.get("trustBundle"),
        "httpPort=" + ports.get("httpPort"),
        "httpsPort=" + ports.get("httpsPort"),
        "grpcPort=" + ports.get("grpcPort"),
        "upstreamPid=" + ports.get("pid"),
        "concurrency=" + s.concurrency(),
        "warmup=" + s.warmup(),
        "peak=" + s.peak(),
        "latency=" + s.latency(),
        "rate=" + s.rate()));
    if (c == Case.SIDECARS) {
      args.add("sidecarPort=" + sidecars.port());
      args.add("sidecarPids=" + String.join(",", sidecars.pids().stream().map(String::valueOf).toList()));
    }
    List<String> jvm = new ArrayList<>(List.of("-Xmx512m"));
    // e.g. -Dharness.loadJvm=-XX:StartFlightRecording=filename=load.jfr,settings=profile
    String extra = System.getProperty("harness.loadJvm", "");
    if (!extra.isBlank()) {
      jvm.addAll(List.of(extra.split(" ")));
    }
    try (Proc p = Proc.jvm("load " + c.id, jvm, s.work().resolve("load-" + c.id + ".log"), "load", args)) {
      return p.expectJson("RESULT");
    }
  }

  private static Map<String, Object> clientHeap(Path work, int services, int clients, int onDemand)
      throws Exception {
    Path dir = Files.createDirectories(work.resolve("client-heap-" + services + (onDemand > 0 ? "-on-demand" : "")));
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, services > 5000 ? ServerChild.meshYamlCompact(services) : ServerChild.meshYaml(services, 0));
    List<String> serverJvm = new ArrayList<>(List.of("-Xmx1g"));
    // e.g. -Dharness.serverJvm=-XX:StartFlightRecording=filename=server.jfr,settings=profile
    String extra = System.getProperty("harness.serverJvm", "");
    if (!extra.isBlank()) {
      serverJvm.addAll(List.of(extra.split(" ")));
    }
    try (Proc server = Proc.jvm("control-server", serverJvm, dir.resolve("server.log"), "server",
        List.of(file.toString(), "250"))) {
      Map<String, Object> ready = server.expectJson("READY");
      List<String> clientJvm = new ArrayList<>(List.of("-Xmx2g"));
      String clientExtra = System.getProperty("harness.heapJvm", "");
      if (!clientExtra.isBlank()) {
        clientJvm.addAll(List.of(clientExtra.split(" ")));
      }
      try (Proc p = Proc.jvm("client-heap", clientJvm, dir.resolve("client-heap.log"), "client-heap",
          List.of(String.valueOf(ready.get("xdsPort")), String.valueOf(clients), String.valueOf(services),
              String.valueOf(onDemand)))) {
        return p.expectJson("RESULT");
      }
    }
  }

  static double num(Map<String, Object> m, String key) {
    Object v = m.get(key);
    return v instanceof Number n ? n.doubleValue() : Double.NaN;
  }

  static void log(String format, Object... args) {
    System.out.println("[harness] " + String.format(format, args));
    System.out.flush();
  }
}
