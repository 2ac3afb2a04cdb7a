package io.meshlet.config;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A cluster: a set of endpoints with a load balancing policy, concurrency limits and outlier
 * detection (Envoy's {@code Cluster} plus its {@code ClusterLoadAssignment}).
 *
 * @param name the cluster name, e.g. {@code catalog/v1}
 * @param loadBalancing how an endpoint is picked
 * @param limits concurrency limits (Envoy's circuit breaker thresholds)
 * @param outlierDetection ejection of failing endpoints, if configured
 * @param endpoints the endpoints, possibly none
 * @param peerSpiffeIds when not empty, calls use mTLS and the peer must present one of these IDs
 * @param ringSize the ring's bounds, for {@link LoadBalancing#RING_HASH}
 * @param overprovisioningFactor Envoy's {@code overprovisioning_factor} of the endpoint assignment,
 *     in percent ({@value #DEFAULT_OVERPROVISIONING_FACTOR} when unset): priority 0 takes every call
 *     while the share of its endpoints that are healthy, times this, is at least 100%
 */
public record ClusterConfig(
    String name,
    LoadBalancing loadBalancing,
    CircuitBreakerPolicy limits,
    Optional<OutlierPolicy> outlierDetection,
    List<EndpointConfig> endpoints,
    List<String> peerSpiffeIds,
    RingSize ringSize,
    int overprovisioningFactor) {

  /** Envoy's default overprovisioning factor, 1.4. */
  public static final int DEFAULT_OVERPROVISIONING_FACTOR = 140;

  /**
   * The bounds of a ring hash ring (Envoy's {@code RingHash.minimum_ring_size} and
   * {@code maximum_ring_size}).
   *
   * @param min at least this many entries, unless {@code max} is smaller
   * @param max at most this many entries
   */
  public record RingSize(long min, long max) {
    /** grpc-java's defaults, and what Meshlet's control server sends: 1024..4096. */
    public static RingSize defaults() {
      return new RingSize(1024, 4096);
    }

    public RingSize {
      if (min < 1 || max < min) {
        throw new IllegalArgumentException("ring size: " + min + ".." + max + " (expected: 1 <= min <= max)");
      }
    }
  }

  /** How an endpoint is picked within a cluster. */
  public enum LoadBalancing {
    ROUND_ROBIN,
    LEAST_REQUEST,
    RING_HASH,
    RANDOM
  }

  public ClusterConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(loadBalancing, "loadBalancing");
    Objects.requireNonNull(limits, "limits");
    Objects.requireNonNull(outlierDetection, "outlierDetection");
    endpoints = List.copyOf(endpoints);
    peerSpiffeIds = List.copyOf(peerSpiffeIds);
    Objects.requireNonNull(ringSize, "ringSize");
    if (overprovisioningFactor < 1) {
      throw new IllegalArgumentException("overprovisioningFactor: " + overprovisioningFactor + " (expected: >= 1)");
    }
  }

  /** A cluster with Envoy's default overprovisioning factor. */
  public ClusterConfig(String name, LoadBalancing loadBalancing, CircuitBreakerPolicy limits,
      Optional<OutlierPolicy> outlierDetection, List<EndpointConfig> endpoints, List<String> peerSpiffeIds,
      RingSize ringSize) {
    this(name, loadBalancing, limits, outlierDetection, endpoints, peerSpiffeIds, ringSize,
        DEFAULT_OVERPROVISIONING_FACTOR);
  }

  /** A cluster with the default ring size. */
  public ClusterConfig(String name, LoadBalancing loadBalancing, CircuitBreakerPolicy limits,
      Optional<OutlierPolicy> outlierDetection, List<EndpointConfig> endpoints, List<String> peerSpiffeIds) {
    this(name, loadBalancing, limits, outlierDetection, endpoints, peerSpiffeIds, RingSize.defaults());
  }

  /** A plaintext cluster. */
  public ClusterConfig(String name, LoadBalancing loadBalancing, CircuitBreakerPolicy limits,
      Optional<OutlierPolicy> outlierDetection, List<EndpointConfig> endpoints) {
    this(name, loadBalancing, limits, outlierDetection, endpoints, List.of(), RingSize.defaults());
  }

  /** The same cluster with other endpoints. */
  public ClusterConfig withEndpoints(List<EndpointConfig> newEndpoints) {
    return withEndpoints(newEndpoints, overprovisioningFactor);
  }

  /** The same cluster with other endpoints and the overprovisioning factor of their assignment. */
  public ClusterConfig withEndpoints(List<EndpointConfig> newEndpoints, int newOverprovisioningFactor) {
    return new ClusterConfig(name, loadBalancing, limits, outlierDetection, newEndpoints, peerSpiffeIds, ringSize,
        newOverprovisioningFactor);
  }

  /** Whether calls to this cluster use mTLS. */
  public boolean mtls() {
    return !peerSpiffeIds.isEmpty();
  }
}
