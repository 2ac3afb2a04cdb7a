package io.meshlet.internal.xds;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import com.google.protobuf.Struct;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.Value;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import io.envoyproxy.envoy.config.core.v3.RuntimeFractionalPercent;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.ApiListener;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.FilterConfig;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.envoyproxy.envoy.extensions.filters.common.fault.v3.FaultDelay;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.FaultAbort;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.envoyproxy.envoy.type.v3.TokenBucket;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Envoy resources shaped as Meshlet's control server emits them (see the control server's
 * {@code XdsTranslator}), built by hand so these tests need no control server.
 */
final class XdsFixtures {

  static final String FAULT = io.meshlet.internal.wire.WireNames.FAULT_FILTER;
  static final String RATE_LIMIT = io.meshlet.internal.wire.WireNames.RATE_LIMIT_FILTER;
  static final String ROUTER = io.meshlet.internal.wire.WireNames.ROUTER_FILTER;

  private XdsFixtures() {}

  static com.google.protobuf.Duration duration(Duration d) {
    return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
  }

  static com.google.protobuf.Duration millis(long ms) {
    return duration(Duration.ofMillis(ms));
  }

  static ConfigSource ads() {
    return ConfigSource.newBuilder()
        .setAds(AggregatedConfigSource.getDefaultInstance())
        .setResourceApiVersion(ApiVersion.V3)
        .build();
  }

  static FractionalPercent percent(double percent) {
    return FractionalPercent.newBuilder()
        .setNumerator((int) Math.round(percent * 10_000))
        .setDenominator(FractionalPercent.DenominatorType.MILLION)
        .build();
  }

  // ---- listeners ----

  static HttpFilter filter(String name, Message config, boolean optional) {
    return HttpFilter.newBuilder().setName(name).setTypedConfig(Any.pack(config)).setIsOptional(optional).build();
  }

  static HttpFilter router() {
    return filter(ROUTER, Router.getDefaultInstance(), false);
  }

  static HttpFilter faultFilter() {
    return filter(FAULT, HTTPFault.getDefaultInstance(), false);
  }

  static HttpFilter rateLimitFilter(String service) {
    return filter(RATE_LIMIT, LocalRateLimit.newBuilder().setStatPrefix(service).build(), true);
  }

  static HttpConnectionManager.Builder hcm(String service, HttpFilter... filters) {
    return HttpConnectionManager.newBuilder()
        .setStatPrefix(service)
        .setRds(Rds.newBuilder().setRouteConfigName(service).setConfigSource(ads()))
        .addAllHttpFilters(List.of(filters));
  }

