package io.meshlet.config;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One route: which requests it takes and what happens to them.
 *
 * @param name a name for logs and metrics ({@code <service>#<index>} unless the route has one)
 * @param match the request condition
 * @param clusters weighted destinations; weights are relative and add up to more than 0
 * @param timeout the whole call's deadline, retries included, if any
 * @param retry the retry policy, if any
 * @param fault injected faults, if any
 * @param rateLimit a token bucket each caller applies, if any
 * @param hashHeader the header hashed for ring hash load balancing, if any
 */
public record RouteRule(
    String name,
    RequestMatch match,
    List<WeightedCluster> clusters,
    Optional<Duration> timeout,
    Optional<RetryPolicy> retry,
    Optional<FaultPolicy> fault,
    Optional<RateLimitPolicy> rateLimit,
    Optional<String> hashHeader) {

  public RouteRule {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(match, "match");
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(retry, "retry");
    Objects.requireNonNull(fault, "fault");
    Objects.requireNonNull(rateLimit, "rateLimit");
    Objects.requireNonNull(hashHeader, "hashHeader");
    clusters = List.copyOf(clusters);
    if (clusters.stream().mapToLong(WeightedCluster::weight).sum() <= 0) {
      throw new IllegalArgumentException("route '" + name + "': cluster weights add up to 0 (expected: > 0)");
    }
  }

  /**
   * One weighted destination.
   *
   * @param cluster the cluster name
   * @param weight relative weight, >= 0
   */
  public record WeightedCluster(String cluster, int weight) {
    public WeightedCluster {
      Objects.requireNonNull(cluster, "cluster");
      if (weight < 0) {
        throw new IllegalArgumentException("weight: " + weight + " (expected: >= 0)");
      }
    }
  }
}
