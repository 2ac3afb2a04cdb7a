package io.meshlet.controlplane.intent;

/**
 * Zone-aware routing of one service: whether callers stay in their own zone, and when they leave it.
 *
 * @param preferLocal whether a caller that knows its zone calls the instances of that zone only,
 *     while enough of them are healthy
 * @param failoverThreshold {@code 1..100}: the percentage of the caller's zone's instances that
 *     must be healthy for calls to stay in it; below it, calls spread over every zone's healthy
 *     instances
 */
public record LocalitySpec(boolean preferLocal, int failoverThreshold) {

  /** The threshold when none is written: 70%, about where Envoy's default overprovisioning (1.4) spills. */
  public static final int DEFAULT_FAILOVER_THRESHOLD = 70;

  public LocalitySpec {
    if (failoverThreshold < 1 || failoverThreshold > 100) {
      throw new IllegalArgumentException("failoverThreshold: " + failoverThreshold + " (expected: 1..100)");
    }
  }

  /** Off: every caller spreads over every zone, as without the setting. */
  public static LocalitySpec off() {
    return new LocalitySpec(false, DEFAULT_FAILOVER_THRESHOLD);
  }
}
