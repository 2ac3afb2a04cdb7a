// Long by design: one table of expected Envoy resources per mesh.yaml feature, for every resource
// type the translator emits, so an encoding change shows against all of them at once.
package io.meshlet.controlplane.internal.translate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.FilterConfig;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest;
import io.envoyproxy.envoy.extensions.load_balancing_policies.random.v3.Random;
import io.envoyproxy.envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash;
import io.envoyproxy.envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.envoyproxy.envoy.type.v3.FractionalPercent.DenominatorType;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.MeshConfigParser;
import io.meshlet.internal.wire.WireNames;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class XdsTranslatorTest {

  /** Every field of a service: an HTTP service, as gRPC services refuse the HTTP-only ones. */
  static final String MESH = """
      services:
        catalog:
          protocol: http
          endpoints:
            - { address: 10.0.0.1:9001, labels: { version: v1 } }
            - { address: 10.0.0.2:9001, labels: { version: v2, zone: a } }
            - { address: 10.0.0.3:9001, labels: { version: v2, zone: b } }
          subsets: { v1: { version: v1 }, v2: { version: v2 } }
          loadBalancing: ring_hash
          hashHeader: x-user
          circuitBreaker: { maxRequests: 100, maxPendingRequests: 50, maxRetries: 3 }
          outlierDetection:
            consecutive5xx: 7
            interval: 10s
            baseEjectionTime: 30s
            maxEjectionPercent: 50
            failurePercentage: { threshold: 60, minimumHosts: 3, requestVolume: 20 }
          routes:
            - match:
                path: /catalog.Catalog/Get
                headers: { x-canary: "true", x-tenant: { regex: "t-[0-9]+" }, x-debug: { present: true } }
              to: [ { subset: v2, weight: 100 } ]
            - match: { pathPrefix: /catalog.Catalog/ }
              to: [ { subset: v1, weight: 90 }, { subset: v2, weight: 10 } ]
              timeout: 2500ms
              retries:
                attempts: 3
                perTryTimeout: 500ms
                on: [ unavailable, cancelled, 5xx ]
                backoff: { base: 25ms, max: 250ms }
              faults: { delay: { percent: 1, fixed: 100ms }, abort: { percent: 0.1, grpcStatus: 14 } }
              rateLimit: { requestsPerSecond: 500, burst: 100 }
        plain:
          endpoints: [ { address: 10.0.1.1:8080 } ]
      """;

  static MeshConfig mesh(String yaml) throws Exception {
    return MeshConfigParser.parse(yaml, "mesh.yaml");
  }

  static XdsResources translate(String yaml) throws Exception {
    return XdsTranslator.translate(mesh(yaml));
  }

  static <T extends Message> T unpack(Any any, Class<T> type) {
    try {
      return any.unpack(type);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("not a " + type.getSimpleName() + ": " + any.getTypeUrl(), e);
    }
  }

  static HttpConnectionManager hcm(XdsResources resources, String name) {
    Listener listener = resources.listeners().stream()
        .filter(l -> l.getName().equals(name)).findFirst().orElseThrow();
    return unpack(listener.getApiListener().getApiListener(), HttpConnectionManager.class);
  }

  static List<Route> routes(XdsResources resources, String name) {
    RouteConfiguration rc = resources.routes().stream()
        .filter(r -> r.getName().equals(name)).findFirst().orElseThrow();
    assertThat(rc.getVirtualHostsList()).hasSize(1);
    return rc.getVirtualHosts(0).getRoutesList();
  }

  static Cluster cluster(XdsResources resources, String name) {
    return resources.clusters().stream().filter(c -> c.getName().equals(name)).findFirst().orElseThrow();
  }

  static ClusterLoadAssignment assignment(XdsResources resources, String name) {
    return resources.endpoints().stream()
        .filter(c -> c.getClusterName().equals(name)).findFirst().orElseThrow();
  }

  static Duration millis(long ms) {
    return Duration.newBuilder().setSeconds(ms / 1000).setNanos((int) (ms % 1000) * 1_000_000).build();
  }

  static final ConfigSource ADS = ConfigSource.newBuilder()
      .setAds(io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource.getDefaultInstance())
      .setResourceApiVersion(ApiVersion.V3)
      .build();

  @Test
  void eachServiceGetsAListenerRouteConfigurationAndClustersNamedAfterIt() throws Exception {
    XdsResources r = translate(MESH);

    assertThat(r.listeners()).filteredOn(Listener::hasApiListener).extracting(Listener::getName)
        .containsExactly("catalog", "plain");
    assertThat(r.listeners()).filteredOn(l -> !l.hasApiListener()).isEmpty();
    // A gRPC service's instances also get the listeners XdsServerBuilder asks for, by address.
    XdsResources grpc = translate("""
        services:
          catalog: { protocol: grpc, endpoints: [ { address: 10.0.0.1:9001 } ] }
        """);
    assertThat(grpc.listeners()).filteredOn(l -> !l.hasApiListener()).extracting(Listener::getName)
        .containsExactly("grpc/server?xds.resource.listening_address=10.0.0.1:9001",
            "grpc/server?xds.resource.listening_address=0.0.0.0:9001");
    assertThat(r.routes()).extracting(RouteConfiguration::getName).containsExactly("catalog", "plain");
    assertThat(r.clusters()).extracting(Cluster::getName)
        .containsExactly("catalog", "catalog/v1", "catalog/v2", "plain");
    assertThat(r.endpoints()).extracting(ClusterLoadAssignment::getClusterName)
        .containsExactly("catalog", "catalog/v1", "catalog/v2", "plain");
  }

  @Test
  void listenerIsAnApiListenerWithRdsOverAdsAndTheRouterFilterLast() throws Exception {
    XdsResources r = translate(MESH);

    for (String service : List.of("catalog", "plain")) {
      Listener listener = r.listeners().stream().filter(l -> l.getName().equals(service)).findFirst().orElseThrow();
      assertThat(listener.hasApiListener()).isTrue();
      assertThat(listener.hasAddress()).as("an API listener has no socket").isFalse();
      HttpConnectionManager hcm = hcm(r, service);
      assertThat(hcm.hasRds()).isTrue();
      assertThat(hcm.getRds().getRouteConfigName()).isEqualTo(service);
      assertThat(hcm.getRds().getConfigSource()).isEqualTo(ADS);
      List<HttpFilter> filters = hcm.getHttpFiltersList();
      HttpFilter last = filters.get(filters.size() - 1);
      assertThat(last.getName()).isEqualTo(WireNames.ROUTER_FILTER);
      assertThat(last.getTypedConfig().getTypeUrl())
          .isEqualTo("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
    }
  }

  @Test
  void faultAndRateLimitFiltersAreThereOnlyWhenARouteUsesThem() throws Exception {
    XdsResources r = translate(MESH);

    assertThat(hcm(r, "plain").getHttpFiltersList()).extracting(HttpFilter::getName)
        .containsExactly(WireNames.ROUTER_FILTER);

    List<HttpFilter> filters = hcm(r, "catalog").getHttpFiltersList();
    assertThat(filters).extracting(HttpFilter::getName).containsExactly(
        WireNames.FAULT_FILTER, WireNames.RATE_LIMIT_FILTER, WireNames.ROUTER_FILTER);
    assertThat(filters.get(0).getIsOptional()).as("grpc-java implements the fault filter").isFalse();
    unpack(filters.get(0).getTypedConfig(), HTTPFault.class);
    assertThat(filters.get(1).getIsOptional())
        .as("grpc-java has no local rate limit filter and must skip it, not NACK").isTrue();
    assertThat(unpack(filters.get(1).getTypedConfig(), LocalRateLimit.class).getStatPrefix()).isEqualTo("catalog");
  }

  @Test
  void everyClusterReportsLoadToThisServer() throws Exception {
    XdsResources r = translate(MESH);

    // The console reads every cluster's load; grpc-java enforces max_requests only where it reports load.
    assertThat(cluster(r, "catalog").hasLrsServer()).as("catalog has a circuit breaker").isTrue();
    assertThat(cluster(r, "catalog").getLrsServer().hasSelf()).isTrue();
    assertThat(cluster(r, "plain").hasLrsServer()).as("plain has no circuit breaker, and reports too").isTrue();
  }

  @Test
  void routeMatchesPathsAndHeadersAsWritten() throws Exception {
    List<Route> routes = routes(translate(MESH), "catalog");

    var get = routes.get(0).getMatch();
    assertThat(get.getPath()).isEqualTo("/catalog.Catalog/Get");
    assertThat(get.getHeadersList()).hasSize(3);
    HeaderMatcher canary = get.getHeaders(0);
    assertThat(canary.getName()).isEqualTo("x-canary");
    assertThat(canary.getExactMatch()).isEqualTo("true");
    HeaderMatcher tenant = get.getHeaders(1);
    assertThat(tenant.getName()).isEqualTo("x-tenant");
    assertThat(tenant.getSafeRegexMatch().getRegex()).isEqualTo("t-[0-9]+");
    HeaderMatcher debug = get.getHeaders(2);
    assertThat(debug.getName()).isEqualTo("x-debug");
    assertThat(debug.getPresentMatch()).isTrue();

    assertThat(routes.get(1).getMatch().getPrefix()).isEqualTo("/catalog.Catalog/");
    assertThat(routes(translate(MESH), "plain").get(0).getMatch().getPrefix()).isEqualTo("/");
  }

  @Test
  @SuppressWarnings("deprecation")
  void headerMatchesUseTheOneofFieldsEveryClientReadsNotStringMatch() throws Exception {
    // gRPC C-core reads HeaderMatcher.string_match only from 1.56 (gRFC A63): 1.51 refuses the
    // whole route configuration. exact_match / safe_regex_match / present_match are read by all.
    List<HeaderMatcher> headers = routes(translate(MESH), "catalog").get(0).getMatch().getHeadersList();

    assertThat(headers).extracting(HeaderMatcher::getHeaderMatchSpecifierCase).containsExactly(
        HeaderMatcher.HeaderMatchSpecifierCase.EXACT_MATCH,
        HeaderMatcher.HeaderMatchSpecifierCase.SAFE_REGEX_MATCH,
        HeaderMatcher.HeaderMatchSpecifierCase.PRESENT_MATCH);
    assertThat(headers).noneMatch(HeaderMatcher::hasStringMatch);
  }

  @Test
  void aSplitWhoseWeightsDoNotAddUpTo100StatesItsTotalWeight() throws Exception {
    XdsResources r = translate("""
        services:
          canary:
            subsets: { v1: { version: v1 }, v2: { version: v2 }, v3: { version: v3 } }
            routes:
              - match: { pathPrefix: /a }
                to: [ { subset: v1, weight: 3 }, { subset: v2, weight: 1 } ]
              - to: [ { subset: v1, weight: 90 }, { subset: v2, weight: 10 }, { subset: v3, weight: 0 } ]
        """);
    List<Route> routes = routes(r, "canary");

    // C-core 1.51 takes an unset total_weight as 100 and refuses 3 + 1.
    assertThat(routes.get(0).getRoute().getWeightedClusters().getTotalWeight().getValue()).isEqualTo(4);
    // Left out when the default fits: the field is deprecated in Envoy.
    assertThat(routes.get(1).getRoute().getWeightedClusters().hasTotalWeight()).isFalse();
  }

  @Test
  void oneTargetIsAClusterAndSeveralAreWeightedClusters() throws Exception {
    XdsResources r = translate(MESH);
    List<Route> catalog = routes(r, "catalog");

    assertThat(catalog.get(0).getRoute().getCluster()).isEqualTo("catalog/v2");
    assertThat(catalog.get(0).getRoute().hasWeightedClusters()).isFalse();

    RouteAction split = catalog.get(1).getRoute();
    assertThat(split.getCluster()).isEmpty();
    assertThat(split.getWeightedClusters().getClustersList())
        .extracting(WeightedCluster.ClusterWeight::getName, w -> w.getWeight().getValue())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("catalog/v1", 90),
            org.assertj.core.groups.Tuple.tuple("catalog/v2", 10));

    assertThat(routes(r, "plain").get(0).getRoute().getCluster()).isEqualTo("plain");
    VirtualHost host = r.routes().get(1).getVirtualHosts(0);
    assertThat(host.getDomainsList()).containsExactly("*");
  }

  @Test
  void aTargetWithWeightZeroIsLeftOut() throws Exception {
    XdsResources r = translate("""
        services:
          canary:
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            routes:
              - to: [ { subset: v1, weight: 100 }, { subset: v2, weight: 0 } ]
        """);

    assertThat(routes(r, "canary").get(0).getRoute().getCluster()).isEqualTo("canary/v1");
  }

  @Test
  void timeoutIsSetForEnvoyAndForGrpcJava() throws Exception {
    List<Route> routes = routes(translate(MESH), "catalog");

    RouteAction timed = routes.get(1).getRoute();
    assertThat(timed.getTimeout()).isEqualTo(millis(2500));
    assertThat(timed.getMaxStreamDuration().getMaxStreamDuration()).isEqualTo(millis(2500));

    RouteAction untimed = routes.get(0).getRoute();
    assertThat(untimed.getTimeout()).as("0 turns off Envoy's 15s default").isEqualTo(millis(0));
    assertThat(untimed.hasMaxStreamDuration()).isFalse();
  }

  @Test
  void retryPolicyCarriesConditionsAttemptsAndBackoff() throws Exception {
    List<Route> routes = routes(translate(MESH), "catalog");

    RetryPolicy retry = routes.get(1).getRoute().getRetryPolicy();
    assertThat(retry.getRetryOn()).isEqualTo("unavailable,cancelled,5xx");
    assertThat(retry.getNumRetries().getValue()).isEqualTo(3);
    assertThat(retry.getPerTryTimeout()).isEqualTo(millis(500));
    assertThat(retry.getRetryBackOff().getBaseInterval()).isEqualTo(millis(25));
    assertThat(retry.getRetryBackOff().getMaxInterval()).isEqualTo(millis(250));
    assertThat(routes.get(0).getRoute().hasRetryPolicy()).isFalse();
  }

  @Test
  void noRetriesIsNoRetryPolicyBecauseGrpcJsAndCcoreRefuseNumRetriesZero() throws Exception {
    Route route = routes(translate("""
        services:
          orders:
            routes:
              - { to: [ { weight: 100 } ], retries: { attempts: 0 } }
        """), "orders").get(0);

    assertThat(route.getRoute().hasRetryPolicy()).isFalse();
  }

  @Test
  void ringHashRoutesHashTheConfiguredHeader() throws Exception {
    List<Route> routes = routes(translate(MESH), "catalog");

    for (Route route : routes) {
      assertThat(route.getRoute().getHashPolicyList()).extracting(h -> h.getHeader().getHeaderName())
          .containsExactly("x-user");
    }
    assertThat(routes(translate(MESH), "plain").get(0).getRoute().getHashPolicyList()).isEmpty();
  }

  @Test
  void faultsAreFractionsOfAMillionOnTheRoute() throws Exception {
    List<Route> routes = routes(translate(MESH), "catalog");

    assertThat(routes.get(0).getTypedPerFilterConfigMap()).isEmpty();
    Map<String, Any> perFilter = routes.get(1).getTypedPerFilterConfigMap();
    assertThat(perFilter).containsOnlyKeys(WireNames.FAULT_FILTER, WireNames.RATE_LIMIT_FILTER);

    HTTPFault fault = unpack(perFilter.get(WireNames.FAULT_FILTER), HTTPFault.class);
    assertThat(fault.getDelay().getFixedDelay()).isEqualTo(millis(100));
    assertThat(fault.getDelay().getPercentage()).isEqualTo(FractionalPercent.newBuilder()
        .setNumerator(10_000).setDenominator(DenominatorType.MILLION).build());
    assertThat(fault.getAbort().getGrpcStatus()).isEqualTo(14);
    assertThat(fault.getAbort().getHttpStatus()).isZero();
    assertThat(fault.getAbort().getPercentage()).isEqualTo(FractionalPercent.newBuilder()
        .setNumerator(1000).setDenominator(DenominatorType.MILLION).build());
  }

  @Test
  void rateLimitIsAnOptionalPerRouteTokenBucket() throws Exception {
    Any any = routes(translate(MESH), "catalog").get(1)
        .getTypedPerFilterConfigMap().get(WireNames.RATE_LIMIT_FILTER);

    FilterConfig wrapper = unpack(any, FilterConfig.class);
    assertThat(wrapper.getIsOptional()).isTrue();
    LocalRateLimit limit = unpack(wrapper.getConfig(), LocalRateLimit.class);
    assertThat(limit.getStatPrefix()).isEqualTo("catalog");
    assertThat(limit.getTokenBucket().getMaxTokens()).isEqualTo(100);
    assertThat(limit.getTokenBucket().getTokensPerFill().getValue()).isEqualTo(500);
    assertThat(limit.getTokenBucket().getFillInterval()).isEqualTo(millis(1000));
    FractionalPercent all = FractionalPercent.newBuilder()
        .setNumerator(100).setDenominator(DenominatorType.HUNDRED).build();
    assertThat(limit.getFilterEnabled().getDefaultValue()).isEqualTo(all);
    assertThat(limit.getFilterEnforced().getDefaultValue()).isEqualTo(all);
  }

  @Test
  void clustersAreEdsOverAdsWithTheirLoadBalancingAndLimits() throws Exception {
    XdsResources r = translate(MESH);

    for (String name : List.of("catalog", "catalog/v1", "catalog/v2")) {
      Cluster c = cluster(r, name);
      assertThat(c.getType()).isEqualTo(Cluster.DiscoveryType.EDS);
      assertThat(c.getEdsClusterConfig().getEdsConfig()).isEqualTo(ADS);
      assertThat(c.getEdsClusterConfig().getServiceName()).isEqualTo(name);
      assertThat(c.getLoadBalancingPolicy().getPoliciesList())
          .extracting(p -> p.getTypedExtensionConfig().getName(), p -> p.getTypedExtensionConfig().getTypedConfig())
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple("envoy.load_balancing_policies.ring_hash", Any.pack(RingHash.newBuilder()
                  .setHashFunction(RingHash.HashFunction.XX_HASH)
                  .setMinimumRingSize(com.google.protobuf.UInt64Value.of(1024))
                  .setMaximumRingSize(com.google.protobuf.UInt64Value.of(4096)).build())),
              org.assertj.core.groups.Tuple.tuple("envoy.load_balancing_policies.round_robin",
                  Any.pack(RoundRobin.getDefaultInstance())));
      assertThat(c.getLbPolicy()).as("what C-core 1.51 reads: round robin, as its ring hash crashes")
          .isEqualTo(Cluster.LbPolicy.ROUND_ROBIN);
      assertThat(c.hasRingHashLbConfig()).isFalse();

      assertThat(c.getCircuitBreakers().getThresholdsList()).hasSize(1);
      CircuitBreakers.Thresholds t = c.getCircuitBreakers().getThresholds(0);
      assertThat(t.getPriority()).isEqualTo(RoutingPriority.DEFAULT);
      assertThat(t.getMaxRequests().getValue()).isEqualTo(100);
      assertThat(t.getMaxPendingRequests().getValue()).isEqualTo(50);
      assertThat(t.getMaxRetries().getValue()).isEqualTo(3);

      OutlierDetection od = c.getOutlierDetection();
      assertThat(od.getConsecutive5Xx().getValue()).isEqualTo(7);
      assertThat(od.getEnforcingConsecutive5Xx().getValue()).isEqualTo(100);
      assertThat(od.getInterval()).isEqualTo(millis(10_000));
      assertThat(od.getBaseEjectionTime()).isEqualTo(millis(30_000));
      assertThat(od.getMaxEjectionPercent().getValue()).isEqualTo(50);
      assertThat(od.hasEnforcingSuccessRate()).isTrue();
      assertThat(od.getEnforcingSuccessRate().getValue()).as("success-rate ejection off").isZero();
      assertThat(od.getFailurePercentageThreshold().getValue()).isEqualTo(60);
      assertThat(od.getFailurePercentageMinimumHosts().getValue()).isEqualTo(3);
      assertThat(od.getFailurePercentageRequestVolume().getValue()).isEqualTo(20);
      assertThat(od.getEnforcingFailurePercentage().getValue()).isEqualTo(100);
    }

    Cluster plain = cluster(r, "plain");
    assertThat(plain.getLoadBalancingPolicy().getPoliciesList())
        .extracting(p -> p.getTypedExtensionConfig().getTypedConfig())
        .containsExactly(Any.pack(RoundRobin.getDefaultInstance()));
    assertThat(plain.getLbPolicy()).isEqualTo(Cluster.LbPolicy.ROUND_ROBIN);
    assertThat(plain.hasRingHashLbConfig()).isFalse();
    assertThat(plain.hasCircuitBreakers()).isFalse();
    assertThat(plain.hasOutlierDetection()).isFalse();
    assertThat(plain.getConnectTimeout()).isEqualTo(millis(1000));
  }

  @Test
  void outlierDetectionWithoutFailurePercentageLeavesItUnenforced() throws Exception {
    Cluster c = cluster(translate("""
        services:
          orders:
            outlierDetection: { consecutive5xx: 3 }
        """), "orders");

    OutlierDetection od = c.getOutlierDetection();
    assertThat(od.getEnforcingSuccessRate().getValue()).isZero();
    assertThat(od.hasEnforcingFailurePercentage()).isFalse();
    assertThat(od.getMaxEjectionPercent().getValue()).isEqualTo(10);
  }

  @Test
  void aGrpcServiceOutlierDetectionEnforcesFailurePercentageAndNoConsecutive5xx() throws Exception {
    Cluster c = cluster(translate("""
        services:
          orders:
            protocol: grpc
            outlierDetection: { failurePercentage: { threshold: 50 } }
        """), "orders");

    OutlierDetection od = c.getOutlierDetection();
    // Envoy enforces consecutive_5xx: 5 when unset; grpc-java never does: switched off for both.
    assertThat(od.hasConsecutive5Xx()).isFalse();
    assertThat(od.getEnforcingConsecutive5Xx().getValue()).isZero();
    assertThat(od.getEnforcingFailurePercentage().getValue()).isEqualTo(100);
    assertThat(io.meshlet.internal.xds.ResourceParser.cluster(c).outlierDetection().orElseThrow().consecutive5xx())
        .as("Meshlet's client reads it the same way").isZero();
  }

  @Test
  void otherLoadBalancingPoliciesAreListedBeforeRoundRobinForClientsWithoutThem() throws Exception {
    XdsResources r = translate("""
        services:
          lr: { loadBalancing: least_request }
          rnd: { loadBalancing: random }
        """);

    // grpc-js and C-core refuse lb_policy: LEAST_REQUEST; from the list they take round robin.
    Cluster leastRequest = cluster(r, "lr");
    assertThat(leastRequest.getLoadBalancingPolicy().getPoliciesList())
        .extracting(p -> p.getTypedExtensionConfig().getName(), p -> p.getTypedExtensionConfig().getTypedConfig())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("envoy.load_balancing_policies.least_request",
                Any.pack(LeastRequest.getDefaultInstance())),
            org.assertj.core.groups.Tuple.tuple("envoy.load_balancing_policies.round_robin",
                Any.pack(RoundRobin.getDefaultInstance())));
    assertThat(leastRequest.getLbPolicy()).as("what C-core 1.51 reads").isEqualTo(Cluster.LbPolicy.ROUND_ROBIN);
    Cluster random = cluster(r, "rnd");
    assertThat(random.getLoadBalancingPolicy().getPoliciesList())
        .extracting(p -> p.getTypedExtensionConfig().getName(), p -> p.getTypedExtensionConfig().getTypedConfig())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("envoy.load_balancing_policies.random",
                Any.pack(Random.getDefaultInstance())),
            org.assertj.core.groups.Tuple.tuple("envoy.load_balancing_policies.round_robin",
                Any.pack(RoundRobin.getDefaultInstance())));
    assertThat(random.getLbPolicy()).isEqualTo(Cluster.LbPolicy.ROUND_ROBIN);
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.EnumSource(io.meshlet.controlplane.intent.ServiceSpec.LoadBalancing.class)
  void meshletsOwnClientReadsEveryLoadBalancingPolicyAsIntended(
      io.meshlet.controlplane.intent.ServiceSpec.LoadBalancing lb) throws Exception {
    Cluster c = cluster(translate("""
        services:
          orders: { loadBalancing: %s }
        """.formatted(lb.name().toLowerCase())), "orders");

    assertThat(io.meshlet.internal.xds.ResourceParser.cluster(c).loadBalancing().name()).isEqualTo(lb.name());
  }

  @Test
  void meshletsOwnClientReadsEveryResourceTheTranslatorEmitsWithTheSameMeaning() throws Exception {
    XdsResources r = translate(MESH + """
          guarded:
            endpoints: [ { address: 10.0.2.1:8080 } ]
            routes:
              - match: { pathPrefix: /a }
                to: [ { subset: v1, weight: 3 }, { subset: v2, weight: 1 } ]
              - to: [ { subset: v1 } ]
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            authorization:
              allow: [ spiffe://example.org/service/frontend ]
              rules:
                - match: { pathPrefix: /admin, methods: [ POST ] }
                  allow: [ spiffe://example.org/service/ops ]
        """);

    java.util.Map<String, io.meshlet.internal.xds.ListenerResource> listeners = new java.util.HashMap<>();
    for (Listener l : r.listeners()) {
      if (l.hasApiListener()) { // the others are for grpc-java's XdsServerBuilder
        listeners.put(l.getName(), io.meshlet.internal.xds.ResourceParser.listener(l));
      }
    }
    assertThat(listeners).containsKeys("catalog", "plain", "guarded", "inbound|guarded");
    assertThat(listeners.get("inbound|guarded").inboundPolicy().grants().orElseThrow())
        .extracting(g -> g.permission().toString()).anyMatch(p -> p.contains("Method[value=POST]"));
    for (RouteConfiguration rc : r.routes()) {
      io.meshlet.internal.xds.ResourceParser.routeConfiguration(rc.getName(), rc, listeners.get(rc.getName()).filters());
    }
    for (Cluster c : r.clusters()) {
      io.meshlet.internal.xds.ResourceParser.cluster(c);
    }
    for (ClusterLoadAssignment cla : r.endpoints()) {
      io.meshlet.internal.xds.ResourceParser.endpoints(cla);
    }

    RouteConfiguration catalog = r.routes().stream().filter(rc -> rc.getName().equals("catalog")).findFirst()
        .orElseThrow();
    var headers = io.meshlet.internal.xds.ResourceParser.routeConfiguration("catalog", catalog,
        listeners.get("catalog").filters()).rules().get(0).match().headers();
    assertThat(headers).extracting(h -> h.name() + " " + h.kind() + " " + h.value()).containsExactly(
        "x-canary EXACT true", "x-tenant REGEX t-[0-9]+", "x-debug PRESENT ");
    RouteConfiguration guarded = r.routes().stream().filter(rc -> rc.getName().equals("guarded")).findFirst()
        .orElseThrow();
    assertThat(io.meshlet.internal.xds.ResourceParser.routeConfiguration("guarded", guarded,
        listeners.get("guarded").filters()).rules().get(0).clusters())
        .extracting(w -> w.cluster() + "=" + w.weight()).containsExactly("guarded/v1=3", "guarded/v2=1");
  }

  @Test
  void endpointsWithAZoneLabelGoInALocalityOfThatZoneWeighingAsManyAsItHolds() throws Exception {
    XdsResources r = translate("""
        services:
          catalog:
            protocol: http
            endpoints:
              - { address: 10.0.0.1:9001, labels: { topology.kubernetes.io/zone: zone-b } }
              - { address: 10.0.0.2:9001, labels: { topology.kubernetes.io/zone: zone-a } }
              - { address: 10.0.0.3:9001 }
              - { address: 10.0.0.4:9001, labels: { topology.kubernetes.io/zone: zone-a } }
        """);

    ClusterLoadAssignment all = assignment(r, "catalog");
    assertThat(all.getEndpointsList()).extracting(l -> "'" + l.getLocality().getZone() + "' w="
            + l.getLoadBalancingWeight().getValue() + " p=" + l.getPriority() + " "
            + l.getLbEndpointsList().stream().map(e -> e.getEndpoint().getAddress().getSocketAddress().getAddress())
            .toList())
        .containsExactly("'' w=1 p=0 [10.0.0.3]", "'zone-a' w=2 p=0 [10.0.0.2, 10.0.0.4]",
            "'zone-b' w=1 p=0 [10.0.0.1]");
  }

  @Test
  void endpointAssignmentsHaveAWeightedLocalityAndLabelsAsMetadata() throws Exception {
    XdsResources r = translate(MESH);

    ClusterLoadAssignment all = assignment(r, "catalog");
    assertThat(all.getEndpointsList()).hasSize(1);
    LocalityLbEndpoints locality = all.getEndpoints(0);
    assertThat(locality.hasLoadBalancingWeight()).isTrue();
    // As many as it holds endpoints: each endpoint an equal share, whatever the localities.
    assertThat(locality.getLoadBalancingWeight().getValue()).isEqualTo(3);
    assertThat(addresses(all)).containsExactly("10.0.0.1:9001", "10.0.0.2:9001", "10.0.0.3:9001");
    LbEndpoint second = locality.getLbEndpoints(1);
    assertThat(second.getMetadata().getFilterMetadataMap()).containsOnlyKeys(WireNames.LABELS_METADATA);
    assertThat(second.getMetadata().getFilterMetadataOrThrow(WireNames.LABELS_METADATA).getFieldsMap())
        .containsExactly(
            Map.entry("version", Value.newBuilder().setStringValue("v2").build()),
            Map.entry("zone", Value.newBuilder().setStringValue("a").build()));

    LbEndpoint unlabelled = assignment(r, "plain").getEndpoints(0).getLbEndpoints(0);
    assertThat(unlabelled.hasMetadata()).isFalse();
  }

  @Test
  void subsetClustersHoldOnlyTheirEndpoints() throws Exception {
    XdsResources r = translate(MESH);

    assertThat(addresses(assignment(r, "catalog/v1"))).containsExactly("10.0.0.1:9001");
    assertThat(addresses(assignment(r, "catalog/v2"))).containsExactly("10.0.0.2:9001", "10.0.0.3:9001");
  }

  @Test
  void aSubsetNoEndpointHasGetsAnEmptyAssignment() throws Exception {
    XdsResources r = translate("""
        services:
          orders:
            endpoints: [ { address: 10.0.0.1:80, labels: { version: v1 } } ]
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
        """);

    assertThat(assignment(r, "orders/v2").getEndpointsList()).isEmpty();
    r.ensureConsistent();
  }

  private static List<String> addresses(ClusterLoadAssignment cla) {
    List<String> out = new ArrayList<>();
    cla.getEndpointsList().forEach(l -> l.getLbEndpointsList().forEach(e -> {
      var socket = e.getEndpoint().getAddress().getSocketAddress();
      out.add(socket.getAddress() + ":" + socket.getPortValue());
    }));
    return out;
  }

  @Test
  void theSameIntentGivesTheSameResourcesAndVersions() throws Exception {
    XdsResources first = translate(MESH);
    XdsResources second = translate(MESH);

    assertThat(second).isEqualTo(first);
    assertThat(second.version()).isEqualTo(first.version());
    assertThat(first.listenersVersion()).isNotEqualTo(first.routesVersion());
  }

  @Test
  void changingOneRouteChangesOnlyTheRouteConfigurationVersion() throws Exception {
    XdsResources before = translate(MESH);
    XdsResources after = translate(MESH.replace("timeout: 2500ms", "timeout: 3s"));

    assertThat(after.routesVersion()).isNotEqualTo(before.routesVersion());
    assertThat(after.listenersVersion()).isEqualTo(before.listenersVersion());
    assertThat(after.clustersVersion()).isEqualTo(before.clustersVersion());
    assertThat(after.endpointsVersion()).isEqualTo(before.endpointsVersion());
    assertThat(after.version()).isNotEqualTo(before.version());
  }

  @Test
  void translatedResourcesAreConsistent() throws Exception {
    translate(MESH).ensureConsistent();
    XdsTranslator.translate(MeshConfig.empty()).ensureConsistent();
  }

  @Test
  void ensureConsistentNamesWhatIsMissingWhoRefersToItAndWhatExists() throws Exception {
    XdsResources r = translate(MESH);
    List<Cluster> withoutV2 = r.clusters().stream().filter(c -> !c.getName().equals("catalog/v2")).toList();
    XdsResources broken = XdsResources.of(r.listeners(), r.routes(), withoutV2, r.endpoints());

    assertThatThrownBy(broken::ensureConsistent)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("cluster 'catalog/v2' referred to by route configuration 'catalog' does not exist"
            + " (existing: catalog, catalog/v1, plain)");
  }

  @Test
  void aServiceCanOverrideTheMeshWideMtlsMode() throws Exception {
    XdsResources r = translate("""
        trustDomain: example.org
        mtls: { mode: strict }
        services:
          secure: { endpoints: [ { address: 10.0.0.1:8080 } ] }
          legacy:
            endpoints: [ { address: 10.0.0.2:8080 } ]
            mtls: { mode: off }
        """);
    assertThat(r.clusters()).filteredOn(c -> c.getName().equals("secure")).singleElement()
        .satisfies(c -> assertThat(c.hasTransportSocket()).isTrue());
    assertThat(r.clusters()).filteredOn(c -> c.getName().equals("legacy")).singleElement()
        .satisfies(c -> assertThat(c.hasTransportSocket()).isFalse());
  }

  @Test
  void strictGrpcServersRequireTlsAndPermissiveOnesLeaveItToTheServersCredentials() throws Exception {
    XdsResources r = translate("""
        trustDomain: example.org
        mtls: { mode: permissive }
        services:
          open: { protocol: grpc, endpoints: [ { address: 10.0.0.1:9001 } ] }
          locked:
            protocol: grpc
            endpoints: [ { address: 10.0.0.2:9002 } ]
            mtls: { mode: strict }
        """);
    java.util.function.Function<String, io.envoyproxy.envoy.config.listener.v3.Listener> server = address ->
        r.listeners().stream().filter(l -> l.getName().equals(WireNames.serverListener(address)))
            .findFirst().orElseThrow();
    assertThat(server.apply("10.0.0.1:9001").getFilterChains(0).hasTransportSocket()).isFalse();
    assertThat(server.apply("0.0.0.0:9001").getFilterChains(0).hasTransportSocket()).isFalse();
    assertThat(server.apply("10.0.0.2:9002").getFilterChains(0).getTransportSocket().getName())
        .isEqualTo("envoy.transport_sockets.tls");
    // Clients of both use mTLS.
    assertThat(cluster(r, "open").hasTransportSocket()).isTrue();
    assertThat(cluster(r, "locked").hasTransportSocket()).isTrue();
  }

  @Test
  void everyServiceWithMtlsOrAnAllowListGetsAnInboundListenerStatingItsMode() throws Exception {
    XdsResources r = translate("""
        trustDomain: example.org
        mtls: { mode: permissive }
        services:
          catalog: { endpoints: [ { address: 10.0.0.1:8080 } ], mtls: { mode: strict } }
          legacy: { endpoints: [ { address: 10.0.0.2:8080 } ], mtls: { mode: off } }
          guarded:
            endpoints: [ { address: 10.0.0.3:8080 } ]
            mtls: { mode: off }
            authorization: { allow: [ spiffe://example.org/service/frontend ] }
        """);
    java.util.Map<String, String> modes = new java.util.TreeMap<>();
    r.listeners().stream().filter(l -> l.getName().startsWith("inbound|")).forEach(l -> modes.put(l.getName(),
        l.getMetadata().getFilterMetadataOrThrow("meshlet").getFieldsOrThrow("mtls").getStringValue()));
    assertThat(modes).containsExactly(java.util.Map.entry("inbound|catalog", "strict"),
        java.util.Map.entry("inbound|guarded", "off"));
  }

  @Test
  void authorizationRulesBecomeRbacPoliciesThatExcludeEarlierRules() throws Exception {
    XdsResources r = translate("""
        services:
          catalog:
            endpoints: [ { address: 10.0.0.1:8080 } ]
            authorization:
              allow: [ spiffe://example.org/service/frontend ]
              rules:
                - match: { pathPrefix: /admin, methods: [ POST ] }
                  allow: [ spiffe://example.org/service/ops ]
                - match: { path: /health }
                  allow: []
        """);
    var hcm = hcm(r, "inbound|catalog");
    var rbac = unpack(hcm.getHttpFilters(0).getTypedConfig(), io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.class)
        .getRules();
    // rule 1 allows nobody: no policy; the default excludes both rules' requests.
    assertThat(rbac.getPoliciesMap()).containsOnlyKeys("rule-0", "default");
    var rule0 = rbac.getPoliciesOrThrow("rule-0");
    assertThat(rule0.getPrincipals(0).getAuthenticated().getPrincipalName().getExact())
        .isEqualTo("spiffe://example.org/service/ops");
    var adminPost = rule0.getPermissions(0).getAndRules();
    assertThat(adminPost.getRules(0).getUrlPath().getPath().getPrefix()).isEqualTo("/admin");
    assertThat(adminPost.getRules(1).getHeader().getName()).isEqualTo(":method");
    // exact_match: C-core before 1.56 refuses an RBAC header with string_match.
    assertThat(adminPost.getRules(1).getHeader().getExactMatch()).isEqualTo("POST");
    assertThat(adminPost.getRules(1).getHeader().hasStringMatch()).isFalse();
    var rest = rbac.getPoliciesOrThrow("default").getPermissions(0).getNotRule().getOrRules();
    assertThat(rest.getRules(0)).isEqualTo(rule0.getPermissions(0));
    assertThat(rest.getRules(1).getUrlPath().getPath().getExact()).isEqualTo("/health");
  }
}
