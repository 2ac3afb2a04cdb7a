package io.meshlet.controlplane.intent;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One route of a service: which requests it matches and what happens to them.
 *
 * @param match which requests this route takes
 * @param to weighted destinations; weights are relative
 * @param timeout the whole call's deadline, including retries, if any
 * @param retries the retry policy, if any
 * @param faults injected delays and aborts, if any
 * @param rateLimit a local token bucket, if any
 */
public record RouteSpec(
    MatchSpec match,
    List<WeightedTarget> to,
    Optional<Duration> timeout,
    Optional<RetrySpec> retries,
    Optional<FaultSpec> faults,
    Optional<RateLimitSpec> rateLimit) {

  public RouteSpec {
    Objects.requireNonNull(match, "match");
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(retries, "retries");
    Objects.requireNonNull(faults, "faults");
    Objects.requireNonNull(rateLimit, "rateLimit");
    to = List.copyOf(to);
    if (to.isEmpty()) {
      throw new IllegalArgumentException("to: [] (expected: at least one target)");
    }
  }

  /**
   * One weighted destination of a route.
   *
   * @param subset the subset of the service, or empty for every endpoint of it
   * @param weight relative weight, 0..1000000
   */
  public record WeightedTarget(Optional<String> subset, int weight) {
    public WeightedTarget {
      Objects.requireNonNull(subset, "subset");
      if (weight < 0) {
        throw new IllegalArgumentException("weight: " + weight + " (expected: >= 0)");
      }
    }
  }
}
