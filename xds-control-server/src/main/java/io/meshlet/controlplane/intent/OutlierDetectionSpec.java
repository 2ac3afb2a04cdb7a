package io.meshlet.controlplane.intent;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Ejection of failing instances from the pick (Envoy's {@code outlier_detection}).
 *
 * @param consecutive5xx consecutive errors that eject an instance; 0 for none (always so for a gRPC
 *     service: grpc-java does not implement it)
 * @param interval how often ejections are evaluated
 * @param baseEjectionTime ejection time; multiplied by the number of times ejected
 * @param maxEjectionPercent the largest share of instances ejected at once, 0..100
 * @param failurePercentage failure-percentage ejection, the form grpc-java implements, if any
 */
public record OutlierDetectionSpec(
    int consecutive5xx,
    Duration interval,
    Duration baseEjectionTime,
    int maxEjectionPercent,
    Optional<FailurePercentage> failurePercentage) {

  public OutlierDetectionSpec {
    Objects.requireNonNull(interval, "interval");
    Objects.requireNonNull(baseEjectionTime, "baseEjectionTime");
    Objects.requireNonNull(failurePercentage, "failurePercentage");
  }

  /**
   * Ejects instances whose failure share over one interval is at or above a threshold.
   *
   * @param threshold failure percentage, 0..100
   * @param minimumHosts fewer instances than this and nothing is ejected
   * @param requestVolume fewer requests to an instance in an interval and it is not judged
   */
  public record FailurePercentage(int threshold, int minimumHosts, int requestVolume) {}
}
