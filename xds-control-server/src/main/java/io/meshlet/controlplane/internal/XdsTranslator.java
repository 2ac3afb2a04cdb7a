package io.meshlet.controlplane.internal;

import com.google.protobuf.Any;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.LoadBalancingPolicy;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import io.envoyproxy.envoy.config.core.v3.RuntimeFractionalPercent;
import io.envoyproxy.envoy.config.core.v3.SelfConfigSource;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig;
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
import io.envoyproxy.envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest;
import io.envoyproxy.envoy.extensions.load_balancing_policies.random.v3.Random;
import io.envoyproxy.envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash;
import io.envoyproxy.envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.envoyproxy.envoy.type.v3.TokenBucket;
import io.meshlet.controlplane.CircuitBreakerSpec;
import io.meshlet.controlplane.EndpointSpec;
import io.meshlet.controlplane.FaultSpec;
import io.meshlet.controlplane.MeshConfig;
import io.meshlet.controlplane.OutlierDetectionSpec;
import io.meshlet.controlplane.RateLimitSpec;
import io.meshlet.controlplane.RetrySpec;
import io.meshlet.controlplane.RouteMatch;
import io.meshlet.controlplane.RouteSpec;
import io.meshlet.controlplane.ServiceSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Translates the mesh intent into Envoy v3 resources that both a stock gRPC xDS client and
 * Meshlet's own policy engine obey.
 *
 * <p>Per service {@code s}: a listener {@code s} (an API listener, so {@code xds:///s} works),
 * a route configuration {@code s}, an EDS cluster {@code s} with every endpoint and one cluster
 * {@code s/<subset>} per subset, each with its endpoint assignment. Where grpc-java and Envoy
 * read different fields for one meaning (a route timeout), both are set.
 *
 * <p>Encodings are chosen so that every supported xDS client reads them: grpc-java, grpc-js-xds,
 * gRPC C-core from 1.51 (Debian's python3-grpcio), Envoy and Meshlet's own client. Where a newer
 * field has an older equivalent that all of them read, the older one is used (header matchers);
 * where clients differ in what they implement, an ordered fallback list is used (load balancing).
 * docs/compatibility.md has the table and the sources each choice was read from.
 *
 * <p>Pure and deterministic: the same intent always gives byte-identical resources.
 */
public final class XdsTranslator {

  /** The name of Envoy's HTTP fault filter. */
  public static final String FAULT_FILTER = "envoy.filters.http.fault";
  /** The name of Envoy's local rate limit filter. */
  public static final String RATE_LIMIT_FILTER = "envoy.filters.http.local_ratelimit";
  /** The name of Envoy's RBAC filter. */
  public static final String RBAC_FILTER = "envoy.filters.http.rbac";
  /** The name of Envoy's router filter. */
  public static final String ROUTER_FILTER = "envoy.filters.http.router";
  /** Endpoint metadata namespace holding an endpoint's labels, as Envoy's subset LB reads them. */
  public static final String LABELS_METADATA = "envoy.lb";

  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(1);

  private XdsTranslator() {}

  /** The cluster holding every endpoint of a service. */
  public static String clusterName(String service) {
    return service;
  }

  /** The cluster holding the endpoints of one subset of a service. */
  public static String clusterName(String service, String subset) {
    return service + "/" + subset;
  }

  /** Translates the whole mesh. */
  public static XdsResources translate(MeshConfig mesh) {
    List<Listener> listeners = new ArrayList<>();
    List<RouteConfiguration> routes = new ArrayList<>();
    List<Cluster> clusters = new ArrayList<>();
    List<ClusterLoadAssignment> assignments = new ArrayList<>();
    // One server listener per address; services sharing an address share its inbound policy
    // (the parser refuses a config where their authorization differs).
    java.util.Map<String, ServiceSpec> serverAddresses = new java.util.LinkedHashMap<>();
    for (ServiceSpec service : mesh.services().values()) {
      listeners.add(listener(service));
      if (service.authorization().isPresent() || service.mtlsMode(mesh) != io.meshlet.controlplane.MtlsSpec.Mode.OFF) {
        listeners.add(inboundListener(service, service.mtlsMode(mesh)));
      }
      if (service.protocol() == ServiceSpec.Protocol.GRPC) {
        for (EndpointSpec e : service.endpoints()) {
          // grpc-java names the listener after the address it binds: the endpoint's, or 0.0.0.0.
          serverAddresses.putIfAbsent(e.address(), service);
          serverAddresses.putIfAbsent("0.0.0.0:" + e.port(), service);
        }
      }
      routes.add(routeConfiguration(service));
      clusters.add(withTls(mesh, service, cluster(service, clusterName(service.name()))));
      assignments.add(assignment(clusterName(service.name()), service.endpoints()));
      for (String subset : service.subsets().keySet()) {
        String name = clusterName(service.name(), subset);
        clusters.add(withTls(mesh, service, cluster(service, name)));
        assignments.add(assignment(name, service.endpointsOf(subset)));
      }
    }
    serverAddresses.forEach((address, service) -> listeners.add(serverListener(mesh, service, address)));
    return XdsResources.of(listeners, routes, clusters, assignments);
  }

  /** The certificate provider instance name the generated gRPC bootstraps declare. */
  public static final String CERTIFICATE_PROVIDER = "meshlet";

  /**
   * With mTLS on, calls to a service's clusters are encrypted and the server must present the
   * service's SPIFFE ID; the certificates come from the client's "meshlet" certificate provider.
   */
  static Cluster withTls(MeshConfig mesh, ServiceSpec service, Cluster cluster) {
    if (service.mtlsMode(mesh) == io.meshlet.controlplane.MtlsSpec.Mode.OFF) {
      return cluster;
    }
    String id = "spiffe://" + mesh.trustDomain() + "/service/" + service.name();
    var provider = io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateProviderPluginInstance.newBuilder()
        .setInstanceName(CERTIFICATE_PROVIDER);
    var tls = io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext.newBuilder()
        .setCommonTlsContext(io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext.newBuilder()
            .setTlsCertificateProviderInstance(provider.clone().setCertificateName("default"))
            .setValidationContext(io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext
                .newBuilder()
                .setCaCertificateProviderInstance(provider.clone().setCertificateName("ROOTCA"))
                .addMatchSubjectAltNames(StringMatcher.newBuilder().setExact(id))))
        .build();
    return cluster.toBuilder().setTransportSocket(io.envoyproxy.envoy.config.core.v3.TransportSocket.newBuilder()
        .setName("envoy.transport_sockets.tls").setTypedConfig(Any.pack(tls))).build();
  }

  /** The listener carrying a service's inbound policy: {@code inbound|<service>}. */
  public static String inboundListenerName(String service) {
    return "inbound|" + service;
  }

  /**
   * What a service's own servers enforce, for Meshlet's servers (gRPC clients never ask for it):
   * its mTLS mode in the listener's {@code meshlet} metadata, and its authorization as an RBAC
   * filter, callers whose SPIFFE ID is on the allow list and nobody else.
   */
  static Listener inboundListener(ServiceSpec service, io.meshlet.controlplane.MtlsSpec.Mode mtls) {
    HttpConnectionManager.Builder hcm = HttpConnectionManager.newBuilder()
        .setStatPrefix(inboundListenerName(service.name()))
        .setRds(Rds.newBuilder().setRouteConfigName(service.name()).setConfigSource(ads()));
    service.authorization().ifPresent(a -> hcm.addHttpFilters(rbacFilter(a)));
    hcm.addHttpFilters(HttpFilter.newBuilder().setName(ROUTER_FILTER)
        .setTypedConfig(Any.pack(Router.getDefaultInstance())));
    com.google.protobuf.Struct meshlet = com.google.protobuf.Struct.newBuilder()
        .putFields("mtls", com.google.protobuf.Value.newBuilder().setStringValue(mtls.name().toLowerCase()).build())
        .build();
    return Listener.newBuilder().setName(inboundListenerName(service.name()))
        .setMetadata(io.envoyproxy.envoy.config.core.v3.Metadata.newBuilder().putFilterMetadata("meshlet", meshlet))
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(hcm.build()))).build();
  }

  /** The listener name grpc-java's XdsServerBuilder asks for (the bootstrap's template). */
  public static String serverListenerName(String address) {
    return "grpc/server?xds.resource.listening_address=" + address;
  }

  /**
   * The listener an {@code XdsServerBuilder} serving a gRPC service at {@code address} asks for:
   * under strict mTLS, it requires a client certificate from the trust bundle; with an authorization
   * policy, it allows only the listed SPIFFE IDs (RBAC).
   */
  static Listener serverListener(MeshConfig mesh, ServiceSpec service, String address) {
    int colon = address.lastIndexOf(':');
    String host = address.substring(0, colon).replace("[", "").replace("]", "");
    int port = Integer.parseInt(address.substring(colon + 1));
    HttpConnectionManager.Builder hcm = HttpConnectionManager.newBuilder()
        .setStatPrefix("inbound|" + service.name())
        .setRouteConfig(RouteConfiguration.newBuilder().setName("inbound|" + service.name())
            .addVirtualHosts(VirtualHost.newBuilder().setName(service.name()).addDomains("*")
                .addRoutes(Route.newBuilder()
                    .setMatch(io.envoyproxy.envoy.config.route.v3.RouteMatch.newBuilder().setPrefix("/"))
                    .setNonForwardingAction(io.envoyproxy.envoy.config.route.v3.NonForwardingAction.getDefaultInstance()))));
    service.authorization().ifPresent(a -> hcm.addHttpFilters(rbacFilter(a)));
    hcm.addHttpFilters(HttpFilter.newBuilder().setName(ROUTER_FILTER).setTypedConfig(Any.pack(Router.getDefaultInstance())));
    io.envoyproxy.envoy.config.listener.v3.FilterChain.Builder chain = io.envoyproxy.envoy.config.listener.v3.FilterChain
        .newBuilder()
        .setName("inbound|" + service.name())
        .addFilters(io.envoyproxy.envoy.config.listener.v3.Filter.newBuilder()
            .setName("envoy.filters.network.http_connection_manager").setTypedConfig(Any.pack(hcm.build())));
    // Permissive servers get no TLS context: grpc-java then uses the server's fallback
    // credentials (MeshGrpc.serverCredentials), which take mTLS and plaintext on one port.
    if (service.mtlsMode(mesh) == io.meshlet.controlplane.MtlsSpec.Mode.STRICT) {
      var provider = io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateProviderPluginInstance.newBuilder()
          .setInstanceName(CERTIFICATE_PROVIDER);
      var tls = io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext.newBuilder()
          .setRequireClientCertificate(com.google.protobuf.BoolValue.of(true))
          .setCommonTlsContext(io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext.newBuilder()
              .setTlsCertificateProviderInstance(provider.clone().setCertificateName("default"))
              .setValidationContext(io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext
                  .newBuilder().setCaCertificateProviderInstance(provider.clone().setCertificateName("ROOTCA"))))
          .build();
      chain.setTransportSocket(io.envoyproxy.envoy.config.core.v3.TransportSocket.newBuilder()
          .setName("envoy.transport_sockets.tls").setTypedConfig(Any.pack(tls)));
    }
    return Listener.newBuilder()
        .setName(serverListenerName(address))
        .setAddress(io.envoyproxy.envoy.config.core.v3.Address.newBuilder().setSocketAddress(
            SocketAddress.newBuilder().setAddress(host).setPortValue(port)))
        .addFilterChains(chain)
        .build();
  }

  /**
   * A service's authorization as an ALLOW RBAC filter (a request passes when any policy matches).
   * Rules are tried in order, so rule {@code i} matches its own paths minus those of earlier
   * rules ({@code rule-<i>}); the service-wide allow list covers what no rule matches
   * ({@code default}). An empty allow list becomes no policy: nobody is allowed.
   */
  static HttpFilter rbacFilter(io.meshlet.controlplane.AuthorizationSpec authz) {
    io.envoyproxy.envoy.config.rbac.v3.RBAC.Builder rules = io.envoyproxy.envoy.config.rbac.v3.RBAC.newBuilder()
        .setAction(io.envoyproxy.envoy.config.rbac.v3.RBAC.Action.ALLOW);
    List<io.envoyproxy.envoy.config.rbac.v3.Permission> earlier = new ArrayList<>();
    for (int i = 0; i < authz.rules().size(); i++) {
      io.meshlet.controlplane.AuthorizationSpec.Rule rule = authz.rules().get(i);
      io.envoyproxy.envoy.config.rbac.v3.Permission match = ruleMatch(rule);
      if (!rule.allow().isEmpty()) {
        rules.putPolicies("rule-" + i, policy(andNot(match, earlier), rule.allow()));
      }
      earlier.add(match);
    }
    io.envoyproxy.envoy.config.rbac.v3.Permission rest = earlier.isEmpty()
        ? io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setAny(true).build()
        : io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setNotRule(anyOf(earlier)).build();
    if (authz.allow().isEmpty()) {
      rules.putPolicies("default", io.envoyproxy.envoy.config.rbac.v3.Policy.newBuilder().addPermissions(rest)
          .addPrincipals(io.envoyproxy.envoy.config.rbac.v3.Principal.newBuilder().setAny(true)).build());
    } else if (!authz.allow().get().isEmpty()) {
      rules.putPolicies("default", policy(rest, authz.allow().get()));
    }
    return HttpFilter.newBuilder().setName(RBAC_FILTER).setTypedConfig(Any.pack(
        io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.newBuilder().setRules(rules).build())).build();
  }

  private static io.envoyproxy.envoy.config.rbac.v3.Policy policy(
      io.envoyproxy.envoy.config.rbac.v3.Permission permission, List<String> allow) {
    io.envoyproxy.envoy.config.rbac.v3.Policy.Builder policy = io.envoyproxy.envoy.config.rbac.v3.Policy.newBuilder()
        .addPermissions(permission);
    for (String id : allow) {
      policy.addPrincipals(io.envoyproxy.envoy.config.rbac.v3.Principal.newBuilder().setAuthenticated(
          io.envoyproxy.envoy.config.rbac.v3.Principal.Authenticated.newBuilder()
              .setPrincipalName(StringMatcher.newBuilder().setExact(id))));
    }
    return policy.build();
  }

  /** A rule's path (exact or prefix) and, if it names any, one of its HTTP methods. */
  private static io.envoyproxy.envoy.config.rbac.v3.Permission ruleMatch(
      io.meshlet.controlplane.AuthorizationSpec.Rule rule) {
    StringMatcher.Builder path = StringMatcher.newBuilder();
    if (rule.prefix()) {
      path.setPrefix(rule.path());
    } else {
      path.setExact(rule.path());
    }
    io.envoyproxy.envoy.config.rbac.v3.Permission byPath = io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder()
        .setUrlPath(io.envoyproxy.envoy.type.matcher.v3.PathMatcher.newBuilder().setPath(path)).build();
    if (rule.methods().isEmpty()) {
      return byPath;
    }
    List<io.envoyproxy.envoy.config.rbac.v3.Permission> methods = new ArrayList<>();
    for (String m : rule.methods()) {
      // exact_match, not string_match: C-core before 1.56 refuses a string_match header in RBAC.
      methods.add(io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setHeader(
          io.envoyproxy.envoy.config.route.v3.HeaderMatcher.newBuilder().setName(":method")
              .setExactMatch(m)).build());
    }
    return io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setAndRules(
        io.envoyproxy.envoy.config.rbac.v3.Permission.Set.newBuilder().addRules(byPath).addRules(anyOf(methods)))
        .build();
  }

  private static io.envoyproxy.envoy.config.rbac.v3.Permission anyOf(
      List<io.envoyproxy.envoy.config.rbac.v3.Permission> permissions) {
    return permissions.size() == 1 ? permissions.get(0) : io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder()
        .setOrRules(io.envoyproxy.envoy.config.rbac.v3.Permission.Set.newBuilder().addAllRules(permissions)).build();
  }

  private static io.envoyproxy.envoy.config.rbac.v3.Permission andNot(
      io.envoyproxy.envoy.config.rbac.v3.Permission match, List<io.envoyproxy.envoy.config.rbac.v3.Permission> earlier) {
    if (earlier.isEmpty()) {
      return match;
    }
    return io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setAndRules(
        io.envoyproxy.envoy.config.rbac.v3.Permission.Set.newBuilder().addRules(match)
            .addRules(io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setNotRule(anyOf(earlier))))
        .build();
  }

  static Listener listener(ServiceSpec service) {
    HttpConnectionManager.Builder hcm = HttpConnectionManager.newBuilder()
        .setStatPrefix(service.name())
        .setRds(Rds.newBuilder().setRouteConfigName(service.name()).setConfigSource(ads()));
    boolean faults = service.routes().stream().anyMatch(r -> r.faults().isPresent());
    boolean rateLimits = service.routes().stream().anyMatch(r -> r.rateLimit().isPresent());
    if (faults) {
      hcm.addHttpFilters(HttpFilter.newBuilder().setName(FAULT_FILTER)
          .setTypedConfig(Any.pack(HTTPFault.getDefaultInstance())));
    }
    if (rateLimits) {
      // grpc-java has no local rate limit filter: optional, so it skips it instead of NACKing.
      // Meshlet's own clients enforce it.
      hcm.addHttpFilters(HttpFilter.newBuilder().setName(RATE_LIMIT_FILTER).setIsOptional(true)
          .setTypedConfig(Any.pack(LocalRateLimit.newBuilder().setStatPrefix(service.name()).build())));
    }
    hcm.addHttpFilters(HttpFilter.newBuilder().setName(ROUTER_FILTER)
        .setTypedConfig(Any.pack(Router.getDefaultInstance())));
    return Listener.newBuilder()
        .setName(service.name())
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(hcm.build())))
        .build();
  }

  static RouteConfiguration routeConfiguration(ServiceSpec service) {
    VirtualHost.Builder host = VirtualHost.newBuilder().setName(service.name()).addDomains("*");
    for (RouteSpec spec : service.routes()) {
      host.addRoutes(route(service, spec));
    }
    return RouteConfiguration.newBuilder().setName(service.name()).addVirtualHosts(host).build();
  }

  static Route route(ServiceSpec service, RouteSpec spec) {
    RouteAction.Builder action = RouteAction.newBuilder();
    List<RouteSpec.WeightedTarget> targets = spec.to().stream().filter(t -> t.weight() > 0).toList();
    if (targets.size() == 1) {
      action.setCluster(targetCluster(service, targets.get(0)));
    } else {
      WeightedCluster.Builder weighted = WeightedCluster.newBuilder();
      long sum = 0;
      for (RouteSpec.WeightedTarget t : targets) {
        weighted.addClusters(WeightedCluster.ClusterWeight.newBuilder()
            .setName(targetCluster(service, t))
            .setWeight(UInt32Value.of(t.weight())));
        sum += t.weight();
      }
      // gRPC C-core 1.51 takes an unset total_weight as 100 and refuses a split whose weights add
      // up to anything else; Envoy checks a set total_weight the same way (the field is deprecated,
      // so it is left out when the default fits); grpc-java, grpc-js and later C-core use the sum.
      if (sum != 100) {
        weighted.setTotalWeight(UInt32Value.of((int) sum));
      }
      action.setWeightedClusters(weighted);
    }
    // Envoy reads 'timeout' (0 = none); grpc-java reads max_stream_duration. Set both.
    Duration timeout = spec.timeout().orElse(Duration.ZERO);
    action.setTimeout(duration(timeout));
    spec.timeout().ifPresent(t -> action.setMaxStreamDuration(
        RouteAction.MaxStreamDuration.newBuilder().setMaxStreamDuration(duration(t))));
    // No retries is no retry policy: C-core and grpc-js refuse num_retries: 0.
    spec.retries().filter(r -> r.attempts() > 0).ifPresent(r -> action.setRetryPolicy(retryPolicy(r)));
    service.hashHeader().ifPresent(h -> action.addHashPolicy(RouteAction.HashPolicy.newBuilder()
        .setHeader(RouteAction.HashPolicy.Header.newBuilder().setHeaderName(h))));

    Route.Builder route = Route.newBuilder().setMatch(match(spec.match())).setRoute(action);
    spec.faults().ifPresent(f -> route.putTypedPerFilterConfig(FAULT_FILTER, Any.pack(fault(f))));
    spec.rateLimit().ifPresent(l -> route.putTypedPerFilterConfig(RATE_LIMIT_FILTER,
        Any.pack(FilterConfig.newBuilder().setIsOptional(true)
            .setConfig(Any.pack(rateLimit(service.name(), l))).build())));
    return route.build();
  }

  private static String targetCluster(ServiceSpec service, RouteSpec.WeightedTarget target) {
    return target.subset()
        .map(s -> clusterName(service.name(), s))
        .orElse(clusterName(service.name()));
  }

  static io.envoyproxy.envoy.config.route.v3.RouteMatch match(RouteMatch match) {
    io.envoyproxy.envoy.config.route.v3.RouteMatch.Builder b =
        io.envoyproxy.envoy.config.route.v3.RouteMatch.newBuilder();
    switch (match.path().kind()) {
      case PREFIX -> b.setPrefix(match.path().value());
      case EXACT -> b.setPath(match.path().value());
      case REGEX -> b.setSafeRegex(RegexMatcher.newBuilder().setRegex(match.path().value()));
    }
    for (RouteMatch.HeaderMatch h : match.headers()) {
      // The older oneof fields, not string_match: gRPC C-core reads string_match only from 1.56
      // (gRFC A63) and refuses the whole route configuration before that. exact_match,
      // safe_regex_match and present_match are read by every client (grpc-java, grpc-js, C-core,
      // Envoy, Meshlet), deprecated in Envoy's API but not removed.
      HeaderMatcher.Builder hm = HeaderMatcher.newBuilder().setName(h.name());
      switch (h.kind()) {
        case EXACT -> hm.setExactMatch(h.value());
        case REGEX -> hm.setSafeRegexMatch(RegexMatcher.newBuilder().setRegex(h.value()));
        case PRESENT -> hm.setPresentMatch(true);
      }
      b.addHeaders(hm);
    }
    return b.build();
  }

  static RetryPolicy retryPolicy(RetrySpec spec) {
    RetryPolicy.Builder b = RetryPolicy.newBuilder()
        .setRetryOn(String.join(",", spec.on()))
        .setNumRetries(UInt32Value.of(spec.attempts()))
        .setRetryBackOff(RetryPolicy.RetryBackOff.newBuilder()
            .setBaseInterval(duration(spec.backoffBase()))
            .setMaxInterval(duration(spec.backoffMax())));
    spec.perTryTimeout().ifPresent(t -> b.setPerTryTimeout(duration(t)));
    return b.build();
  }

  static HTTPFault fault(FaultSpec spec) {
    HTTPFault.Builder b = HTTPFault.newBuilder();
    spec.delay().ifPresent(d -> b.setDelay(FaultDelay.newBuilder()
        .setFixedDelay(duration(d.fixed()))
        .setPercentage(percent(d.percent()))));
    spec.abort().ifPresent(a -> {
      FaultAbort.Builder abort = FaultAbort.newBuilder().setPercentage(percent(a.percent()));
      a.httpStatus().ifPresent(abort::setHttpStatus);
      a.grpcStatus().ifPresent(abort::setGrpcStatus);
      b.setAbort(abort);
    });
    return b.build();
  }

  static LocalRateLimit rateLimit(String service, RateLimitSpec spec) {
    FractionalPercent all = FractionalPercent.newBuilder()
        .setNumerator(100).setDenominator(FractionalPercent.DenominatorType.HUNDRED).build();
    return LocalRateLimit.newBuilder()
        .setStatPrefix(service)
        .setTokenBucket(TokenBucket.newBuilder()
            .setMaxTokens(spec.burst())
            .setTokensPerFill(UInt32Value.of(spec.requestsPerSecond()))
            .setFillInterval(duration(Duration.ofSeconds(1))))
        .setFilterEnabled(RuntimeFractionalPercent.newBuilder().setDefaultValue(all))
        .setFilterEnforced(RuntimeFractionalPercent.newBuilder().setDefaultValue(all))
        .build();
  }

  static Cluster cluster(ServiceSpec service, String name) {
    Cluster.Builder b = Cluster.newBuilder()
        .setName(name)
        .setType(Cluster.DiscoveryType.EDS)
        .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(ads()).setServiceName(name))
        .setConnectTimeout(duration(CONNECT_TIMEOUT));
    b.setLoadBalancingPolicy(loadBalancingPolicy(service.loadBalancing()));
    service.circuitBreaker().ifPresent(cb -> b.setCircuitBreakers(circuitBreakers(cb)));
    // Every cluster reports its load to this server (the console's traffic). grpc-java also
    // counts requests in flight, for a max_requests circuit breaker, only for clusters that do.
    b.setLrsServer(ConfigSource.newBuilder().setSelf(SelfConfigSource.getDefaultInstance()));
    service.outlierDetection().ifPresent(od -> b.setOutlierDetection(outlierDetection(od)));
    return b.build();
  }

  /** Envoy's ring hash defaults (min 1024); the max is grpc-java's cap, so every client builds the same ring. */
  static final long MIN_RING_SIZE = 1024;
  static final long MAX_RING_SIZE = 4096;

  /**
   * A service's load balancing as {@code load_balancing_policy}: the policy, then round robin.
   *
   * <p>A client takes the first policy of the list it implements (gRFC A52, Envoy), so a client
   * without least request or random (grpc-js, C-core) falls back to round robin instead of
   * refusing the cluster, as it does for {@code lb_policy: LEAST_REQUEST}.
   *
   * <p>{@code lb_policy} is left at its default, {@code ROUND_ROBIN}: it is all that gRPC C-core
   * reads before 1.55 (A52 is behind {@code GRPC_EXPERIMENTAL_XDS_CUSTOM_LB_CONFIG}, off, in
   * Debian's 1.51), and it is the fallback there too. Not {@code RING_HASH} for ring hash: C-core
   * 1.51's ring hash crashes the process on a pick (grpc/grpc#31766, fixed after 1.51.1), so those
   * clients get round robin, without affinity, instead of a crash. Every other client reads the list.
   *
   * <p>The endpoint-picking policy is not wrapped in {@code WrrLocality}: every assignment has one
   * locality, and Envoy does not implement {@code WrrLocality}.
   */
  static LoadBalancingPolicy loadBalancingPolicy(ServiceSpec.LoadBalancing lb) {
    LoadBalancingPolicy.Builder list = LoadBalancingPolicy.newBuilder();
    switch (lb) {
      case ROUND_ROBIN -> { }
      case LEAST_REQUEST -> list.addPolicies(lbPolicy("envoy.load_balancing_policies.least_request",
          Any.pack(LeastRequest.getDefaultInstance())));
      case RING_HASH -> list.addPolicies(lbPolicy("envoy.load_balancing_policies.ring_hash",
          Any.pack(RingHash.newBuilder()
              .setHashFunction(RingHash.HashFunction.XX_HASH)
              .setMinimumRingSize(com.google.protobuf.UInt64Value.of(MIN_RING_SIZE))
              .setMaximumRingSize(com.google.protobuf.UInt64Value.of(MAX_RING_SIZE))
              .build())));
      // grpc-java, grpc-js and C-core have no random policy; Meshlet's engine and Envoy do.
      case RANDOM -> list.addPolicies(lbPolicy("envoy.load_balancing_policies.random",
          Any.pack(Random.getDefaultInstance())));
    }
    return list.addPolicies(lbPolicy("envoy.load_balancing_policies.round_robin",
        Any.pack(RoundRobin.getDefaultInstance()))).build();
  }

  private static LoadBalancingPolicy.Policy lbPolicy(String name, Any config) {
    return LoadBalancingPolicy.Policy.newBuilder()
        .setTypedExtensionConfig(TypedExtensionConfig.newBuilder().setName(name).setTypedConfig(config))
        .build();
  }

  static CircuitBreakers circuitBreakers(CircuitBreakerSpec spec) {
    return CircuitBreakers.newBuilder()
        .addThresholds(CircuitBreakers.Thresholds.newBuilder()
            .setPriority(RoutingPriority.DEFAULT)
            .setMaxRequests(UInt32Value.of(spec.maxRequests()))
            .setMaxPendingRequests(UInt32Value.of(spec.maxPendingRequests()))
            .setMaxRetries(UInt32Value.of(spec.maxRetries())))
        .build();
  }

  static OutlierDetection outlierDetection(OutlierDetectionSpec spec) {
    OutlierDetection.Builder b = OutlierDetection.newBuilder();
    if (spec.consecutive5xx() > 0) {
      b.setConsecutive5Xx(UInt32Value.of(spec.consecutive5xx())).setEnforcingConsecutive5Xx(UInt32Value.of(100));
    } else {
      // A gRPC service's (the parser refuses consecutive5xx there): Envoy enforces 5 when unset.
      b.setEnforcingConsecutive5Xx(UInt32Value.of(0));
    }
    b.setInterval(duration(spec.interval()))
        .setBaseEjectionTime(duration(spec.baseEjectionTime()))
        .setMaxEjectionPercent(UInt32Value.of(spec.maxEjectionPercent()))
        // Envoy enables success-rate ejection by default; the intent does not ask for it.
        .setEnforcingSuccessRate(UInt32Value.of(0));
    spec.failurePercentage().ifPresent(fp -> b
        .setFailurePercentageThreshold(UInt32Value.of(fp.threshold()))
        .setFailurePercentageMinimumHosts(UInt32Value.of(fp.minimumHosts()))
        .setFailurePercentageRequestVolume(UInt32Value.of(fp.requestVolume()))
        .setEnforcingFailurePercentage(UInt32Value.of(100)));
    return b.build();
  }

  static ClusterLoadAssignment assignment(String cluster, List<EndpointSpec> endpoints) {
    ClusterLoadAssignment.Builder b = ClusterLoadAssignment.newBuilder().setClusterName(cluster);
    if (endpoints.isEmpty()) {
      return b.build();
    }
    LocalityLbEndpoints.Builder locality = LocalityLbEndpoints.newBuilder()
        .setLocality(Locality.getDefaultInstance())
        // grpc-java ignores a locality without a weight.
        .setLoadBalancingWeight(UInt32Value.of(1));
    for (EndpointSpec e : endpoints) {
      LbEndpoint.Builder lb = LbEndpoint.newBuilder()
          .setHealthStatus(HealthStatus.HEALTHY)
          .setEndpoint(Endpoint.newBuilder().setAddress(
              io.envoyproxy.envoy.config.core.v3.Address.newBuilder().setSocketAddress(
                  SocketAddress.newBuilder().setAddress(e.host()).setPortValue(e.port()))));
      if (!e.labels().isEmpty()) {
        com.google.protobuf.Struct.Builder labels = com.google.protobuf.Struct.newBuilder();
        e.labels().forEach((k, v) ->
            labels.putFields(k, com.google.protobuf.Value.newBuilder().setStringValue(v).build()));
        lb.setMetadata(Metadata.newBuilder().putFilterMetadata(LABELS_METADATA, labels.build()));
      }
      locality.addLbEndpoints(lb);
    }
    return b.addEndpoints(locality).build();
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

  static com.google.protobuf.Duration duration(Duration d) {
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(d.getSeconds())
        .setNanos(d.getNano())
        .build();
  }
}
