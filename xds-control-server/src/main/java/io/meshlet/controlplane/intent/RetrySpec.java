package io.meshlet.controlplane.intent;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * When and how often a failed call is tried again (Envoy's {@code retry_policy}).
 *
 * @param attempts how many retries may follow the first try (Envoy's {@code num_retries})
 * @param perTryTimeout the deadline of each try, if any
 * @param on the conditions that allow a retry, in Envoy's {@code retry_on} spelling
 *     ({@code 5xx}, {@code reset}, {@code connect-failure}, {@code unavailable}, ...)
 * @param backoffBase the base interval of the jittered exponential backoff
 * @param backoffMax the largest backoff interval
 */
public record RetrySpec(
    int attempts,
    Optional<Duration> perTryTimeout,
    List<String> on,
    Duration backoffBase,
    Duration backoffMax) {

  /** Envoy's default base backoff interval. */
  public static final Duration DEFAULT_BACKOFF_BASE = Duration.ofMillis(25);

  public RetrySpec {
    Objects.requireNonNull(perTryTimeout, "perTryTimeout");
    Objects.requireNonNull(backoffBase, "backoffBase");
    Objects.requireNonNull(backoffMax, "backoffMax");
    on = List.copyOf(on);
  }
}
