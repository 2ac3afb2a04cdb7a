package io.meshlet.internal.policy;

import io.meshlet.config.EndpointConfig;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The runtime state of one endpoint: requests in flight and what outlier detection knows of it.
 * Survives config updates for as long as the endpoint stays in its cluster.
 */
public final class EndpointState {

  /** Never ejected; nanoTime values are compared by difference, so no value can stand for "long ago". */
  static final long NEVER = Long.MIN_VALUE;

  private final EndpointConfig config;
  /** {@code host:port}, made once: telemetry names the endpoint of every try. */
  private final String address;
  final AtomicInteger active = new AtomicInteger();
  // Outlier detection; guarded by 'this' where more than one field changes together. Volatile so
  // that a success can see without the lock that there is nothing to reset (the common case).
  volatile int consecutive5xx;
  volatile int consecutiveGateway;
  volatile long ejectedUntilNanos = NEVER;
  int ejections;
  long lastEjectionEndNanos;
  final LongAdder intervalRequests = new LongAdder();
  final LongAdder intervalFailures = new LongAdder();
  /** What the load reports say of this endpoint: tries and their latencies since the last report. */
  final EndpointLoad load = new EndpointLoad();

  EndpointState(EndpointConfig config) {
    this.config = config;
    this.address = config.address();
  }

  /** {@code host:port}, with brackets around an IPv6 host. */
  public String address() {
    return address;
  }

  /** The endpoint as configured. */
  public EndpointConfig config() {
    return config;
  }

  /** The load counted for the load reports since the last one. */
  public EndpointLoad load() {
    return load;
  }

  /** Requests in flight to this endpoint now. */
  public int activeRequests() {
    return active.get();
  }

  /** Whether outlier detection has this endpoint ejected at the given time. */
  public boolean ejected(long nowNanos) {
    long until = ejectedUntilNanos;
    return until != NEVER && until - nowNanos > 0;
  }

  @Override
  public String toString() {
    return address;
  }
}
