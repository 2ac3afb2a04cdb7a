package io.meshlet.controlplane.internal;

import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The control server's one rule for durations as people write them: {@code 250ms}, {@code 2s},
 * {@code 1m}, {@code 1h}. mesh.yaml, the command line ({@code Main}) and the admin API all read and
 * write durations through here.
 *
 * <p>One class on purpose: when mesh-client-core's shared home for durations
 * ({@code io.meshlet.internal.*}) is merged, this class is the one place to point at it.
 *
 * <p>Thread-safe: static and stateless.
 */
public final class Durations {

  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h)");

  /** What a reader expects where a duration goes, for error messages. */
  public static final String EXPECTED = "a duration such as 250ms, 2s, 1m or 1h";

  private Durations() {}

  /** Parses a duration written as {@code 250ms}, {@code 2s}, {@code 1m} or {@code 1h}. */
  public static Optional<Duration> parse(String text) {
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

  /** Writes a duration the way the config file does: {@code 250ms}, {@code 2s}, {@code 1m}. */
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
