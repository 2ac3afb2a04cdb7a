package io.meshlet.samples;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The processes the demo started: each writes its output to {@code <name>.log}, and {@link #close()}
 * stops them all, politely first (SIGTERM, so Spring apps shut down gracefully and deregister),
 * forcibly after a grace period. Thread-safe; {@link #close()} may run from a shutdown hook while
 * the demo is still running, and then no new process starts.
 */
final class Children implements AutoCloseable {

  /** A started process and its log. */
  record Child(String name, Process process, Path log) {

    long pid() {
      return process.pid();
    }

    /** The last lines of its log, stack frames left out, for a failure message. */
    String tail(int lines) {
      try {
        List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8).stream()
            .filter(l -> !l.startsWith("\tat ") && !l.matches("\\s*\\.\\.\\. \\d+ (common frames omitted|more)"))
            .toList();
        return String.join(System.lineSeparator(), all.subList(Math.max(0, all.size() - lines), all.size()));
      } catch (IOException | UncheckedIOException e) {
        return "(could not read " + log + ": " + e.getMessage() + ")";
      }
    }
  }

  private static final Duration GRACE = Duration.ofSeconds(10);

  private final Path logs;
  private final List<Child> children = new ArrayList<>();
  private boolean closed;

  Children(Path logs) {
    this.logs = logs;
  }

  synchronized Child start(String name, List<String> command, Map<String, String> env) throws IOException {
    if (closed) {
      throw new IllegalStateException("stopping: not starting " + name);
    }
    Path log = logs.resolve(name + ".log");
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().putAll(env);
    Child child = new Child(name, builder.start(), log);
    children.add(child);
    return child;
  }

  /** Stops one process: SIGTERM, then SIGKILL after the grace period. */
  static void stop(Child child) {
    stopAll(List.of(child));
  }

  /**
   * Stops every process started and still running: each is asked to stop at once, then gets what
   * remains of one shared grace period before it is killed. Idempotent.
   */
  @Override
  public synchronized void close() {
    closed = true;
    stopAll(children);
  }

  synchronized int running() {
    return (int) children.stream().filter(c -> c.process().isAlive()).count();
  }

  synchronized List<Child> all() {
    return List.copyOf(children);
  }

  private static void stopAll(List<Child> list) {
    List<Child> alive = list.stream().filter(c -> c.process().isAlive()).toList();
    alive.forEach(c -> c.process().destroy());
    long deadline = System.nanoTime() + GRACE.toNanos();
    boolean interrupted = false;
    for (Child c : alive) {
      try {
        long left = deadline - System.nanoTime();
        if (interrupted || !c.process().waitFor(Math.max(0, left), TimeUnit.NANOSECONDS)) {
          c.process().destroyForcibly();
        }
      } catch (InterruptedException e) {
        interrupted = true;
        c.process().destroyForcibly();
      }
    }
    // Wait (bounded) for the forced ones too, so that nothing outlives the demo.
    for (Child c : alive) {
      try {
        if (!c.process().waitFor(5, TimeUnit.SECONDS)) {
          System.err.println("could not stop " + c.name() + " (pid " + c.pid() + ")");
        }
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