  static Listener listener(HttpConnectionManager hcm, String name) {
    return Listener.newBuilder()
        .setName(name)
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(hcm)))
        .build();
  }

  /** The listener of a service whose routes use faults and rate limits. */
  static Listener listener(String service) {
    return listener(hcm(service, faultFilter(), rateLimitFilter(service), router()).build(), service);
  }

  /** The listener of a service whose routes use neither faults nor rate limits. */
  static Listener plainListener(String service) {
    return listener(hcm(service, router()).build(), service);
  }

  // ---- routes ----

  static RouteConfiguration routeConfiguration(String name, Route... routes) {
    return RouteConfiguration.newBuilder()
        .setName(name)
        .addVirtualHosts(VirtualHost.newBuilder().setName(name).addDomains("*").addAllRoutes(List.of(routes)))
        .build();
  }

  static RouteMatch.Builder prefix(String prefix) {
    return RouteMatch.newBuilder().setPrefix(prefix);
  }

  static HeaderMatcher exactHeader(String name, String value) {
    return HeaderMatcher.newBuilder().setName(name)
        .setStringMatch(StringMatcher.newBuilder().setExact(value)).build();
  }

  static HeaderMatcher regexHeader(String name, String regex) {
    return HeaderMatcher.newBuilder().setName(name)
        .setStringMatch(StringMatcher.newBuilder().setSafeRegex(RegexMatcher.newBuilder().setRegex(regex))).build();
  }

  /** A route action as the translator writes it when the intent has no timeout: timeout 0. */
  static RouteAction.Builder toCluster(String cluster) {
    return RouteAction.newBuilder().setCluster(cluster).setTimeout(duration(Duration.ZERO));
  }

  /** Weighted clusters, written as name, weight, name, weight, ... */
  static RouteAction.Builder weighted(Object... nameWeightPairs) {
    WeightedCluster.Builder w = WeightedCluster.newBuilder();
    for (int i = 0; i < nameWeightPairs.length; i += 2) {
      w.addClusters(WeightedCluster.ClusterWeight.newBuilder()
          .setName((String) nameWeightPairs[i])
          .setWeight(UInt32Value.of((Integer) nameWeightPairs[i + 1])));
    }
    return RouteAction.newBuilder().setWeightedClusters(w).setTimeout(duration(Duration.ZERO));
  }

  static Route route(RouteMatch.Builder match, RouteAction.Builder action) {
    return Route.newBuilder().setMatch(match).setRoute(action).build();
  }

  static RetryPolicy retryPolicy(String on, int retries, long perTryMillis, long baseMillis, long maxMillis) {
    return RetryPolicy.newBuilder()
        .setRetryOn(on)
        .setNumRetries(UInt32Value.of(retries))
        .setPerTryTimeout(millis(perTryMillis))
        .setRetryBackOff(RetryPolicy.RetryBackOff.newBuilder()
            .setBaseInterval(millis(baseMillis))
            .setMaxInterval(millis(maxMillis)))
        .build();
  }

  static HTTPFault fault(double delayPercent, long delayMillis, double abortPercent, int abortStatus) {
    return HTTPFault.newBuilder()
        .setDelay(FaultDelay.newBuilder().setFixedDelay(millis(delayMillis)).setPercentage(percent(delayPercent)))
        .setAbort(FaultAbort.newBuilder().setHttpStatus(abortStatus).setPercentage(percent(abortPercent)))
        .build();
  }

  static LocalRateLimit rateLimit(String service, int burst, int perSecond) {
    FractionalPercent all = FractionalPercent.newBuilder()
        .setNumerator(100).setDenominator(FractionalPercent.DenominatorType.HUNDRED).build();
    return LocalRateLimit.newBuilder()
        .setStatPrefix(service)
        .setTokenBucket(TokenBucket.newBuilder()
            .setMaxTokens(burst)
            .setTokensPerFill(UInt32Value.of(perSecond))
            .setFillInterval(duration(Duration.ofSeconds(1))))
        .setFilterEnabled(RuntimeFractionalPercent.newBuilder().setDefaultValue(all))
        .setFilterEnforced(RuntimeFractionalPercent.newBuilder().setDefaultValue(all))
        .build();
  }

  /** A rate limit as the translator attaches it to a route: wrapped, optional for gRPC clients. */
  static Any optionalFilterConfig(Message config) {
    return Any.pack(FilterConfig.newBuilder().setIsOptional(true).setConfig(Any.pack(config)).build());
  }

  // ---- clusters and endpoints ----

  static Cluster.Builder cluster(String name) {
    return Cluster.newBuilder()
        .setName(name)
        .setType(Cluster.DiscoveryType.EDS)
        .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(ads()).setServiceName(name))
        .setConnectTimeout(duration(Duration.ofSeconds(1)))
        .setLbPolicy(Cluster.LbPolicy.ROUND_ROBIN);
  }

  static CircuitBreakers circuitBreakers(int maxRequests, int maxPending, int maxRetries) {
    return CircuitBreakers.newBuilder()
        .addThresholds(CircuitBreakers.Thresholds.newBuilder()
            .setPriority(RoutingPriority.DEFAULT)
            .setMaxRequests(UInt32Value.of(maxRequests))
            .setMaxPendingRequests(UInt32Value.of(maxPending))
            .setMaxRetries(UInt32Value.of(maxRetries)))
        .build();
  }

  /** Outlier detection as the translator writes it: consecutive 5xx, success rate off. */
  static OutlierDetection.Builder outlierDetection(int consecutive5xx, Duration interval, Duration base,
      int maxEjectionPercent) {
    return OutlierDetection.newBuilder()
        .setConsecutive5Xx(UInt32Value.of(consecutive5xx))
        .setEnforcingConsecutive5Xx(UInt32Value.of(100))
        .setInterval(duration(interval))
        .setBaseEjectionTime(duration(base))
        .setMaxEjectionPercent(UInt32Value.of(maxEjectionPercent))
        .setEnforcingSuccessRate(UInt32Value.of(0));
  }

  static LbEndpoint.Builder lbEndpoint(String host, int port, Map<String, String> labels) {
    LbEndpoint.Builder lb = LbEndpoint.newBuilder()
        .setHealthStatus(HealthStatus.HEALTHY)
        .setEndpoint(Endpoint.newBuilder().setAddress(Address.newBuilder()
            .setSocketAddress(SocketAddress.newBuilder().setAddress(host).setPortValue(port))));
    if (!labels.isEmpty()) {
      Struct.Builder s = Struct.newBuilder();
      labels.forEach((k, v) -> s.putFields(k, Value.newBuilder().setStringValue(v).build()));
      lb.setMetadata(Metadata.newBuilder().putFilterMetadata(io.meshlet.internal.wire.WireNames.LABELS_METADATA, s.build()));
    }
    return lb;
  }

  static ClusterLoadAssignment assignment(String cluster, LbEndpoint.Builder... endpoints) {
    ClusterLoadAssignment.Builder b = ClusterLoadAssignment.newBuilder().setClusterName(cluster);
    if (endpoints.length > 0) {
      LocalityLbEndpoints.Builder locality = LocalityLbEndpoints.newBuilder()
          .setLocality(Locality.getDefaultInstance())
          .setLoadBalancingWeight(UInt32Value.of(1));
      for (LbEndpoint.Builder e : endpoints) {
        locality.addLbEndpoints(e);
      }
      b.addEndpoints(locality);
    }
    return b.build();
  }

  /** An assignment without endpoints. */
  static ClusterLoadAssignment noEndpoints(String cluster) {
    return ClusterLoadAssignment.newBuilder().setClusterName(cluster).build();
  }

  /** An assignment of plain endpoints written {@code host:port}. */
  static ClusterLoadAssignment assignment(String cluster, String... hostPorts) {
    LbEndpoint.Builder[] eps = new LbEndpoint.Builder[hostPorts.length];
    for (int i = 0; i < hostPorts.length; i++) {
      int colon = hostPorts[i].lastIndexOf(':');
      eps[i] = lbEndpoint(hostPorts[i].substring(0, colon), Integer.parseInt(hostPorts[i].substring(colon + 1)),
          Map.of());
    }
    return assignment(cluster, eps);
  }

  // ---- whole meshes ----

  /**
   * A one-service mesh: service {@code svc}, one route to cluster {@code svc}, whose endpoints
   * are {@code endpoints}; every type has the given version.
   */
  static Snapshot mesh(String version, String svc, String... endpoints) {
    return Snapshot.create(
        List.of(cluster(svc).build()),
        List.of(assignment(svc, endpoints)),
        List.of(plainListener(svc)),
        List.of(routeConfiguration(svc, route(prefix("/"), toCluster(svc)))),
        List.of(),
        version);
  }
}
