package io.meshlet.config;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Ejection of failing endpoints (Envoy's {@code outlier_detection}, consecutive errors).
 *
 * @param consecutive5xx consecutive 5xx responses (or connection failures) that eject an endpoint
 * @param consecutiveGatewayFailure consecutive 502/503/504 or connection failures that eject; 0: off
 * @param interval how often ejection multipliers decay
 * @param baseEjectionTime ejection time, multiplied by how often the endpoint was ejected
 * @param maxEjectionPercent at most this share of a cluster's endpoints are ejected at once
 * @param failurePercentage failure-percentage ejection, evaluated once per interval, if any
 */
public record OutlierPolicy(
    int consecutive5xx,
    int consecutiveGatewayFailure,
    Duration interval,
    Duration baseEjectionTime,
    int maxEjectionPercent,
    Optional<FailurePercentage> failurePercentage) {

  /**
   * Ejects endpoints whose share of failed requests in one interval is at or above a threshold.
   *
   * @param threshold failure percentage, 0..100
   * @param minimumHosts fewer endpoints with enough requests than this and nothing is ejected
   * @param requestVolume an endpoint with fewer requests in the interval is not judged
   */
  public record FailurePercentage(int threshold, int minimumHosts, int requestVolume) {}

  public OutlierPolicy {
    Objects.requireNonNull(interval, "interval");
    Objects.requireNonNull(baseEjectionTime, "baseEjectionTime");
    Objects.requireNonNull(failurePercentage, "failurePercentage");
    if (maxEjectionPercent < 0 || maxEjectionPercent > 100) {
      throw new IllegalArgumentException("maxEjectionPercent: " + maxEjectionPercent + " (expected: 0..100)");
    }
  }
}
