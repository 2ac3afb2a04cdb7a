package io.meshlet.config;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * When a failed call is tried again (Envoy's {@code retry_policy}).
 *
 * @param numRetries retries after the first try
 * @param on the conditions that allow a retry
 * @param retriableStatusCodes extra HTTP statuses that allow a retry with
 *     {@link RetryOn#RETRIABLE_STATUS_CODES}
 * @param perTryTimeout each try's deadline, if any
 * @param baseInterval base of the jittered exponential backoff
 * @param maxInterval the largest backoff
 */
public record RetryPolicy(
    int numRetries,
    Set<RetryOn> on,
    Set<Integer> retriableStatusCodes,
    Optional<Duration> perTryTimeout,
    Duration baseInterval,
    Duration maxInterval) {

  /** Envoy's {@code retry_on} conditions that Meshlet's HTTP client applies. */
  public enum RetryOn {
    /** Any 5xx response, or a connect failure or reset. */
    FIVE_XX("5xx"),
    /** 502, 503 or 504, or a connect failure or reset. */
    GATEWAY_ERROR("gateway-error"),
    /** The connection was reset or closed before a response; includes per-try timeouts. */
    RESET("reset"),
    /** The connection could not be made. */
    CONNECT_FAILURE("connect-failure"),
    /** 409. */
    RETRIABLE_4XX("retriable-4xx"),
    /** A stream refused by the server (HTTP/2 REFUSED_STREAM). */
    REFUSED_STREAM("refused-stream"),
    /** One of {@link RetryPolicy#retriableStatusCodes()}. */
    RETRIABLE_STATUS_CODES("retriable-status-codes"),
    /**
     * gRPC status conditions: a response whose {@code grpc-status} header (a trailers-only
     * response) holds that status, as Envoy reads them.
     */
    CANCELLED("cancelled"),
    DEADLINE_EXCEEDED("deadline-exceeded"),
    INTERNAL("internal"),
    RESOURCE_EXHAUSTED("resource-exhausted"),
    UNAVAILABLE("unavailable");

    private final String envoyName;

    RetryOn(String envoyName) {
      this.envoyName = envoyName;
    }

    /** The condition as Envoy spells it in {@code retry_on}. */
    public String envoyName() {
      return envoyName;
    }

    /** The condition with the given Envoy spelling, if Meshlet knows it. */
    public static Optional<RetryOn> of(String envoyName) {
      for (RetryOn r : values()) {
        if (r.envoyName.equals(envoyName)) {
          return Optional.of(r);
        }
      }
      return Optional.empty();
    }
  }

  /** The gRPC status conditions, which read a response's {@code grpc-status} header. */
  private static final RetryOn[] GRPC_CONDITIONS = {RetryOn.CANCELLED, RetryOn.DEADLINE_EXCEEDED,
      RetryOn.INTERNAL, RetryOn.RESOURCE_EXHAUSTED, RetryOn.UNAVAILABLE};

  /**
   * Whether a condition of this policy depends on a response's {@code grpc-status} header. Asked
   * of every response that may be retried: five bit tests (an iterator over {@link #on} was 1% of
   * the calling thread's samples in the profile).
   */
  public boolean readsGrpcStatus() {
    for (RetryOn r : GRPC_CONDITIONS) {
      if (on.contains(r)) {
        return true;
      }
    }
    return false;
  }

  public RetryPolicy {
    // An enum set: the engine asks it of every response (contains is a bit test, not a hash probe).
    java.util.EnumSet<RetryOn> conditions = java.util.EnumSet.noneOf(RetryOn.class);
    conditions.addAll(on);
    on = java.util.Collections.unmodifiableSet(conditions);
    retriableStatusCodes = Set.copyOf(retriableStatusCodes);
    Objects.requireNonNull(perTryTimeout, "perTryTimeout");
    Objects.requireNonNull(baseInterval, "baseInterval");
    Objects.requireNonNull(maxInterval, "maxInterval");
    if (numRetries < 0) {
      throw new IllegalArgumentException("numRetries: " + numRetries + " (expected: >= 0)");
    }
  }
}
