package io.meshlet.controlplane.intent;

/**
 * Limits on concurrent work against one cluster (Envoy's {@code circuit_breakers} thresholds).
 *
 * @param maxRequests concurrent requests
 * @param maxPendingRequests requests waiting for a connection
 * @param maxRetries concurrent retries
 */
public record CircuitBreakerSpec(int maxRequests, int maxPendingRequests, int maxRetries) {

  /** Envoy's defaults: 1024 requests, 1024 pending, 3 retries. */
  public static CircuitBreakerSpec defaults() {
    return new CircuitBreakerSpec(1024, 1024, 3);
  }
}
