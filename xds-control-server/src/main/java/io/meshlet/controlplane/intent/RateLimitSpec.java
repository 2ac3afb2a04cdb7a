package io.meshlet.controlplane.intent;

/**
 * A local token bucket applied by each caller (Envoy's local rate limit filter).
 *
 * @param requestsPerSecond tokens added per second
 * @param burst the bucket size
 */
public record RateLimitSpec(int requestsPerSecond, int burst) {}
