package io.meshlet.config;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Faults injected by the caller into a route's calls (Envoy's HTTP fault filter).
 *
 * @param delay a fixed delay for a share of calls, if any
 * @param abort an immediate failure for a share of calls, if any
 */
public record FaultPolicy(Optional<Delay> delay, Optional<Abort> abort) {

  /** One million: shares are in parts per million, as Envoy's {@code FractionalPercent}. */
  public static final int MILLION = 1_000_000;

  public FaultPolicy {
    Objects.requireNonNull(delay, "delay");
    Objects.requireNonNull(abort, "abort");
  }

  /**
   * A fixed delay.
   *
   * @param perMillion share of calls delayed, in parts per million
   * @param duration the delay
   */
  public record Delay(int perMillion, Duration duration) {}

  /**
   * An abort.
   *
   * @param perMillion share of calls aborted, in parts per million
   * @param httpStatus the HTTP status to answer with
   */
  public record Abort(int perMillion, int httpStatus) {}
}
