package io.meshlet.controlplane.intent;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Faults injected into a route's calls on the caller's side (Envoy's HTTP fault filter).
 *
 * @param delay a fixed delay added to a share of the calls, if any
 * @param abort a share of calls failed at once with a status, if any
 */
public record FaultSpec(Optional<Delay> delay, Optional<Abort> abort) {

  public FaultSpec {
    Objects.requireNonNull(delay, "delay");
    Objects.requireNonNull(abort, "abort");
  }

  /**
   * A fixed delay.
   *
   * @param percent share of calls delayed, 0..100
   * @param fixed the delay
   */
  public record Delay(double percent, Duration fixed) {
    public Delay {
      Objects.requireNonNull(fixed, "fixed");
    }
  }

  /**
   * An abort. Exactly one of the two statuses is set.
   *
   * @param percent share of calls aborted, 0..100
   * @param httpStatus the HTTP status to fail with (200..599), if any
   * @param grpcStatus the gRPC status code to fail with (0..16), if any
   */
  public record Abort(double percent, Optional<Integer> httpStatus, Optional<Integer> grpcStatus) {
    public Abort {
      Objects.requireNonNull(httpStatus, "httpStatus");
      Objects.requireNonNull(grpcStatus, "grpcStatus");
    }
  }
}
