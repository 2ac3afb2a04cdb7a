package io.meshlet.controlplane.intent;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One service of the mesh: its instances, subsets, load balancing, limits and routes.
 *
 * @param name the logical name callers use ({@code xds:///name}, {@code http://name/})
 * @param protocol what the service speaks
 * @param endpoints statically known instances; more may register at runtime
 * @param subsets named label selectors over the endpoints, e.g. {@code v1 -> {version: v1}}
 * @param loadBalancing how an instance is picked within a cluster
 * @param hashHeader for {@link LoadBalancing#RING_HASH}: the request header hashed, if any
 * @param circuitBreaker limits on concurrent requests to one cluster, if any
 * @param outlierDetection ejection of failing instances, if any
 * @param routes ordered routes; the first match wins
 * @param authorization who may call this service, if restricted
 * @param mtlsMode this service's mTLS mode when it overrides the mesh-wide one
 * @param locality zone-aware routing; {@link LocalitySpec#off()} unless written
 */
public record ServiceSpec(
    String name,
    Protocol protocol,
    List<EndpointSpec> endpoints,
    Map<String, Map<String, String>> subsets,
    LoadBalancing loadBalancing,
    Optional<String> hashHeader,
    Optional<CircuitBreakerSpec> circuitBreaker,
    Optional<OutlierDetectionSpec> outlierDetection,
    List<RouteSpec> routes,
    Optional<AuthorizationSpec> authorization,
    Optional<MtlsSpec.Mode> mtlsMode,
    LocalitySpec locality) {

  /** The protocol a service speaks. */
  public enum Protocol {
    HTTP,
    GRPC
  }

  /** How an instance is picked within a cluster (Envoy's {@code lb_policy}). */
  public enum LoadBalancing {
    ROUND_ROBIN,
    LEAST_REQUEST,
    RING_HASH,
    RANDOM
  }

  public ServiceSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(protocol, "protocol");
    Objects.requireNonNull(loadBalancing, "loadBalancing");
    Objects.requireNonNull(hashHeader, "hashHeader");
    Objects.requireNonNull(circuitBreaker, "circuitBreaker");
    Objects.requireNonNull(outlierDetection, "outlierDetection");
    Objects.requireNonNull(authorization, "authorization");
    Objects.requireNonNull(mtlsMode, "mtlsMode");
    Objects.requireNonNull(locality, "locality");
    endpoints = List.copyOf(endpoints);
    LinkedHashMap<String, Map<String, String>> copy = new LinkedHashMap<>();
    subsets.forEach((k, v) -> copy.put(k, Collections.unmodifiableMap(new LinkedHashMap<>(v))));
    subsets = Collections.unmodifiableMap(copy);
    routes = List.copyOf(routes);
  }

  /** A service without zone-aware routing. */
  public ServiceSpec(String name, Protocol protocol, List<EndpointSpec> endpoints,
      Map<String, Map<String, String>> subsets, LoadBalancing loadBalancing, Optional<String> hashHeader,
      Optional<CircuitBreakerSpec> circuitBreaker, Optional<OutlierDetectionSpec> outlierDetection,
      List<RouteSpec> routes, Optional<AuthorizationSpec> authorization, Optional<MtlsSpec.Mode> mtlsMode) {
    this(name, protocol, endpoints, subsets, loadBalancing, hashHeader, circuitBreaker, outlierDetection, routes,
        authorization, mtlsMode, LocalitySpec.off());
  }

  /** The mTLS mode of calls to this service: its own, or else the mesh's. */
  public MtlsSpec.Mode mtlsMode(MeshConfig mesh) {
    return mtlsMode.orElse(mesh.mtls().mode());
  }

  /** The endpoints whose labels include every label of the named subset. */
  public List<EndpointSpec> endpointsOf(String subset) {
    Map<String, String> selector = subsets.get(subset);
    if (selector == null) {
      throw new IllegalArgumentException("service '" + name + "' has no subset '" + subset + "'");
    }
    return endpoints.stream()
        .filter(e -> e.labels().entrySet().containsAll(selector.entrySet()))
        .toList();
  }

  /**
   * A service mesh.yaml does not declare, made by an instance registering itself: default
   * policies and one route to every endpoint.
   */
  public static ServiceSpec registered(String name, Protocol protocol) {
    RouteSpec all = new RouteSpec(MatchSpec.any(), List.of(new RouteSpec.WeightedTarget(Optional.empty(), 100)),
        Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
    return new ServiceSpec(name, protocol, List.of(), Map.of(), LoadBalancing.ROUND_ROBIN, Optional.empty(),
        Optional.empty(), Optional.empty(), List.of(all), Optional.empty(), Optional.empty());
  }

  /** This service with more endpoints, after its own. */
  public ServiceSpec withMoreEndpoints(List<EndpointSpec> more) {
    List<EndpointSpec> all = new java.util.ArrayList<>(endpoints);
    all.addAll(more);
    return new ServiceSpec(name, protocol, all, subsets, loadBalancing, hashHeader, circuitBreaker, outlierDetection,
        routes, authorization, mtlsMode, locality);
  }
}
