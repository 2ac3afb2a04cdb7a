package io.meshlet.config;

/**
 * Concurrency limits on one cluster (Envoy's circuit breaker thresholds).
 *
 * @param maxRequests requests in flight at once; more are rejected (or wait, see below)
 * @param maxPendingRequests requests that may wait for a free slot when {@code maxRequests} are in
 *     flight; more are rejected at once
 * @param maxRetries retries in flight at once; a retry above it is not made (the retry budget)
 */
public record CircuitBreakerPolicy(int maxRequests, int maxPendingRequests, int maxRetries) {

  public CircuitBreakerPolicy {
    if (maxRequests < 1 || maxPendingRequests < 0 || maxRetries < 0) {
      throw new IllegalArgumentException("circuit breaker thresholds: " + maxRequests + ", "
          + maxPendingRequests + ", " + maxRetries + " (expected: maxRequests >= 1, others >= 0)");
    }
  }

  /** Envoy's defaults: 1024 requests, 1024 pending, 3 retries. */
  public static CircuitBreakerPolicy defaults() {
    return new CircuitBreakerPolicy(1024, 1024, 3);
  }
}
