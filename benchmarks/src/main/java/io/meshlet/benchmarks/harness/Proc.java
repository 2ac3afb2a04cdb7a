package io.meshlet.benchmarks.harness;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Processes of the harness: child JVMs and HAProxy, each with a line protocol on stdin/stdout
 * ({@code READY <json>}, {@code RESULT <json>}, {@code HEAP <bytes>}), and what {@code /proc}
 * says about a process's CPU time and resident memory.
 *
 * <p>Every child reads stdin and exits when it closes, so a harness killed without running its
 * shutdown hooks still leaves nothing behind.
 */
final class Proc implements AutoCloseable {

  static final ObjectMapper JSON = new ObjectMapper();
  private static final List<Proc> LIVE = new CopyOnWriteArrayList<>();
  private static long clockTicks;

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Proc::close), "harness-cleanup"));
  }

  final String name;
  final Process process;
  private final BufferedReader out;
  private final Writer in;

  private Proc(String name, Process process) {
    this.name = name;
    this.process = process;
    this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    LIVE.add(this);
  }

  /** Starts {@code Harness <mode> args...} in a new JVM; its stderr goes to {@code log}. */
  static Proc jvm(String name, List<String> jvmOptions, Path log, String mode, List<String> args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmOptions);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Harness.class.getName());
    cmd.add(mode);
    cmd.addAll(args);
    return start(name, cmd, log);
  }

  static Proc start(String name, List<String> cmd, Path log) throws IOException {
    Files.createDirectories(log.getParent());
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
    return new Proc(name, pb.start());
  }

  /** The next stdout line starting with {@code prefix + " "}, without it; fails if the child ends first. */
  String expect(String prefix) throws IOException {
    String line;
    while ((line = out.readLine()) != null) {
      if (line.startsWith(prefix + " ")) {
        return line.substring(prefix.length() + 1);
      }
    }
    throw new IOException(name + " ended before saying " + prefix + " (exit "
        + (process.isAlive() ? "?" : process.exitValue()) + "; see its log)");
  }

  Map<String, Object> expectJson(String prefix) throws IOException {
    return JSON.readValue(expect(prefix), new TypeReference<>() {});
  }

  void send(String line) throws IOException {
    in.write(line + "\n");
    in.flush();
  }

  /** Asks a child JVM for its heap after a full GC. */
  long childHeapAfterGc() throws IOException {
    send("gc");
    return Long.parseLong(expect("HEAP").trim());
  }

  long pid() {
    return process.pid();
  }

  /** Closes stdin (the child's signal to stop), waits a little, then kills what is left. */
  @Override
  public void close() {
    LIVE.remove(this);
    try {
      in.close();
    } catch (IOException e) {
      // already gone
    }
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroy();
        if (!process.waitFor(3, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  // --- the child's side ---------------------------------------------------------------------

  /** In a child: prints {@code prefix json} on stdout. */
  static void say(String prefix, Object value) {
    try {
      System.out.println(prefix + " " + JSON.writeValueAsString(value));
      System.out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** In a child: answers {@code gc} with {@code HEAP <bytes>} until stdin closes or says {@code quit}. */
  static void serveUntilStdinCloses() throws IOException {
    BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = stdin.readLine()) != null && !line.equals("quit")) {
      if (line.equals("gc")) {
        System.out.println("HEAP " + heapAfterGc());
        System.out.flush();
      }
    }
  }

  /** In a child: exits when stdin closes, whatever the main thread is doing. */
  static void exitWhenStdinCloses() {
    Thread t = new Thread(() -> {
      try {
        while (System.in.read() >= 0) {
          // ignore
        }
      } catch (IOException e) {
        // closed
      }
      System.exit(3);
    }, "stdin-watch");
    t.setDaemon(true);
    t.start();
  }

  /** This JVM's heap in use after full collections. */
  static long heapAfterGc() {
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) {
      System.gc();
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
    }
    return used;
  }

  /** This JVM's CPU time, all threads, in ns. */
  static long selfCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** A process's CPU time (user + system, all threads) from /proc, in ns; 0 if it is gone. */
  static long cpuNanos(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // after "pid (comm) ": state is f[0]; utime is field 14 overall, f[11]; stime f[12].
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      return ticks * (1_000_000_000L / clockTicks());
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /** A process's resident set, in bytes, from /proc; 0 if it is gone. */
  static long rssBytes(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone
    }
    return 0;
  }

  private static synchronized long clockTicks() {
    if (clockTicks == 0) {
      clockTicks = 100;
      try {
        Process p = new ProcessBuilder("getconf", "CLK_TCK").start();
        String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.waitFor() == 0 && !s.isEmpty()) {
          clockTicks = Long.parseLong(s);
        }
      } catch (IOException | RuntimeException e) {
        // keep 100, Linux's usual value
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    return clockTicks;
  }

  /** A free TCP port on loopback (free when asked; fine for a harness on one machine). */
  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Where a command is on PATH, if it is. */
  static java.util.Optional<Path> onPath(String command) {
    String path = System.getenv().getOrDefault("PATH", "");
    for (String dir : path.split(java.io.File.pathSeparator)) {
      Path p = Path.of(dir, command);
      if (!dir.isEmpty() && Files.isExecutable(p)) {
        return java.util.Optional.of(p);
      }
    }
    return java.util.Optional.empty();
  }
}
