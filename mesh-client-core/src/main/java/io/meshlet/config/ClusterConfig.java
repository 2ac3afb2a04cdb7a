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
 */
public record ClusterConfig(
    String name,
    LoadBalancing loadBalancing,
    CircuitBreakerPolicy limits,
    Optional<OutlierPolicy> outlierDetection,
    List<EndpointConfig> endpoints,
    List<String> peerSpiffeIds) {

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
  }

  /** A plaintext cluster. */
  public ClusterConfig(String name, LoadBalancing loadBalancing, CircuitBreakerPolicy limits,
      Optional<OutlierPolicy> outlierDetection, List<EndpointConfig> endpoints) {
    this(name, loadBalancing, limits, outlierDetection, endpoints, List.of());
  }

  /** The same cluster with other endpoints. */
  public ClusterConfig withEndpoints(List<EndpointConfig> newEndpoints) {
    return new ClusterConfig(name, loadBalancing, limits, outlierDetection, newEndpoints, peerSpiffeIds);
  }

  /** Whether calls to this cluster use mTLS. */
  public boolean mtls() {
    return !peerSpiffeIds.isEmpty();
  }
}
