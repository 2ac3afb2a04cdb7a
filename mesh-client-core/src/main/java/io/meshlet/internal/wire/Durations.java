package io.meshlet.internal.wire;

import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as mesh.yaml, the CLI and the admin API write them: {@code 250ms}, {@code 2s}, {@code 1m}, {@code 1h}. */
public final class Durations {

  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h)");
  /** What every message about a bad duration says was expected. */
  public static final String EXPECTED = "a duration such as 250ms, 2s, 1m or 1h";

  private Durations() {}

  /** Parses a duration; empty when it is not one. */
  public static Optional<Duration> parse(String text) {
    if (text == null) {
      return Optional.empty();
    }
    Matcher m = DURATION.matcher(text.strip());
    if (!m.matches()) {
      return Optional.empty();
    }
    long n = Long.parseLong(m.group(1));
    return Optional.of(switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      default -> Duration.ofHours(n);
    });
  }

  /**
   * Writes a duration as mesh.yaml does, in the largest unit that holds it whole: {@code 250ms},
   * {@code 2s}, {@code 1m}, {@code 1h}; {@code 0ms} for zero.
   */
  public static String format(Duration d) {
    long ms = d.toMillis();
    if (ms % 3_600_000 == 0 && ms > 0) {
      return ms / 3_600_000 + "h";
    } else if (ms % 60_000 == 0 && ms > 0) {
      return ms / 60_000 + "m";
    } else if (ms % 1000 == 0 && ms > 0) {
      return ms / 1000 + "s";
    }
    return ms + "ms";
  }
}
