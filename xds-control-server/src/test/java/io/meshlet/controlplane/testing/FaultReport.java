package io.meshlet.controlplane.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Locale;

/**
 * The figures of one fault run (requests sent and failed per transport, and how it recovered),
 * printed as a {@code FAULT RUN} line and appended to {@code target/fault-runs.txt}, so the fault
 * runs of every module read the same way. {@code -Dmeshlet.faults.seconds=N} lengthens each run
 * (the {@code reliability} profile sets 60).
 */
public final class FaultReport {

  private FaultReport() {}

  /** How long a run lasts: {@code meshlet.faults.seconds} when set, else the test's short default. */
  public static Duration runLength(Duration shortDefault) {
    long seconds = Long.getLong("meshlet.faults.seconds", 0);
    return seconds > 0 ? Duration.ofSeconds(seconds) : shortDefault;
  }

  /** The share of requests that succeeded, in percent. */
  public static double okPercent(long sent, long failed) {
    return sent == 0 ? 0 : 100.0 * (sent - failed) / sent;
  }

  /** Counts for one transport, e.g. {@code "HTTP"} and {@code "gRPC"}. */
  public record Counts(String transport, long sent, long failed) {
    @Override
    public String toString() {
      return String.format(Locale.ROOT, "%s %7d sent %5d failed (%.3f%% ok)", transport, sent, failed,
          okPercent(sent, failed));
    }
  }

  /** Prints and records one run; {@code firstFailure} may be null. */
  public static void record(String fault, String recovery, String firstFailure, Counts... counts) {
    StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-56s", fault));
    for (Counts c : counts) {
      line.append(" | ").append(c);
    }
    line.append(" | ").append(recovery);
    if (firstFailure != null) {
      line.append(" | first failure: ").append(firstFailure);
    }
    System.out.println("FAULT RUN " + line);
    Path out = Path.of("target", "fault-runs.txt");
    try {
      Files.createDirectories(out.getParent());
      Files.writeString(out, line + System.lineSeparator(), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
