// Long by design: the NACK text of every field the parsers refuse, as one table per xDS type;
// the messages are a contract (the control server shows them in /clients).
package io.meshlet.internal.xds;

import static io.meshlet.internal.xds.XdsFixtures.FAULT;
import static io.meshlet.internal.xds.XdsFixtures.RATE_LIMIT;
import static io.meshlet.internal.xds.XdsFixtures.ROUTER;
import static io.meshlet.internal.xds.XdsFixtures.assignment;
import static io.meshlet.internal.xds.XdsFixtures.circuitBreakers;
import static io.meshlet.internal.xds.XdsFixtures.cluster;
import static io.meshlet.internal.xds.XdsFixtures.duration;
import static io.meshlet.internal.xds.XdsFixtures.exactHeader;
import static io.meshlet.internal.xds.XdsFixtures.fault;
import static io.meshlet.internal.xds.XdsFixtures.faultFilter;
import static io.meshlet.internal.xds.XdsFixtures.filter;
import static io.meshlet.internal.xds.XdsFixtures.hcm;
import static io.meshlet.internal.xds.XdsFixtures.lbEndpoint;
import static io.meshlet.internal.xds.XdsFixtures.listener;
import static io.meshlet.internal.xds.XdsFixtures.millis;
import static io.meshlet.internal.xds.XdsFixtures.optionalFilterConfig;
import static io.meshlet.internal.xds.XdsFixtures.outlierDetection;
import static io.meshlet.internal.xds.XdsFixtures.prefix;
import static io.meshlet.internal.xds.XdsFixtures.rateLimit;
import static io.meshlet.internal.xds.XdsFixtures.regexHeader;
import static io.meshlet.internal.xds.XdsFixtures.retryPolicy;
import static io.meshlet.internal.xds.XdsFixtures.route;
import static io.meshlet.internal.xds.XdsFixtures.routeConfiguration;
import static io.meshlet.internal.xds.XdsFixtures.router;
import static io.meshlet.internal.xds.XdsFixtures.toCluster;
import static io.meshlet.internal.xds.XdsFixtures.weighted;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.LoadBalancingPolicy;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.RuntimeFractionalPercent;
import io.envoyproxy.envoy.config.core.v3.SelfConfigSource;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.RedirectAction;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.cors.v3.Cors;
import io.envoyproxy.envoy.extensions.filters.http.cors.v3.CorsPolicy;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest;
import io.envoyproxy.envoy.extensions.load_balancing_policies.random.v3.Random;
import io.envoyproxy.envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash;
import io.envoyproxy.envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.meshlet.config.CircuitBreakerPolicy;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.ClusterConfig.LoadBalancing;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.FaultPolicy;
import io.meshlet.config.OutlierPolicy;
import io.meshlet.config.RateLimitPolicy;
import io.meshlet.config.RequestMatch;
import io.meshlet.config.RequestMatch.HeaderCondition;
import io.meshlet.config.RequestMatch.HeaderCondition.Kind;
import io.meshlet.config.RequestMatch.PathKind;
import io.meshlet.config.RetryPolicy;
import io.meshlet.config.RetryPolicy.RetryOn;
import io.meshlet.config.RouteRule;
import io.meshlet.config.RouteRule.WeightedCluster;
import io.meshlet.config.RouteTable;
import io.meshlet.internal.xds.ListenerResource;
import io.meshlet.internal.xds.ResourceException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class ResourceParserTest {

  private static final Set<String> ALL_FILTERS = Set.of(ROUTER, FAULT, RATE_LIMIT);

  // ---- what the control server emits parses to the expected records ----

  @Test
  void listenerNamesItsServiceRouteConfigurationAndFilters() throws Exception {
    ListenerResource l = ResourceParser.listener(listener("catalog"));

    assertThat(l).isEqualTo(new ListenerResource("catalog", "catalog", "catalog", ALL_FILTERS, false, io.meshlet.config.InboundPolicy.open()));
  }

  static Listener inbound(String mtls, HttpFilter... filters) {
    com.google.protobuf.Struct meshlet = com.google.protobuf.Struct.newBuilder()
        .putFields("mtls", com.google.protobuf.Value.newBuilder().setStringValue(mtls).build()).build();
    return listener(hcm("catalog", filters).build(), "inbound|catalog").toBuilder()
        .setMetadata(io.envoyproxy.envoy.config.core.v3.Metadata.newBuilder().putFilterMetadata("meshlet", meshlet))
        .build();
  }

  static HttpFilter allowRbac(String... ids) {
    var policy = io.envoyproxy.envoy.config.rbac.v3.Policy.newBuilder()
        .addPermissions(io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setAny(true));
    for (String id : ids) {
      policy.addPrincipals(io.envoyproxy.envoy.config.rbac.v3.Principal.newBuilder().setAuthenticated(
          io.envoyproxy.envoy.config.rbac.v3.Principal.Authenticated.newBuilder()
              .setPrincipalName(StringMatcher.newBuilder().setExact(id))));
    }
    var rbac = io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.newBuilder()
        .setRules(io.envoyproxy.envoy.config.rbac.v3.RBAC.newBuilder()
            .setAction(io.envoyproxy.envoy.config.rbac.v3.RBAC.Action.ALLOW).putPolicies("allow", policy.build()))
        .build();
    return HttpFilter.newBuilder().setName("envoy.filters.http.rbac").setTypedConfig(Any.pack(rbac)).build();
  }

  @Test
  void anInboundListenerCarriesTheServicesMtlsModeAndAllowList() throws Exception {
    ListenerResource l = ResourceParser.listener(inbound("strict", allowRbac("spiffe://example.org/service/frontend"),
        router()));

    assertThat(l.inbound()).isTrue();
    assertThat(l.service()).isEqualTo("catalog");
    assertThat(l.inboundPolicy().mtls()).isEqualTo(io.meshlet.config.MtlsMode.STRICT);
    assertThat(l.inboundPolicy().acceptsPlaintext()).isFalse();
    assertThat(l.inboundPolicy().allows(Optional.of("spiffe://example.org/service/frontend"), "/items", "GET")).isTrue();
    assertThat(l.inboundPolicy().allows(Optional.of("spiffe://example.org/service/payments"), "/items", "GET")).isFalse();
    assertThat(l.inboundPolicy().allows(Optional.empty(), "/items", "GET")).isFalse();
    io.meshlet.config.InboundPolicy open = ResourceParser.listener(inbound("permissive", router())).inboundPolicy();
    assertThat(open.mtls()).isEqualTo(io.meshlet.config.MtlsMode.PERMISSIVE);
    assertThat(open.allows(Optional.empty(), "/items", "GET")).isTrue();
  }

  @Test
  void anRbacMethodMatchInExactMatchOrStringMatchMeansTheSame() throws Exception {
    // Control servers send exact_match now (C-core before 1.56 refuses string_match in RBAC).
    for (var method : List.of(
        HeaderMatcher.newBuilder().setName(":method").setExactMatch("POST").build(),
        HeaderMatcher.newBuilder().setName(":method").setStringMatch(StringMatcher.newBuilder().setExact("POST")).build())) {
      var rbac = io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.newBuilder()
          .setRules(io.envoyproxy.envoy.config.rbac.v3.RBAC.newBuilder()
              .setAction(io.envoyproxy.envoy.config.rbac.v3.RBAC.Action.ALLOW)
              .putPolicies("rule-0", policy(io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder()
                  .setHeader(method).build(), "spiffe://example.org/service/ops")))
          .build();
      HttpFilter filter = HttpFilter.newBuilder().setName("envoy.filters.http.rbac").setTypedConfig(Any.pack(rbac))
          .build();
      io.meshlet.config.InboundPolicy p = ResourceParser.listener(inbound("strict", filter, router())).inboundPolicy();
      Optional<String> ops = Optional.of("spiffe://example.org/service/ops");

      assertThat(p.allows(ops, "/items", "POST")).as(method.toString()).isTrue();
      assertThat(p.allows(ops, "/items", "GET")).as(method.toString()).isFalse();
    }
  }

  @Test
  void anRbacPermissionTreeOfPathsAndMethodsIsEnforcedAsWritten() throws Exception {
    // What the control server emits for: rules [ {pathPrefix /admin, methods [POST]} -> ops ],
    // allow [ frontend ] for the rest.
    var adminPost = io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setAndRules(
        io.envoyproxy.envoy.config.rbac.v3.Permission.Set.newBuilder()
            .addRules(io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setUrlPath(
                io.envoyproxy.envoy.type.matcher.v3.PathMatcher.newBuilder()
                    .setPath(StringMatcher.newBuilder().setPrefix("/admin"))))
            .addRules(io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setHeader(
                io.envoyproxy.envoy.config.route.v3.HeaderMatcher.newBuilder().setName(":method")
                    .setStringMatch(StringMatcher.newBuilder().setExact("POST"))))).build();
    var rest = io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setNotRule(adminPost).build();
    var rbac = io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.newBuilder()
        .setRules(io.envoyproxy.envoy.config.rbac.v3.RBAC.newBuilder()
            .setAction(io.envoyproxy.envoy.config.rbac.v3.RBAC.Action.ALLOW)
            .putPolicies("rule-0", policy(adminPost, "spiffe://example.org/service/ops"))
            .putPolicies("default", policy(rest, "spiffe://example.org/service/frontend")))
        .build();
    HttpFilter filter = HttpFilter.newBuilder().setName("envoy.filters.http.rbac").setTypedConfig(Any.pack(rbac)).build();
    io.meshlet.config.InboundPolicy p = ResourceParser.listener(inbound("strict", filter, router())).inboundPolicy();
    Optional<String> ops = Optional.of("spiffe://example.org/service/ops");
    Optional<String> frontend = Optional.of("spiffe://example.org/service/frontend");

    assertThat(p.allows(ops, "/admin/reindex", "POST")).isTrue();
    assertThat(p.allows(frontend, "/admin/reindex", "POST")).isFalse();
    assertThat(p.allows(frontend, "/admin/reindex", "GET")).isTrue();
    assertThat(p.allows(ops, "/items", "GET")).isFalse();
    assertThat(p.allows(frontend, "/items", "GET")).isTrue();
  }

  private static io.envoyproxy.envoy.config.rbac.v3.Policy policy(io.envoyproxy.envoy.config.rbac.v3.Permission p,
      String id) {
    return io.envoyproxy.envoy.config.rbac.v3.Policy.newBuilder().addPermissions(p)
        .addPrincipals(io.envoyproxy.envoy.config.rbac.v3.Principal.newBuilder().setAuthenticated(
            io.envoyproxy.envoy.config.rbac.v3.Principal.Authenticated.newBuilder()
                .setPrincipalName(StringMatcher.newBuilder().setExact(id))))
        .build();
  }

  @Test
  void anRbacPermissionMeshletDoesNotImplementIsRefused() {
    var rbac = io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.newBuilder()
        .setRules(io.envoyproxy.envoy.config.rbac.v3.RBAC.newBuilder()
            .setAction(io.envoyproxy.envoy.config.rbac.v3.RBAC.Action.ALLOW)
            .putPolicies("p", policy(io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder()
                .setDestinationPort(8080).build(), "spiffe://example.org/service/ops")))
        .build();
    HttpFilter filter = HttpFilter.newBuilder().setName("envoy.filters.http.rbac").setTypedConfig(Any.pack(rbac)).build();

    assertThatThrownBy(() -> ResourceParser.listener(inbound("strict", filter, router())))
        .isInstanceOf(ResourceException.class)
        .hasMessage("listener 'inbound|catalog': api_listener.api_listener.http_filters[0].typed_config.rules"
            + ".policies.p.permissions[0]: destination_port (expected: one of any, url_path, header (:method), "
            + "and_rules, or_rules, not_rule)");
  }

  @Test
  void anInboundListenerWithAnUnknownModeIsRefused() {
    assertThatThrownBy(() -> ResourceParser.listener(inbound("on", router())))
        .isInstanceOf(ResourceException.class)
        .hasMessage("listener 'inbound|catalog': metadata.filter_metadata.meshlet.mtls: on "
            + "(expected: one of off, permissive, strict)");
  }

  @Test
  void optionalUnknownFiltersAreSkipped() throws Exception {
    Listener l = listener(hcm("catalog",
        filter("envoy.filters.http.cors", Cors.getDefaultInstance(), true), router()).build(), "catalog");

    assertThat(ResourceParser.listener(l).filters()).containsExactly(ROUTER);
  }

  @Test
  void routeConfigurationOfTheDesignExampleParses() throws Exception {
    // mesh.yaml (DESIGN.md): a canary route on a header, then 90/10 with timeout, retries,
    // faults and a rate limit; ring hash on a header.
    Route canary = route(prefix("/api").addHeaders(exactHeader("x-canary", "true")), toCluster("catalog/v2"));
    Route main = Route.newBuilder()
        .setMatch(prefix("/"))
        .setRoute(weighted("catalog/v1", 90, "catalog/v2", 10)
            .setTimeout(millis(2000))
            .setMaxStreamDuration(RouteAction.MaxStreamDuration.newBuilder().setMaxStreamDuration(millis(2000)))
            .setRetryPolicy(retryPolicy("5xx,reset,connect-failure,unavailable", 3, 500, 25, 250))
            .addHashPolicy(RouteAction.HashPolicy.newBuilder()
                .setHeader(RouteAction.HashPolicy.Header.newBuilder().setHeaderName("X-User"))))
        .putTypedPerFilterConfig(FAULT, Any.pack(fault(1, 100, 0.1, 503)))
        .putTypedPerFilterConfig(RATE_LIMIT, optionalFilterConfig(rateLimit("catalog", 100, 500)))
        .build();

    RouteTable table = ResourceParser.routeConfiguration("catalog", routeConfiguration("catalog", canary, main),
        ALL_FILTERS);

    assertThat(table).isEqualTo(new RouteTable("catalog", List.of(
        new RouteRule("catalog#0",
            new RequestMatch(PathKind.PREFIX, "/api",
                List.of(new HeaderCondition("x-canary", Kind.EXACT, "true", false))),
            List.of(new WeightedCluster("catalog/v2", 1)),
            Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty()),
        new RouteRule("catalog#1",
            RequestMatch.any(),
            List.of(new WeightedCluster("catalog/v1", 90), new WeightedCluster("catalog/v2", 10)),
            Optional.of(Duration.ofSeconds(2)),
            Optional.of(new RetryPolicy(3,
                Set.of(RetryOn.FIVE_XX, RetryOn.RESET, RetryOn.CONNECT_FAILURE, RetryOn.UNAVAILABLE), Set.of(),
                Optional.of(Duration.ofMillis(500)), Duration.ofMillis(25), Duration.ofMillis(250))),
            Optional.of(new FaultPolicy(
                Optional.of(new FaultPolicy.Delay(10_000, Duration.ofMillis(100))),
                Optional.of(new FaultPolicy.Abort(1_000, 503)))),
            Optional.of(new RateLimitPolicy(100, 500, Duration.ofSeconds(1))),
            Optional.of("x-user")))));
  }

  @Test
  void pathAndHeaderMatchersOfEveryKindParse() throws Exception {
    Route r = route(RouteMatch.newBuilder().setSafeRegex(RegexMatcher.newBuilder().setRegex("/items/[0-9]+"))
            .addHeaders(regexHeader("X-Version", "v[12]"))
            .addHeaders(HeaderMatcher.newBuilder().setName("x-debug").setPresentMatch(true))
            .addHeaders(HeaderMatcher.newBuilder().setName("x-trace").setPresentMatch(false))
            .addHeaders(exactHeader("x-env", "prod").toBuilder().setInvertMatch(true))
            .addHeaders(HeaderMatcher.newBuilder().setName("x-old").setExactMatch("1")),
        toCluster("catalog"));
    Route exact = route(RouteMatch.newBuilder().setPath("/health"), toCluster("catalog"));

    RouteTable table = ResourceParser.routeConfiguration("catalog", routeConfiguration("catalog", r, exact),
        Set.of(ROUTER));

    assertThat(table.rules().get(0).match()).isEqualTo(new RequestMatch(PathKind.REGEX, "/items/[0-9]+", List.of(
        new HeaderCondition("x-version", Kind.REGEX, "v[12]", false),
        new HeaderCondition("x-debug", Kind.PRESENT, "", false),
        new HeaderCondition("x-trace", Kind.PRESENT, "", true),
        new HeaderCondition("x-env", Kind.EXACT, "prod", true),
        new HeaderCondition("x-old", Kind.EXACT, "1", false))));
    assertThat(table.rules().get(1).match()).isEqualTo(new RequestMatch(PathKind.EXACT, "/health", List.of()));
  }

  @Test
  void routeTimeoutFollowsEnvoyDefaults() throws Exception {
    Route unset = route(prefix("/a"), RouteAction.newBuilder().setCluster("catalog"));
    Route zero = route(prefix("/b"), toCluster("catalog"));
    Route streamOnly = route(prefix("/c"), RouteAction.newBuilder().setCluster("catalog")
        .setTimeout(millis(0))
        .setMaxStreamDuration(RouteAction.MaxStreamDuration.newBuilder().setMaxStreamDuration(millis(700))));

    List<RouteRule> rules = ResourceParser.routeConfiguration("catalog",
        routeConfiguration("catalog", unset, zero, streamOnly), Set.of(ROUTER)).rules();

    assertThat(rules).extracting(RouteRule::timeout).containsExactly(
        Optional.of(Duration.ofSeconds(15)), Optional.empty(), Optional.of(Duration.ofMillis(700)));
  }

  @Test
  void retryPolicyDefaultsFollowEnvoy() throws Exception {
    Route r = route(prefix("/"), toCluster("catalog").setRetryPolicy(
        io.envoyproxy.envoy.config.route.v3.RetryPolicy.newBuilder().setRetryOn("gateway-error, retriable-status-codes")
            .addRetriableStatusCodes(429)));

    RouteRule rule = ResourceParser.routeConfiguration("catalog", routeConfiguration("catalog", r), Set.of(ROUTER))
        .rules().get(0);

    assertThat(rule.retry()).contains(new RetryPolicy(1, Set.of(RetryOn.GATEWAY_ERROR, RetryOn.RETRIABLE_STATUS_CODES),
        Set.of(429), Optional.empty(), Duration.ofMillis(25), Duration.ofMillis(250)));
  }

  @Test
  void optionalUnknownPerRouteFilterConfigIsSkipped() throws Exception {
    Route r = route(prefix("/"), toCluster("catalog")).toBuilder()
        .putTypedPerFilterConfig("envoy.filters.http.cors", optionalFilterConfig(CorsPolicy.getDefaultInstance()))
        .build();

    RouteRule rule = ResourceParser.routeConfiguration("catalog", routeConfiguration("catalog", r), Set.of(ROUTER))
        .rules().get(0);

    assertThat(rule.fault()).isEmpty();
    assertThat(rule.rateLimit()).isEmpty();
  }

  @Test
  void rateLimitThatEnvoyWouldNotEnforceIsNoLimit() throws Exception {
    // Envoy: filter_enabled and filter_enforced default to 0% "for safety".
    Route r = route(prefix("/"), toCluster("catalog")).toBuilder()
        .putTypedPerFilterConfig(RATE_LIMIT, optionalFilterConfig(rateLimit("catalog", 10, 10).toBuilder()
            .clearFilterEnforced().build()))
        .build();

    RouteRule rule = ResourceParser.routeConfiguration("catalog", routeConfiguration("catalog", r), ALL_FILTERS)
        .rules().get(0);

    assertThat(rule.rateLimit()).isEmpty();
  }

  @Test
  void virtualHostNamingTheServiceWinsOverTheWildcard() throws Exception {
    RouteConfiguration rc = RouteConfiguration.newBuilder().setName("catalog")
        .addVirtualHosts(VirtualHost.newBuilder().setName("any").addDomains("*")
            .addRoutes(route(prefix("/"), toCluster("fallback"))))
        .addVirtualHosts(VirtualHost.newBuilder().setName("catalog").addDomains("catalog")
            .addRoutes(route(prefix("/"), toCluster("catalog"))))
        .build();

    RouteTable table = ResourceParser.routeConfiguration("catalog", rc, Set.of(ROUTER));

    assertThat(table.rules().get(0).clusters()).containsExactly(new WeightedCluster("catalog", 1));
  }

  @Test
  void clusterWithLimitsAndOutlierDetectionParses() throws Exception {
    Cluster c = cluster("catalog/v1")
        .setLbPolicy(Cluster.LbPolicy.LEAST_REQUEST)
        .setCircuitBreakers(circuitBreakers(100, 50, 3))
        .setOutlierDetection(outlierDetection(5, Duration.ofSeconds(10), Duration.ofSeconds(30), 50)
            .setFailurePercentageThreshold(UInt32Value.of(90))
            .setFailurePercentageMinimumHosts(UInt32Value.of(3))
            .setFailurePercentageRequestVolume(UInt32Value.of(20))
            .setEnforcingFailurePercentage(UInt32Value.of(100)))
        .build();

    assertThat(ResourceParser.cluster(c)).isEqualTo(new ClusterConfig("catalog/v1", LoadBalancing.LEAST_REQUEST,
        new CircuitBreakerPolicy(100, 50, 3),
        Optional.of(new OutlierPolicy(5, 0, Duration.ofSeconds(10), Duration.ofSeconds(30), 50,
            Optional.of(new OutlierPolicy.FailurePercentage(90, 3, 20)))),
        List.of()));
  }

  @Test
  void clusterWithoutLimitsGetsEnvoyDefaults() throws Exception {
    assertThat(ResourceParser.cluster(cluster("catalog").build())).isEqualTo(new ClusterConfig("catalog",
        LoadBalancing.ROUND_ROBIN, CircuitBreakerPolicy.defaults(), Optional.empty(), List.of()));
  }

  @Test
  void unlimitedUint32ThresholdsAreCappedNotNegative() throws Exception {
    // Control planes (Istio among them) write 4294967295 for "no limit"; as a Java int that is -1.
    Cluster c = cluster("catalog").setCircuitBreakers(circuitBreakers(-1, -1, -1)).build();

    assertThat(ResourceParser.cluster(c).limits())
        .isEqualTo(new CircuitBreakerPolicy(Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE));
  }

  @ParameterizedTest
  @EnumSource(LoadBalancing.class)
  void everyLoadBalancingPolicyTheTranslatorEmitsParses(LoadBalancing lb) throws Exception {
    // The policy, then round robin for clients without it; lb_policy left at ROUND_ROBIN.
    Any first = switch (lb) {
      case ROUND_ROBIN -> Any.pack(RoundRobin.getDefaultInstance());
      case LEAST_REQUEST -> Any.pack(LeastRequest.getDefaultInstance());
      case RING_HASH -> Any.pack(RingHash.newBuilder().setHashFunction(RingHash.HashFunction.XX_HASH)
          .setMinimumRingSize(com.google.protobuf.UInt64Value.of(1024))
          .setMaximumRingSize(com.google.protobuf.UInt64Value.of(4096)).build());
      case RANDOM -> Any.pack(Random.getDefaultInstance());
    };
    Cluster c = cluster("catalog").clearLbPolicy().setLoadBalancingPolicy(LoadBalancingPolicy.newBuilder()
        .addPolicies(lbPolicy("first", first))
        .addPolicies(lbPolicy("envoy.load_balancing_policies.round_robin", Any.pack(RoundRobin.getDefaultInstance()))))
        .build();

    assertThat(ResourceParser.cluster(c).loadBalancing()).isEqualTo(lb);
  }

  @ParameterizedTest
  @EnumSource(LoadBalancing.class)
  void everyLbPolicyOlderControlServersEmitStillParses(LoadBalancing lb) throws Exception {
    Cluster.Builder c = cluster("catalog");
    switch (lb) {
      case ROUND_ROBIN -> c.setLbPolicy(Cluster.LbPolicy.ROUND_ROBIN);
      case LEAST_REQUEST -> c.setLbPolicy(Cluster.LbPolicy.LEAST_REQUEST);
      case RING_HASH -> c.setLbPolicy(Cluster.LbPolicy.RING_HASH).setRingHashLbConfig(
          Cluster.RingHashLbConfig.newBuilder().setMinimumRingSize(com.google.protobuf.UInt64Value.of(1024))
              .setHashFunction(Cluster.RingHashLbConfig.HashFunction.XX_HASH));
      case RANDOM -> c.setLbPolicy(Cluster.LbPolicy.RANDOM);
    }

    assertThat(ResourceParser.cluster(c.build()).loadBalancing()).isEqualTo(lb);
  }

  @Test
  void theFirstLoadBalancingPolicyMeshletImplementsIsTakenAndTheOnesBeforeItSkipped() throws Exception {
    Cluster c = cluster("catalog").clearLbPolicy().setLoadBalancingPolicy(LoadBalancingPolicy.newBuilder()
        .addPolicies(lbPolicy("envoy.load_balancing_policies.maglev", Any.pack(
            io.envoyproxy.envoy.extensions.load_balancing_policies.maglev.v3.Maglev.getDefaultInstance())))
        .addPolicies(lbPolicy("envoy.load_balancing_policies.least_request", Any.pack(LeastRequest.getDefaultInstance())))
        .addPolicies(lbPolicy("envoy.load_balancing_policies.round_robin", Any.pack(RoundRobin.getDefaultInstance()))))
        .build();

    assertThat(ResourceParser.cluster(c).loadBalancing()).isEqualTo(LoadBalancing.LEAST_REQUEST);
  }

  @Test
  void headerMatchersInTheOneofFieldsAndInStringMatchMeanTheSame() throws Exception {
    // Control servers send exact_match / safe_regex_match now (C-core reads string_match only from
    // 1.56), string_match before.
    Route now = route(prefix("/").addHeaders(HeaderMatcher.newBuilder().setName("x-canary").setExactMatch("true"))
        .addHeaders(HeaderMatcher.newBuilder().setName("x-tenant")
            .setSafeRegexMatch(RegexMatcher.newBuilder().setRegex("t-[0-9]+"))), toCluster("catalog"));
    Route before = route(prefix("/").addHeaders(exactHeader("x-canary", "true"))
        .addHeaders(regexHeader("x-tenant", "t-[0-9]+")), toCluster("catalog"));

    List<RouteRule> rules = ResourceParser.routeConfiguration("catalog", routeConfiguration("catalog", now, before),
        Set.of(ROUTER)).rules();

    assertThat(rules.get(0).match()).isEqualTo(rules.get(1).match());
    assertThat(rules.get(0).match().headers()).containsExactly(
        new HeaderCondition("x-canary", Kind.EXACT, "true", false),
        new HeaderCondition("x-tenant", Kind.REGEX, "t-[0-9]+", false));
  }

  @Test
  void aTotalWeightEqualToTheSumOfTheWeightsParses() throws Exception {
    Route r = route(prefix("/"), RouteAction.newBuilder().setWeightedClusters(
        io.envoyproxy.envoy.config.route.v3.WeightedCluster.newBuilder()
            .addClusters(io.envoyproxy.envoy.config.route.v3.WeightedCluster.ClusterWeight.newBuilder()
                .setName("catalog/v1").setWeight(UInt32Value.of(3)))
            .addClusters(io.envoyproxy.envoy.config.route.v3.WeightedCluster.ClusterWeight.newBuilder()
                .setName("catalog/v2").setWeight(UInt32Value.of(1)))
            .setTotalWeight(UInt32Value.of(4))).setTimeout(millis(0)));

    assertThat(ResourceParser.routeConfiguration("catalog", routeConfiguration("catalog", r), Set.of(ROUTER))
        .rules().get(0).clusters())
        .containsExactly(new WeightedCluster("catalog/v1", 3), new WeightedCluster("catalog/v2", 1));
  }

  @Test
  void endpointsKeepLabelsAndWeightsAndMarkUnhealthyOnes() throws Exception {
    ClusterLoadAssignment cla = assignment("catalog",
        lbEndpoint("10.0.0.1", 9001, Map.of("version", "v1")),
        lbEndpoint("10.0.0.2", 9002, Map.of("version", "v2")).setLoadBalancingWeight(UInt32Value.of(3)),
        lbEndpoint("10.0.0.3", 9003, Map.of()).setHealthStatus(HealthStatus.UNHEALTHY),
        lbEndpoint("::1", 9004, Map.of()).setHealthStatus(HealthStatus.UNKNOWN));

    List<EndpointConfig> endpoints = ResourceParser.endpoints(cla);

    assertThat(endpoints).containsExactly(
        new EndpointConfig("10.0.0.1", 9001, 1, Map.of("version", "v1")),
        new EndpointConfig("10.0.0.2", 9002, 3, Map.of("version", "v2")),
        new EndpointConfig("10.0.0.3", 9003, 1, Map.of(), "", 0, false),
        new EndpointConfig("::1", 9004, 1, Map.of()));
    assertThat(endpoints.get(3).address()).isEqualTo("[::1]:9004");
  }

  @Test
  void endpointsCarryTheirLocalitysZoneAndPriorityAndTheAssignmentItsOverprovisioningFactor() throws Exception {
    ClusterLoadAssignment cla = ClusterLoadAssignment.newBuilder()
        .setClusterName("catalog")
        .addEndpoints(LocalityLbEndpoints.newBuilder()
            .setLocality(io.envoyproxy.envoy.config.core.v3.Locality.newBuilder().setZone("a"))
            .addLbEndpoints(lbEndpoint("10.0.0.1", 9001, Map.of())))
        .addEndpoints(LocalityLbEndpoints.newBuilder().setPriority(1)
            .setLocality(io.envoyproxy.envoy.config.core.v3.Locality.newBuilder().setZone("b"))
            .addLbEndpoints(lbEndpoint("10.0.0.2", 9002, Map.of())))
        .setPolicy(ClusterLoadAssignment.Policy.newBuilder().setOverprovisioningFactor(UInt32Value.of(143)))
        .build();

    assertThat(ResourceParser.endpoints(cla)).containsExactly(
        new EndpointConfig("10.0.0.1", 9001, 1, Map.of(), "a", 0, true),
        new EndpointConfig("10.0.0.2", 9002, 1, Map.of(), "b", 1, true));
    assertThat(ResourceParser.overprovisioningFactor(cla)).isEqualTo(143);
    assertThat(ResourceParser.overprovisioningFactor(assignment("catalog", lbEndpoint("10.0.0.1", 9001, Map.of()))))
        .as("Envoy's default").isEqualTo(140);
  }

  @Test
  void emptyAssignmentMeansNoEndpoints() throws Exception {
    assertThat(ResourceParser.endpoints(XdsFixtures.noEndpoints("catalog"))).isEmpty();
  }

  // ---- what Meshlet cannot honour is refused, with the exact NACK text ----

  @ParameterizedTest(name = "{0}")
  @MethodSource("refused")
  void refusedResourcesNameTheFieldAndTheConstraint(String what, ThrowingCallable parse, String message) {
    assertThatThrownBy(parse).isInstanceOf(ResourceException.class).hasMessage(message);
  }

  static Stream<Arguments> refused() {
    String rc = "route configuration 'catalog': virtual_hosts[0].routes[0]";
    String hcmPath = "listener 'catalog': api_listener.api_listener";
    String actionFields = "cluster, weighted_clusters, timeout, max_stream_duration, retry_policy, hash_policy";
    String outlierFields = "consecutive_5xx, enforcing_consecutive_5xx, interval, base_ejection_time, "
        + "max_ejection_percent, enforcing_success_rate, consecutive_gateway_failure, "
        + "enforcing_consecutive_gateway_failure, failure_percentage_threshold, failure_percentage_minimum_hosts, "
        + "failure_percentage_request_volume, enforcing_failure_percentage";
    return Stream.of(
        // listeners
        Arguments.of("a non-optional unknown http filter",
            listenerOf(hcm("catalog", filter("envoy.filters.http.cors", Cors.getDefaultInstance(), false), router())),
            hcmPath + ".http_filters[0].name: envoy.filters.http.cors "
                + "(type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors) (expected: one of "
                + "envoy.filters.http.router, envoy.filters.http.fault, envoy.filters.http.local_ratelimit, "
                + "or is_optional: true)"),
        Arguments.of("no router filter",
            listenerOf(hcm("catalog", faultFilter())),
            hcmPath + ".http_filters: no router filter (expected: the last filter to be envoy.filters.http.router)"),
        Arguments.of("a filter after the router",
            listenerOf(hcm("catalog", router(), faultFilter())),
            hcmPath + ".http_filters: router filter before envoy.filters.http.fault "
                + "(expected: the last filter to be envoy.filters.http.router)"),
        Arguments.of("filter-wide fault settings",
            listenerOf(hcm("catalog", filter(FAULT, fault(100, 10, 0, 503), false), router())),
            hcmPath + ".http_filters[0].typed_config: delay, abort set (expected: no filter-wide settings "
                + "(Meshlet applies envoy.filters.http.fault per route, from typed_per_filter_config))"),
        Arguments.of("routes not over ADS",
            listenerOf(hcm("catalog", router()).setRds(Rds.newBuilder().setRouteConfigName("catalog")
                .setConfigSource(ConfigSource.newBuilder().setSelf(SelfConfigSource.getDefaultInstance())))),
            hcmPath + ".rds.config_source: self (expected: ads)"),
        Arguments.of("an unsupported http connection manager field",
            listenerOf(hcm("catalog", router()).setXffNumTrustedHops(1)),
            hcmPath + ".xff_num_trusted_hops: set (expected: only fields Meshlet implements: stat_prefix, rds, "
                + "http_filters, codec_type)"),
        Arguments.of("a listener that is not an API listener",
            (ThrowingCallable) () -> ResourceParser.listener(Listener.newBuilder().setName("catalog")
                .setAddress(Address.newBuilder().setSocketAddress(SocketAddress.newBuilder()
                    .setAddress("0.0.0.0").setPortValue(8080))).build()),
            "listener 'catalog': address: set (expected: only fields Meshlet implements: name, api_listener); "
                + "listener 'catalog': api_listener: missing (expected: an API listener holding an "
                + "HttpConnectionManager)"),
        // routes
        Arguments.of("RouteAction.prefix_rewrite",
            routes(route(prefix("/"), toCluster("catalog").setPrefixRewrite("/v2"))),
            rc + ".route.prefix_rewrite: set (expected: only fields Meshlet implements: " + actionFields + ")"),
        Arguments.of("a redirect action",
            routes(Route.newBuilder().setMatch(prefix("/"))
                .setRedirect(RedirectAction.newBuilder().setHostRedirect("example.org")).build()),
            rc + ".redirect: set (expected: only fields Meshlet implements: name, match, route, "
                + "typed_per_filter_config)"),
        Arguments.of("no action",
            routes(Route.newBuilder().setMatch(prefix("/")).build()),
            rc + ".route: missing (expected: a route action (route))"),
        Arguments.of("a cluster chosen by header",
            routes(route(prefix("/"), RouteAction.newBuilder().setClusterHeader("x-cluster"))),
            rc + ".route.cluster_header: set (expected: only fields Meshlet implements: " + actionFields + ")"),
        Arguments.of("weights adding up to 0",
            routes(route(prefix("/"), weighted("a", 0, "b", 0))),
            rc + ".route.weighted_clusters: weights adding up to 0 (expected: weights adding up to more than 0)"),
        Arguments.of("retry_on foo",
            routes(route(prefix("/"), toCluster("catalog").setRetryPolicy(retryPolicy("5xx,foo", 2, 100, 10, 100)))),
            rc + ".route.retry_policy.retry_on: foo (expected: conditions Meshlet implements: 5xx, gateway-error, "
                + "reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, "
                + "or gRPC status names)"),
        Arguments.of("a backoff whose max is below its base",
            routes(route(prefix("/"), toCluster("catalog").setRetryPolicy(retryPolicy("5xx", 2, 100, 100, 50)))),
            rc + ".route.retry_policy.retry_back_off: base PT0.1S, max PT0.05S (expected: base > 0 and max >= base)"),
        Arguments.of("a total_weight other than the sum of the weights",
            routes(route(prefix("/"), RouteAction.newBuilder().setWeightedClusters(
                io.envoyproxy.envoy.config.route.v3.WeightedCluster.newBuilder()
                    .addClusters(io.envoyproxy.envoy.config.route.v3.WeightedCluster.ClusterWeight.newBuilder()
                        .setName("catalog/v1").setWeight(UInt32Value.of(90)))
                    .addClusters(io.envoyproxy.envoy.config.route.v3.WeightedCluster.ClusterWeight.newBuilder()
                        .setName("catalog/v2").setWeight(UInt32Value.of(20)))
                    .setTotalWeight(UInt32Value.of(100))))),
            rc + ".route.weighted_clusters.total_weight: 100 (expected: the sum of the weights, 110)"),
        Arguments.of("an invalid path regex",
            routes(route(RouteMatch.newBuilder().setSafeRegex(RegexMatcher.newBuilder().setRegex("(")),
                toCluster("catalog"))),
            rc + ".match.safe_regex.regex: ( (expected: a valid regular expression)"),
        Arguments.of("a header prefix match",
            routes(route(prefix("/").addHeaders(HeaderMatcher.newBuilder().setName("x")
                .setStringMatch(StringMatcher.newBuilder().setPrefix("a"))), toCluster("catalog"))),
            rc + ".match.headers[0].string_match.prefix: set (expected: only fields Meshlet implements: exact, "
                + "safe_regex)"),
        Arguments.of("a non-optional unknown per-route filter",
            routes(route(prefix("/"), toCluster("catalog")).toBuilder()
                .putTypedPerFilterConfig("envoy.filters.http.cors", Any.pack(CorsPolicy.getDefaultInstance()))
                .build()),
            rc + ".typed_per_filter_config.envoy.filters.http.cors: "
                + "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy "
                + "(expected: a filter Meshlet implements: envoy.filters.http.fault, "
                + "envoy.filters.http.local_ratelimit)"),
        Arguments.of("a fault the listener does not enable",
            (ThrowingCallable) () -> ResourceParser.routeConfiguration("catalog", routeConfiguration("catalog",
                route(prefix("/"), toCluster("catalog")).toBuilder()
                    .putTypedPerFilterConfig(FAULT, Any.pack(fault(1, 10, 0, 503))).build()), Set.of(ROUTER)),
            rc + ".typed_per_filter_config.envoy.filters.http.fault: set "
                + "(expected: the listener to enable envoy.filters.http.fault)"),
        Arguments.of("an abort status out of range",
            routes(route(prefix("/"), toCluster("catalog")).toBuilder()
                .putTypedPerFilterConfig(FAULT, Any.pack(fault(0, 10, 1, 700))).build()),
            rc + ".typed_per_filter_config.envoy.filters.http.fault.abort.http_status: 700 (expected: 200..599)"),
        Arguments.of("a rate limit enabled for half the requests",
            routes(route(prefix("/"), toCluster("catalog")).toBuilder()
                .putTypedPerFilterConfig(RATE_LIMIT, optionalFilterConfig(rateLimit("catalog", 10, 10).toBuilder()
                    .setFilterEnabled(RuntimeFractionalPercent.newBuilder().setDefaultValue(FractionalPercent
                        .newBuilder().setNumerator(50).setDenominator(FractionalPercent.DenominatorType.HUNDRED)))
                    .build()))
                .build()),
            rc + ".typed_per_filter_config.envoy.filters.http.local_ratelimit.filter_enabled: enabled 50.0%, "
                + "enforced 100.0% (expected: 0% or 100% each: Meshlet limits all requests of a route or none)"),
        Arguments.of("a token bucket with a negative fill interval",
            routes(route(prefix("/"), toCluster("catalog")).toBuilder()
                .putTypedPerFilterConfig(RATE_LIMIT, optionalFilterConfig(rateLimit("catalog", 10, 10).toBuilder()
                    .setTokenBucket(rateLimit("catalog", 10, 10).getTokenBucket().toBuilder()
                        .setFillInterval(duration(Duration.ofSeconds(-1))))
                    .build()))
                .build()),
            rc + ".typed_per_filter_config.envoy.filters.http.local_ratelimit.token_bucket: max_tokens 10, "
                + "tokens_per_fill 10, fill_interval PT-1S (expected: max_tokens >= 1, tokens_per_fill >= 1, "
                + "fill_interval > 0)"),
        Arguments.of("every problem of a route configuration, not just the first",
            routes(route(prefix("/"), toCluster("catalog").setPrefixRewrite("/v2")),
                route(prefix("/"), toCluster("catalog").setRetryPolicy(retryPolicy("foo", 1, 10, 10, 10)))),
            rc + ".route.prefix_rewrite: set (expected: only fields Meshlet implements: " + actionFields + "); "
                + "route configuration 'catalog': virtual_hosts[0].routes[1].route.retry_policy.retry_on: foo "
                + "(expected: conditions Meshlet implements: 5xx, gateway-error, reset, connect-failure, "
                + "retriable-4xx, refused-stream, retriable-status-codes, or gRPC status names)"),
        Arguments.of("no virtual host for the service",
            (ThrowingCallable) () -> ResourceParser.routeConfiguration("catalog", RouteConfiguration.newBuilder()
                .setName("catalog").addVirtualHosts(VirtualHost.newBuilder().addDomains("other")).build(),
                ALL_FILTERS),
            "route configuration 'catalog': virtual_hosts: no host with domain '*' or 'catalog' "
                + "(expected: a virtual host for the service)"),
        // clusters
        Arguments.of("Cluster type STATIC",
            clusterOf(cluster("catalog").setType(Cluster.DiscoveryType.STATIC)),
            "cluster 'catalog': type: STATIC (expected: EDS)"),
        Arguments.of("endpoints not over ADS",
            clusterOf(cluster("catalog").setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder()
                .setEdsConfig(ConfigSource.newBuilder().setSelf(SelfConfigSource.getDefaultInstance())))),
            "cluster 'catalog': eds_cluster_config.eds_config: self (expected: ads)"),
        Arguments.of("an EDS service name other than the cluster's",
            clusterOf(cluster("catalog").setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder()
                .setEdsConfig(XdsFixtures.ads()).setServiceName("other"))),
            "cluster 'catalog': eds_cluster_config.service_name: other "
                + "(expected: empty or the cluster name 'catalog')"),
        Arguments.of("lb_policy MAGLEV",
            clusterOf(cluster("catalog").setLbPolicy(Cluster.LbPolicy.MAGLEV)),
            "cluster 'catalog': lb_policy: MAGLEV (expected: ROUND_ROBIN, LEAST_REQUEST, RING_HASH or RANDOM)"),
        Arguments.of("a load_balancing_policy with no policy Meshlet implements",
            clusterOf(cluster("catalog").clearLbPolicy().setLoadBalancingPolicy(LoadBalancingPolicy.newBuilder()
                .addPolicies(lbPolicy("envoy.load_balancing_policies.maglev", Any.pack(
                    io.envoyproxy.envoy.extensions.load_balancing_policies.maglev.v3.Maglev.getDefaultInstance()))))),
            "cluster 'catalog': load_balancing_policy: no policy Meshlet implements (expected: a list including "
                + "envoy.load_balancing_policies.round_robin, .least_request, .ring_hash or .random)"),
        Arguments.of("enforcing_success_rate unset",
            clusterOf(cluster("catalog").setOutlierDetection(
                outlierDetection(5, Duration.ofSeconds(10), Duration.ofSeconds(30), 50).clearEnforcingSuccessRate())),
            "cluster 'catalog': outlier_detection.enforcing_success_rate: unset (100) (expected: 0: Meshlet "
                + "implements consecutive-error ejection, not success-rate ejection)"),
        Arguments.of("ejection enforced half the time",
            clusterOf(cluster("catalog").setOutlierDetection(
                outlierDetection(5, Duration.ofSeconds(10), Duration.ofSeconds(30), 50)
                    .setEnforcingConsecutive5Xx(UInt32Value.of(50)))),
            "cluster 'catalog': outlier_detection.enforcing_consecutive_5xx: 50 (expected: 0 or 100: Meshlet "
                + "ejects always or never, not a share of the time)"),
        Arguments.of("max_ejection_time",
            clusterOf(cluster("catalog").setOutlierDetection(
                outlierDetection(5, Duration.ofSeconds(10), Duration.ofSeconds(30), 50)
                    .setMaxEjectionTime(duration(Duration.ofMinutes(1))))),
            "cluster 'catalog': outlier_detection.max_ejection_time: set (expected: only fields Meshlet "
                + "implements: " + outlierFields + ")"),
        Arguments.of("max_requests 0",
            clusterOf(cluster("catalog").setCircuitBreakers(circuitBreakers(0, 0, 0))),
            "cluster 'catalog': circuit_breakers.thresholds[0].max_requests: 0 (expected: >= 1)"),
        // endpoints
        Arguments.of("an endpoint with port 0",
            (ThrowingCallable) () -> ResourceParser.endpoints(
                assignment("catalog", lbEndpoint("10.0.0.1", 0, Map.of()))),
            "endpoint assignment 'catalog': endpoints[0].lb_endpoints[0].endpoint.address.socket_address: "
                + "10.0.0.1:0 (expected: an address and a port in 1..65535)"),
        Arguments.of("an overprovisioning factor of 0",
            (ThrowingCallable) () -> ResourceParser.endpoints(ClusterLoadAssignment.newBuilder()
                .setClusterName("catalog")
                .addEndpoints(LocalityLbEndpoints.newBuilder()
                    .addLbEndpoints(lbEndpoint("10.0.0.1", 9001, Map.of())))
                .setPolicy(ClusterLoadAssignment.Policy.newBuilder().setOverprovisioningFactor(UInt32Value.of(0)))
                .build()),
            "endpoint assignment 'catalog': policy.overprovisioning_factor: 0 (expected: at least 1)"));
  }

  private static ThrowingCallable listenerOf(
      io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.Builder hcm) {
    return () -> ResourceParser.listener(XdsFixtures.listener(hcm.build(), "catalog"));
  }

  private static ThrowingCallable routes(Route... routes) {
    return () -> ResourceParser.routeConfiguration("catalog", routeConfiguration("catalog", routes), ALL_FILTERS);
  }

  private static ThrowingCallable clusterOf(Cluster.Builder c) {
    return () -> ResourceParser.cluster(c.build());
  }

  private static LoadBalancingPolicy.Policy lbPolicy(String name, Any config) {
    return LoadBalancingPolicy.Policy.newBuilder()
        .setTypedExtensionConfig(TypedExtensionConfig.newBuilder().setName(name).setTypedConfig(config))
        .build();
  }

  @Test
  void grpcStatusAbortIsAnsweredWithEnvoysHttpStatus() throws Exception {
    Route r = route(prefix("/"), toCluster("catalog")).toBuilder()
        .putTypedPerFilterConfig(FAULT, Any.pack(HTTPFault.newBuilder()
            .setAbort(io.envoyproxy.envoy.extensions.filters.http.fault.v3.FaultAbort.newBuilder()
                .setGrpcStatus(14).setPercentage(XdsFixtures.percent(100)))
            .build()))
        .build();

    RouteRule rule = ResourceParser.routeConfiguration("catalog", routeConfiguration("catalog", r),
        Set.of(ROUTER, FAULT)).rules().get(0);

    // gRPC UNAVAILABLE aborts an HTTP call with 503, as Envoy maps it.
    assertThat(rule.fault()).contains(new FaultPolicy(Optional.empty(),
        Optional.of(new FaultPolicy.Abort(FaultPolicy.MILLION, 503))));
  }
}
