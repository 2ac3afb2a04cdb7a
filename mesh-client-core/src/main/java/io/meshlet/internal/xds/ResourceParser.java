package io.meshlet.internal.xds;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.LoadBalancingPolicy;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.FilterConfig;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest;
import io.envoyproxy.envoy.extensions.load_balancing_policies.random.v3.Random;
import io.envoyproxy.envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash;
import io.envoyproxy.envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.meshlet.config.CircuitBreakerPolicy;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.GrpcStatusMapping;
import io.meshlet.config.FaultPolicy;
import io.meshlet.config.InboundPolicy;
import io.meshlet.config.OutlierPolicy;
import io.meshlet.config.RateLimitPolicy;
import io.meshlet.config.RequestMatch;
import io.meshlet.config.RetryPolicy;
import io.meshlet.config.RouteRule;
import io.meshlet.config.RouteTable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Turns Envoy v3 resources into Meshlet's config records, refusing what Meshlet cannot honour.
 *
 * <p>Every field that is set is either understood or reported: a resource with a field Meshlet
 * does not implement is refused with a message naming the field, so the client NACKs it instead
 * of silently doing something else. Messages follow the config error format, with xDS field
 * names: {@code route configuration 'catalog': virtual_hosts[0].routes[1].route.prefix_rewrite:
 * set (expected: only fields Meshlet implements: ...)}.
 *
 * <p>Stateless and thread-safe.
 */
public final class ResourceParser {

  static final String FAULT_FILTER = "envoy.filters.http.fault";
  static final String RATE_LIMIT_FILTER = "envoy.filters.http.local_ratelimit";
  static final String ROUTER_FILTER = "envoy.filters.http.router";
  static final String LABELS_METADATA = "envoy.lb";
  static final Duration DEFAULT_ROUTE_TIMEOUT = Duration.ofSeconds(15);

  private ResourceParser() {}

  /**
   * Parsed listener: the service and the route configuration it uses; for an inbound listener
   * ({@code inbound|<service>}), what the service's own servers enforce.
   */
  public record ListenerResource(String name, String service, String routeConfigName, Set<String> filters,
      boolean inbound, io.meshlet.config.InboundPolicy inboundPolicy) {}

  static final String INBOUND_PREFIX = "inbound|";
  /** The listener metadata namespace in which the control server states a service's mTLS mode. */
  static final String MESHLET_METADATA = "meshlet";
  static final String RBAC_FILTER = "envoy.filters.http.rbac";

  /** The name of every listed item, or the reasons the resources were refused. */
  static final class Errors {
    final List<String> messages = new ArrayList<>();
    final String subject;

    Errors(String subject) {
      this.subject = subject;
    }

    void add(String path, String value, String expected) {
      messages.add(subject + ": " + path + ": " + value + " (expected: " + expected + ")");
    }

    void throwIfAny() throws ResourceException {
      if (!messages.isEmpty()) {
        throw new ResourceException(String.join("; ", messages));
      }
    }
  }

  /** A resource Meshlet refuses; the message is the NACK's text. */
  public static final class ResourceException extends Exception {
    private static final long serialVersionUID = 1L;

    public ResourceException(String message) {
      super(message);
    }
  }

  // ---- listeners ----

  public static ListenerResource listener(Listener l) throws ResourceException {
    Errors e = new Errors("listener '" + l.getName() + "'");
    boolean inbound = l.getName().startsWith(INBOUND_PREFIX);
    if (inbound) {
      only(l, e, "", "name", "api_listener", "metadata");
    } else {
      only(l, e, "", "name", "api_listener");
    }
    io.meshlet.config.MtlsMode mtls = inbound ? inboundMtls(l, e) : io.meshlet.config.MtlsMode.OFF;
    if (!l.hasApiListener()) {
      e.add("api_listener", "missing", "an API listener holding an HttpConnectionManager");
      e.throwIfAny();
    }
    HttpConnectionManager hcm;
    try {
      hcm = l.getApiListener().getApiListener().unpack(HttpConnectionManager.class);
    } catch (InvalidProtocolBufferException ex) {
      e.add("api_listener.api_listener", l.getApiListener().getApiListener().getTypeUrl(),
          "an envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
      throw new ResourceException(String.join("; ", e.messages));
    }
    String p = "api_listener.api_listener";
    only(hcm, e, p, "stat_prefix", "rds", "http_filters", "codec_type");
    if (!hcm.hasRds()) {
      e.add(p + ".rds", "missing", "route configuration over RDS (rds.route_config_name)");
    } else if (!hcm.getRds().getConfigSource().hasAds()) {
      e.add(p + ".rds.config_source",
          hcm.getRds().getConfigSource().getConfigSourceSpecifierCase().name().toLowerCase(), "ads");
    }
    Set<String> filters = new HashSet<>();
    java.util.Optional<List<InboundPolicy.Grant>> allow = java.util.Optional.empty();
    String lastKnown = null;
    for (int i = 0; i < hcm.getHttpFiltersCount(); i++) {
      HttpFilter f = hcm.getHttpFilters(i);
      String fp = p + ".http_filters[" + i + "]";
      String type = f.getTypedConfig().getTypeUrl();
      if (inbound && f.getName().equals(RBAC_FILTER)) {
        allow = java.util.Optional.of(rbac(f, fp, e));
        filters.add(RBAC_FILTER);
        continue;
      }
      boolean known = switch (f.getName()) {
        case ROUTER_FILTER -> type.endsWith(Router.getDescriptor().getFullName());
        case FAULT_FILTER -> type.endsWith(HTTPFault.getDescriptor().getFullName());
        case RATE_LIMIT_FILTER -> type.endsWith(LocalRateLimit.getDescriptor().getFullName());
        default -> false;
      };
      if (known) {
        filters.add(f.getName());
        lastKnown = f.getName();
        // Filter-wide settings would apply to every route; Meshlet reads faults and limits per route.
        try {
          Message config = switch (f.getName()) {
            case FAULT_FILTER -> f.getTypedConfig().unpack(HTTPFault.class);
            case RATE_LIMIT_FILTER -> f.getTypedConfig().unpack(LocalRateLimit.class).toBuilder()
                .clearStatPrefix().build();
            default -> null;
          };
          if (config != null && !config.getAllFields().isEmpty()) {
            e.add(fp + ".typed_config", fieldNames(config) + " set", "no filter-wide settings (Meshlet applies "
                + f.getName() + " per route, from typed_per_filter_config)");
          }
        } catch (InvalidProtocolBufferException ex) {
          e.add(fp + ".typed_config", "unreadable " + type, "a valid " + type);
        }
      } else if (!f.getIsOptional()) {
        e.add(fp + ".name", f.getName() + " (" + type + ")",
            "one of " + ROUTER_FILTER + ", " + FAULT_FILTER + ", " + RATE_LIMIT_FILTER + ", or is_optional: true");
      }
    }
    if (hcm.getHttpFiltersCount() > 0 && !ROUTER_FILTER.equals(lastKnown)) {
      e.add(p + ".http_filters", lastKnown == null || !filters.contains(ROUTER_FILTER)
          ? "no router filter" : "router filter before " + lastKnown, "the last filter to be " + ROUTER_FILTER);
    }
    e.throwIfAny();
    String service = inbound ? l.getName().substring(INBOUND_PREFIX.length()) : l.getName();
    return new ListenerResource(l.getName(), service, hcm.getRds().getRouteConfigName(), Set.copyOf(filters),
        inbound, new io.meshlet.config.InboundPolicy(mtls, allow));
  }

  /** An inbound listener's {@code metadata.filter_metadata.meshlet.mtls}: off, permissive or strict. */
  private static io.meshlet.config.MtlsMode inboundMtls(Listener l, Errors e) {
    var metadata = l.getMetadata();
    only(metadata, e, "metadata", "filter_metadata");
    for (String key : metadata.getFilterMetadataMap().keySet()) {
      if (!key.equals(MESHLET_METADATA)) {
        e.add("metadata.filter_metadata." + key, "set", "only the " + MESHLET_METADATA + " namespace");
      }
    }
    var fields = metadata.getFilterMetadataOrDefault(MESHLET_METADATA, com.google.protobuf.Struct.getDefaultInstance())
        .getFieldsMap();
    String p = "metadata.filter_metadata." + MESHLET_METADATA;
    for (String key : fields.keySet()) {
      if (!key.equals("mtls")) {
        e.add(p + "." + key, "set", "only mtls");
      }
    }
    Value v = fields.get("mtls");
    if (v == null) {
      return io.meshlet.config.MtlsMode.OFF;
    }
    switch (v.getStringValue()) {
      case "off":
        return io.meshlet.config.MtlsMode.OFF;
      case "permissive":
        return io.meshlet.config.MtlsMode.PERMISSIVE;
      case "strict":
        return io.meshlet.config.MtlsMode.STRICT;
      default:
        e.add(p + ".mtls", v.hasStringValue() ? v.getStringValue() : v.getKindCase().name().toLowerCase(),
            "one of off, permissive, strict");
        return io.meshlet.config.MtlsMode.OFF;
    }
  }

  /**
   * An ALLOW RBAC: each policy becomes a grant of its permissions (paths, methods, and, or, not)
   * to its principals (exact authenticated SPIFFE IDs, or any).
   */
  private static List<InboundPolicy.Grant> rbac(HttpFilter f, String p, Errors e) {
    io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC config;
    try {
      config = f.getTypedConfig().unpack(io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.class);
    } catch (InvalidProtocolBufferException ex) {
      e.add(p + ".typed_config", f.getTypedConfig().getTypeUrl(), "an RBAC filter config");
      return List.of();
    }
    only(config, e, p + ".typed_config", "rules");
    var rules = config.getRules();
    only(rules, e, p + ".typed_config.rules", "action", "policies");
    if (rules.getAction() != io.envoyproxy.envoy.config.rbac.v3.RBAC.Action.ALLOW) {
      e.add(p + ".typed_config.rules.action", rules.getAction().name(), "ALLOW");
    }
    List<InboundPolicy.Grant> grants = new ArrayList<>();
    new java.util.TreeMap<>(rules.getPoliciesMap()).forEach((name, policy) -> {
      String pp = p + ".typed_config.rules.policies." + name;
      only(policy, e, pp, "permissions", "principals");
      List<InboundPolicy.Permission> permissions = new ArrayList<>();
      for (int i = 0; i < policy.getPermissionsCount(); i++) {
        permissions.add(permission(policy.getPermissions(i), pp + ".permissions[" + i + "]", e));
      }
      Set<String> ids = new java.util.TreeSet<>();
      boolean anyone = false;
      for (var principal : policy.getPrincipalsList()) {
        StringMatcher m = principal.getAuthenticated().getPrincipalName();
        if (principal.getAny()) {
          anyone = true;
        } else if (!principal.hasAuthenticated() || m.getMatchPatternCase() != StringMatcher.MatchPatternCase.EXACT) {
          e.add(pp + ".principals", principal.getIdentifierCase().name().toLowerCase(),
              "any, or authenticated principal_name exact SPIFFE IDs");
        } else {
          ids.add(m.getExact());
        }
      }
      // As in Envoy, a policy matches when any of its permissions does.
      InboundPolicy.Permission which = permissions.size() == 1
          ? permissions.get(0) : new InboundPolicy.Permission.Or(permissions);
      grants.add(new InboundPolicy.Grant(which, ids, anyone));
    });
    return grants;
  }

  private static InboundPolicy.Permission permission(io.envoyproxy.envoy.config.rbac.v3.Permission p, String path,
      Errors e) {
    switch (p.getRuleCase()) {
      case ANY:
        return new InboundPolicy.Permission.Any();
      case URL_PATH: {
        StringMatcher m = p.getUrlPath().getPath();
        only(m, e, path + ".url_path.path", "exact", "prefix");
        if (m.getMatchPatternCase() == StringMatcher.MatchPatternCase.EXACT) {
          return new InboundPolicy.Permission.Path(m.getExact(), false);
        }
        if (m.getMatchPatternCase() == StringMatcher.MatchPatternCase.PREFIX) {
          return new InboundPolicy.Permission.Path(m.getPrefix(), true);
        }
        e.add(path + ".url_path.path", m.getMatchPatternCase().name().toLowerCase(), "exact or prefix");
        return new InboundPolicy.Permission.Any();
      }
      case HEADER: {
        // exact_match is what control servers send now (C-core before 1.56 reads no string_match);
        // string_match exact is what they sent before.
        HeaderMatcher h = p.getHeader();
        boolean exact = h.getHeaderMatchSpecifierCase() == HeaderMatcher.HeaderMatchSpecifierCase.EXACT_MATCH;
        boolean stringExact = h.hasStringMatch()
            && h.getStringMatch().getMatchPatternCase() == StringMatcher.MatchPatternCase.EXACT
            && !h.getStringMatch().getIgnoreCase();
        if (!h.getName().equals(":method") || !(exact || stringExact) || h.getInvertMatch()) {
          e.add(path + ".header", h.getName(), ":method with exact_match or string_match exact");
          return new InboundPolicy.Permission.Any();
        }
        return new InboundPolicy.Permission.Method(exact ? h.getExactMatch() : h.getStringMatch().getExact());
      }
      case AND_RULES:
      case OR_RULES: {
        boolean and = p.getRuleCase() == io.envoyproxy.envoy.config.rbac.v3.Permission.RuleCase.AND_RULES;
        var set = and ? p.getAndRules() : p.getOrRules();
        List<InboundPolicy.Permission> parts = new ArrayList<>();
        for (int i = 0; i < set.getRulesCount(); i++) {
          parts.add(permission(set.getRules(i), path + (and ? ".and_rules" : ".or_rules") + ".rules[" + i + "]", e));
        }
        return and ? new InboundPolicy.Permission.And(parts) : new InboundPolicy.Permission.Or(parts);
      }
      case NOT_RULE:
        return new InboundPolicy.Permission.Not(permission(p.getNotRule(), path + ".not_rule", e));
      default:
        e.add(path, p.getRuleCase().name().toLowerCase(),
            "one of any, url_path, header (:method), and_rules, or_rules, not_rule");
        return new InboundPolicy.Permission.Any();
    }
  }

  // ---- routes ----

  /**
   * Parses a route configuration into the route table of a service.
   *
   * @param service the service whose listener names this route configuration
   * @param filters the HTTP filters the listener enables
   */
  public static RouteTable routeConfiguration(String service, RouteConfiguration rc, Set<String> filters)
      throws ResourceException {
    Errors e = new Errors("route configuration '" + rc.getName() + "'");
    only(rc, e, "", "name", "virtual_hosts");
    // As in Envoy and gRPC, a host naming the service exactly wins over the wildcard host.
    int chosen = -1;
    for (int i = 0; i < rc.getVirtualHostsCount(); i++) {
      List<String> domains = rc.getVirtualHosts(i).getDomainsList();
      if (domains.contains(service)) {
        chosen = i;
        break;
      }
      if (chosen < 0 && domains.contains("*")) {
        chosen = i;
      }
    }
    if (chosen < 0) {
      e.add("virtual_hosts", "no host with domain '*' or '" + service + "'", "a virtual host for the service");
      e.throwIfAny();
    }
    VirtualHost vh = rc.getVirtualHosts(chosen);
    only(vh, e, "virtual_hosts[" + chosen + "]", "name", "domains", "routes");
    List<RouteRule> rules = new ArrayList<>();
    for (int j = 0; j < vh.getRoutesCount(); j++) {
      String path = "virtual_hosts[" + chosen + "].routes[" + j + "]";
      RouteRule rule = route(service, j, vh.getRoutes(j), path, filters, e);
      if (rule != null) {
        rules.add(rule);
      }
    }
    e.throwIfAny();
    return new RouteTable(service, rules);
  }

  private static RouteRule route(String service, int index, Route r, String p, Set<String> filters,
      Errors e) {
    only(r, e, p, "name", "match", "route", "typed_per_filter_config");
    if (!r.hasRoute()) {
      // An unsupported action (redirect, direct_response, ...) is already reported by only().
      if (r.getActionCase() == Route.ActionCase.ACTION_NOT_SET) {
        e.add(p + ".route", "missing", "a route action (route)");
      }
      return null;
    }
    RequestMatch match = match(r.getMatch(), p + ".match", e);
    RouteAction a = r.getRoute();
    String ap = p + ".route";
    only(a, e, ap, "cluster", "weighted_clusters", "timeout", "max_stream_duration", "retry_policy",
        "hash_policy");
    List<RouteRule.WeightedCluster> clusters = new ArrayList<>();
    switch (a.getClusterSpecifierCase()) {
      case CLUSTER -> clusters.add(new RouteRule.WeightedCluster(a.getCluster(), 1));
      case WEIGHTED_CLUSTERS -> {
        only(a.getWeightedClusters(), e, ap + ".weighted_clusters", "clusters", "total_weight");
        long sum = 0;
        for (var wc : a.getWeightedClusters().getClustersList()) {
          only(wc, e, ap + ".weighted_clusters.clusters", "name", "weight");
          clusters.add(new RouteRule.WeightedCluster(wc.getName(), u32(wc.getWeight().getValue())));
          sum += u32(wc.getWeight().getValue());
        }
        if (sum == 0) {
          e.add(ap + ".weighted_clusters", "weights adding up to 0", "weights adding up to more than 0");
          return null;
        }
        // As Envoy: a total_weight, if set, is what the weights add up to.
        if (a.getWeightedClusters().hasTotalWeight()
            && Integer.toUnsignedLong(a.getWeightedClusters().getTotalWeight().getValue()) != sum) {
          e.add(ap + ".weighted_clusters.total_weight",
              Integer.toUnsignedString(a.getWeightedClusters().getTotalWeight().getValue()),
              "the sum of the weights, " + sum);
          return null;
        }
      }
      default -> {
        // cluster_header and other specifiers are already reported by only().
        if (a.getClusterSpecifierCase() == RouteAction.ClusterSpecifierCase.CLUSTERSPECIFIER_NOT_SET) {
          e.add(ap + ".cluster", "missing", "cluster or weighted_clusters");
        }
        return null;
      }
    }
    // Envoy: an unset route timeout means 15 s; 0 means none.
    Optional<Duration> timeout = a.hasTimeout() ? Optional.empty() : Optional.of(DEFAULT_ROUTE_TIMEOUT);
    if (a.hasTimeout() && !isZero(a.getTimeout())) {
      timeout = Optional.of(duration(a.getTimeout()));
    } else if (a.hasMaxStreamDuration() && a.getMaxStreamDuration().hasMaxStreamDuration()
        && !isZero(a.getMaxStreamDuration().getMaxStreamDuration())) {
      timeout = Optional.of(duration(a.getMaxStreamDuration().getMaxStreamDuration()));
    }
    if (a.hasMaxStreamDuration()) {
      only(a.getMaxStreamDuration(), e, ap + ".max_stream_duration", "max_stream_duration");
    }
    Optional<RetryPolicy> retry = a.hasRetryPolicy()
        ? Optional.ofNullable(retry(a.getRetryPolicy(), ap + ".retry_policy", e))
        : Optional.empty();
    Optional<String> hashHeader = Optional.empty();
    for (int i = 0; i < a.getHashPolicyCount(); i++) {
      RouteAction.HashPolicy hp = a.getHashPolicy(i);
      if (!hp.hasHeader()) {
        e.add(ap + ".hash_policy[" + i + "]", hp.getPolicySpecifierCase().name().toLowerCase(), "header");
      } else if (hashHeader.isEmpty()) {
        hashHeader = Optional.of(hp.getHeader().getHeaderName().toLowerCase());
      }
    }
    Optional<FaultPolicy> fault = Optional.empty();
    Optional<RateLimitPolicy> rateLimit = Optional.empty();
    for (Map.Entry<String, Any> entry : r.getTypedPerFilterConfigMap().entrySet()) {
      String fp = p + ".typed_per_filter_config." + entry.getKey();
      Any config = entry.getValue();
      boolean optional = false;
      if (config.is(FilterConfig.class)) {
        try {
          FilterConfig wrapper = config.unpack(FilterConfig.class);
          optional = wrapper.getIsOptional();
          config = wrapper.getConfig();
        } catch (InvalidProtocolBufferException ex) {
          e.add(fp, "unreadable FilterConfig", "a valid FilterConfig");
          continue;
        }
      }
      switch (entry.getKey()) {
        case FAULT_FILTER -> {
          if (!filters.contains(FAULT_FILTER)) {
            e.add(fp, "set", "the listener to enable " + FAULT_FILTER);
          }
          fault = Optional.ofNullable(fault(config, fp, e));
        }
        case RATE_LIMIT_FILTER -> {
          if (!filters.contains(RATE_LIMIT_FILTER)) {
            e.add(fp, "set", "the listener to enable " + RATE_LIMIT_FILTER);
          }
          rateLimit = Optional.ofNullable(rateLimit(config, fp, e));
        }
        default -> {
          if (!optional) {
            e.add(fp, config.getTypeUrl(), "a filter Meshlet implements: " + FAULT_FILTER + ", " + RATE_LIMIT_FILTER);
          }
        }
      }
    }
    String name = r.getName().isEmpty() ? service + "#" + index : r.getName();
    if (match == null) {
      return null;
    }
    return new RouteRule(name, match, clusters, timeout, retry, fault, rateLimit, hashHeader);
  }

  private static RequestMatch match(io.envoyproxy.envoy.config.route.v3.RouteMatch m, String p, Errors e) {
    only(m, e, p, "prefix", "path", "safe_regex", "headers");
    RequestMatch.PathKind kind;
    String path;
    switch (m.getPathSpecifierCase()) {
      case PREFIX -> {
        kind = RequestMatch.PathKind.PREFIX;
        path = m.getPrefix();
      }
      case PATH -> {
        kind = RequestMatch.PathKind.EXACT;
        path = m.getPath();
      }
      case SAFE_REGEX -> {
        kind = RequestMatch.PathKind.REGEX;
        path = m.getSafeRegex().getRegex();
        if (!validRegex(path)) {
          e.add(p + ".safe_regex.regex", path, "a valid regular expression");
          return null;
        }
      }
      default -> {
        // Other path specifiers are already reported by only().
        if (m.getPathSpecifierCase()
            == io.envoyproxy.envoy.config.route.v3.RouteMatch.PathSpecifierCase.PATHSPECIFIER_NOT_SET) {
          e.add(p, "no path specifier", "prefix, path or safe_regex");
        }
        return null;
      }
    }
    List<RequestMatch.HeaderCondition> headers = new ArrayList<>();
    for (int i = 0; i < m.getHeadersCount(); i++) {
      HeaderMatcher h = m.getHeaders(i);
      String hp = p + ".headers[" + i + "]";
      only(h, e, hp, "name", "string_match", "present_match", "invert_match", "exact_match", "safe_regex_match");
      String name = h.getName().toLowerCase();
      switch (h.getHeaderMatchSpecifierCase()) {
        case PRESENT_MATCH -> headers.add(new RequestMatch.HeaderCondition(name,
            RequestMatch.HeaderCondition.Kind.PRESENT, "", h.getPresentMatch() == h.getInvertMatch()));
        case EXACT_MATCH -> headers.add(new RequestMatch.HeaderCondition(name,
            RequestMatch.HeaderCondition.Kind.EXACT, h.getExactMatch(), h.getInvertMatch()));
        case SAFE_REGEX_MATCH -> headers.add(regexHeader(name, h.getSafeRegexMatch().getRegex(),
            h.getInvertMatch(), hp, e));
        case STRING_MATCH -> {
          StringMatcher sm = h.getStringMatch();
          only(sm, e, hp + ".string_match", "exact", "safe_regex");
          switch (sm.getMatchPatternCase()) {
            case EXACT -> headers.add(new RequestMatch.HeaderCondition(name,
                RequestMatch.HeaderCondition.Kind.EXACT, sm.getExact(), h.getInvertMatch()));
            case SAFE_REGEX -> headers.add(regexHeader(name, sm.getSafeRegex().getRegex(),
                h.getInvertMatch(), hp, e));
            default -> {
              // prefix, suffix, contains are already reported by only().
              if (sm.getMatchPatternCase() == StringMatcher.MatchPatternCase.MATCHPATTERN_NOT_SET) {
                e.add(hp + ".string_match", "no match pattern", "exact or safe_regex");
              }
            }
          }
        }
        default -> {
          // Other specifiers are already reported by only().
          if (h.getHeaderMatchSpecifierCase()
              == HeaderMatcher.HeaderMatchSpecifierCase.HEADERMATCHSPECIFIER_NOT_SET) {
            e.add(hp, "no match specifier", "string_match, present_match, exact_match or safe_regex_match");
          }
        }
      }
    }
    headers.removeIf(java.util.Objects::isNull);
    return new RequestMatch(kind, path, headers);
  }

  private static RequestMatch.HeaderCondition regexHeader(String name, String regex, boolean invert,
      String p, Errors e) {
    if (!validRegex(regex)) {
      e.add(p, regex, "a valid regular expression");
      return null;
    }
    return new RequestMatch.HeaderCondition(name, RequestMatch.HeaderCondition.Kind.REGEX, regex, invert);
  }

  private static RetryPolicy retry(io.envoyproxy.envoy.config.route.v3.RetryPolicy r, String p, Errors e) {
    only(r, e, p, "retry_on", "num_retries", "per_try_timeout", "retry_back_off", "retriable_status_codes");
    Set<RetryPolicy.RetryOn> on = new HashSet<>();
    for (String token : r.getRetryOn().split(",")) {
      String t = token.strip();
      if (t.isEmpty()) {
        continue;
      }
      Optional<RetryPolicy.RetryOn> condition = RetryPolicy.RetryOn.of(t);
      if (condition.isEmpty()) {
        e.add(p + ".retry_on", t, "conditions Meshlet implements: 5xx, gateway-error, reset, connect-failure, "
            + "retriable-4xx, refused-stream, retriable-status-codes, or gRPC status names");
      } else {
        on.add(condition.get());
      }
    }
    Duration base = r.hasRetryBackOff() ? duration(r.getRetryBackOff().getBaseInterval()) : Duration.ofMillis(25);
    Duration max = r.hasRetryBackOff() && r.getRetryBackOff().hasMaxInterval()
        ? duration(r.getRetryBackOff().getMaxInterval())
        : base.multipliedBy(10);
    if (base.isZero() || base.isNegative() || max.compareTo(base) < 0) {
      e.add(p + ".retry_back_off", "base " + base + ", max " + max, "base > 0 and max >= base");
    }
    return new RetryPolicy(
        r.hasNumRetries() ? u32(r.getNumRetries().getValue()) : 1,
        on,
        new HashSet<>(r.getRetriableStatusCodesList()),
        r.hasPerTryTimeout() && !isZero(r.getPerTryTimeout())
            ? Optional.of(duration(r.getPerTryTimeout())) : Optional.empty(),
        base, max);
  }

  private static FaultPolicy fault(Any config, String p, Errors e) {
    HTTPFault f;
    try {
      f = config.unpack(HTTPFault.class);
    } catch (InvalidProtocolBufferException ex) {
      e.add(p, config.getTypeUrl(), "an HTTPFault");
      return null;
    }
    only(f, e, p, "delay", "abort");
    Optional<FaultPolicy.Delay> delay = Optional.empty();
    if (f.hasDelay()) {
      only(f.getDelay(), e, p + ".delay", "fixed_delay", "percentage");
      if (!f.getDelay().hasFixedDelay()) {
        if (!f.getDelay().hasHeaderDelay()) { // header_delay is already reported by only()
          e.add(p + ".delay", "no fixed_delay", "fixed_delay");
        }
      } else {
        delay = Optional.of(new FaultPolicy.Delay(perMillion(f.getDelay().getPercentage()),
            duration(f.getDelay().getFixedDelay())));
      }
    }
    Optional<FaultPolicy.Abort> abort = Optional.empty();
    if (f.hasAbort()) {
      only(f.getAbort(), e, p + ".abort", "http_status", "grpc_status", "percentage");
      int status = switch (f.getAbort().getErrorTypeCase()) {
        case HTTP_STATUS -> f.getAbort().getHttpStatus();
        case GRPC_STATUS -> GrpcStatusMapping.httpStatus(f.getAbort().getGrpcStatus());
        default -> -1;
      };
      switch (f.getAbort().getErrorTypeCase()) {
        case HTTP_STATUS, GRPC_STATUS -> {
          if (status < 200 || status > 599) {
            e.add(p + ".abort.http_status", Integer.toUnsignedString(f.getAbort().getHttpStatus()), "200..599");
          } else {
            abort = Optional.of(new FaultPolicy.Abort(perMillion(f.getAbort().getPercentage()), status));
          }
        }
        case ERRORTYPE_NOT_SET -> e.add(p + ".abort", "no error type", "http_status or grpc_status");
        default -> { } // header_abort is already reported by only()
      }
    }
    return new FaultPolicy(delay, abort);
  }

  private static RateLimitPolicy rateLimit(Any config, String p, Errors e) {
    LocalRateLimit l;
    try {
      l = config.unpack(LocalRateLimit.class);
    } catch (InvalidProtocolBufferException ex) {
      e.add(p, config.getTypeUrl(), "a LocalRateLimit");
      return null;
    }
    only(l, e, p, "stat_prefix", "token_bucket", "filter_enabled", "filter_enforced");
    if (!l.hasTokenBucket()) {
      return null;
    }
    // Envoy enables and enforces the limit on a share of requests, 0% of them when unset.
    int enabled = l.hasFilterEnabled() ? perMillion(l.getFilterEnabled().getDefaultValue()) : 0;
    int enforced = l.hasFilterEnforced() ? perMillion(l.getFilterEnforced().getDefaultValue()) : 0;
    if ((enabled != 0 && enabled != FaultPolicy.MILLION) || (enforced != 0 && enforced != FaultPolicy.MILLION)) {
      e.add(p + ".filter_enabled", "enabled " + enabled / 10_000.0 + "%, enforced " + enforced / 10_000.0 + "%",
          "0% or 100% each: Meshlet limits all requests of a route or none");
      return null;
    }
    var b = l.getTokenBucket();
    int maxTokens = u32(b.getMaxTokens());
    int perFill = b.hasTokensPerFill() ? u32(b.getTokensPerFill().getValue()) : 1;
    Duration fill = duration(b.getFillInterval());
    if (maxTokens < 1 || perFill < 1 || fill.isZero() || fill.isNegative()) {
      e.add(p + ".token_bucket", "max_tokens " + maxTokens + ", tokens_per_fill " + perFill
          + ", fill_interval " + fill, "max_tokens >= 1, tokens_per_fill >= 1, fill_interval > 0");
      return null;
    }
    if (enabled == 0 || enforced == 0) {
      return null;
    }
    return new RateLimitPolicy(maxTokens, perFill, fill);
  }

  // ---- clusters and endpoints ----

  public static ClusterConfig cluster(Cluster c) throws ResourceException {
    Errors e = new Errors("cluster '" + c.getName() + "'");
    only(c, e, "", "name", "type", "eds_cluster_config", "connect_timeout", "lb_policy",
        "ring_hash_lb_config", "least_request_lb_config", "load_balancing_policy", "circuit_breakers",
        "outlier_detection", "lrs_server", "transport_socket");
    List<String> peerIds = c.hasTransportSocket() ? upstreamTls(c.getTransportSocket(), e) : List.of();
    if (c.getType() != Cluster.DiscoveryType.EDS) {
      e.add("type", c.getType().name(), "EDS");
    } else if (!c.getEdsClusterConfig().getEdsConfig().hasAds()) {
      e.add("eds_cluster_config.eds_config", c.getEdsClusterConfig().getEdsConfig()
          .getConfigSourceSpecifierCase().name().toLowerCase(), "ads");
    }
    // Meshlet subscribes to endpoints by cluster name.
    String edsName = c.getEdsClusterConfig().getServiceName();
    if (!edsName.isEmpty() && !edsName.equals(c.getName())) {
      e.add("eds_cluster_config.service_name", edsName, "empty or the cluster name '" + c.getName() + "'");
    }
    ClusterConfig.LoadBalancing lb = ClusterConfig.LoadBalancing.ROUND_ROBIN;
    if (c.hasLoadBalancingPolicy()) {
      lb = loadBalancingPolicy(c.getLoadBalancingPolicy(), e);
    } else {
      switch (c.getLbPolicy()) {
        case ROUND_ROBIN -> lb = ClusterConfig.LoadBalancing.ROUND_ROBIN;
        case LEAST_REQUEST -> lb = ClusterConfig.LoadBalancing.LEAST_REQUEST;
        case RING_HASH -> lb = ClusterConfig.LoadBalancing.RING_HASH;
        case RANDOM -> lb = ClusterConfig.LoadBalancing.RANDOM;
        default -> e.add("lb_policy", c.getLbPolicy().name(), "ROUND_ROBIN, LEAST_REQUEST, RING_HASH or RANDOM");
      }
    }
    CircuitBreakerPolicy limits = CircuitBreakerPolicy.defaults();
    if (c.hasCircuitBreakers()) {
      CircuitBreakers cb = c.getCircuitBreakers();
      only(cb, e, "circuit_breakers", "thresholds");
      for (int i = 0; i < cb.getThresholdsCount(); i++) {
        CircuitBreakers.Thresholds t = cb.getThresholds(i);
        String tp = "circuit_breakers.thresholds[" + i + "]";
        only(t, e, tp, "priority", "max_requests", "max_pending_requests", "max_retries", "max_connections");
        if (t.getPriority() == RoutingPriority.DEFAULT) {
          CircuitBreakerPolicy d = CircuitBreakerPolicy.defaults();
          // uint32 thresholds; control planes write 4294967295 for "unlimited".
          int maxRequests = t.hasMaxRequests() ? u32(t.getMaxRequests().getValue()) : d.maxRequests();
          if (maxRequests < 1) {
            e.add(tp + ".max_requests", "0", ">= 1");
            maxRequests = 1;
          }
          limits = new CircuitBreakerPolicy(maxRequests,
              t.hasMaxPendingRequests() ? u32(t.getMaxPendingRequests().getValue()) : d.maxPendingRequests(),
              t.hasMaxRetries() ? u32(t.getMaxRetries().getValue()) : d.maxRetries());
        }
      }
    }
    Optional<OutlierPolicy> outlier = Optional.empty();
    if (c.hasOutlierDetection()) {
      OutlierDetection od = c.getOutlierDetection();
      only(od, e, "outlier_detection", "consecutive_5xx", "enforcing_consecutive_5xx", "interval",
          "base_ejection_time", "max_ejection_percent", "enforcing_success_rate",
          "consecutive_gateway_failure", "enforcing_consecutive_gateway_failure",
          "failure_percentage_threshold", "failure_percentage_minimum_hosts",
          "failure_percentage_request_volume", "enforcing_failure_percentage");
      if (od.hasEnforcingSuccessRate() ? od.getEnforcingSuccessRate().getValue() > 0 : true) {
        e.add("outlier_detection.enforcing_success_rate",
            od.hasEnforcingSuccessRate() ? String.valueOf(od.getEnforcingSuccessRate().getValue()) : "unset (100)",
            "0: Meshlet implements consecutive-error ejection, not success-rate ejection");
      }
      int consecutive5xx = od.hasConsecutive5Xx() ? u32(od.getConsecutive5Xx().getValue()) : 5;
      int enforcing5xx = enforcing(od.hasEnforcingConsecutive5Xx(), od.getEnforcingConsecutive5Xx(), 100,
          "outlier_detection.enforcing_consecutive_5xx", e);
      int enforcingGateway = enforcing(od.hasEnforcingConsecutiveGatewayFailure(),
          od.getEnforcingConsecutiveGatewayFailure(), 0, "outlier_detection.enforcing_consecutive_gateway_failure", e);
      int gateway = enforcingGateway == 0 ? 0
          : od.hasConsecutiveGatewayFailure() ? u32(od.getConsecutiveGatewayFailure().getValue()) : 5;
      Optional<OutlierPolicy.FailurePercentage> failurePercentage = Optional.empty();
      if (enforcing(od.hasEnforcingFailurePercentage(), od.getEnforcingFailurePercentage(), 0,
          "outlier_detection.enforcing_failure_percentage", e) > 0) {
        failurePercentage = Optional.of(new OutlierPolicy.FailurePercentage(
            od.hasFailurePercentageThreshold()
                ? Math.min(100, u32(od.getFailurePercentageThreshold().getValue())) : 85,
            od.hasFailurePercentageMinimumHosts() ? u32(od.getFailurePercentageMinimumHosts().getValue()) : 5,
            od.hasFailurePercentageRequestVolume() ? u32(od.getFailurePercentageRequestVolume().getValue()) : 50));
      }
      outlier = Optional.of(new OutlierPolicy(
          enforcing5xx > 0 ? consecutive5xx : 0,
          gateway,
          od.hasInterval() ? duration(od.getInterval()) : Duration.ofSeconds(10),
          od.hasBaseEjectionTime() ? duration(od.getBaseEjectionTime()) : Duration.ofSeconds(30),
          od.hasMaxEjectionPercent() ? Math.min(100, u32(od.getMaxEjectionPercent().getValue())) : 10,
          failurePercentage));
    }
    ClusterConfig.RingSize ringSize = lb == ClusterConfig.LoadBalancing.RING_HASH
        ? ringSize(c, e) : ClusterConfig.RingSize.defaults();
    e.throwIfAny();
    return new ClusterConfig(c.getName(), lb, limits, outlier, List.of(), peerIds, ringSize);
  }

  /** grpc-java caps both ring sizes at 4096 (RingHashOptions), so both clients build one ring. */
  static final long RING_SIZE_CAP = 4096;

  /**
   * A ring hash cluster's ring size, read as grpc-java reads it (LoadBalancerConfigFactory,
   * RingHashLoadBalancerProvider): from the RingHash policy, or the older ring_hash_lb_config;
   * 1024 and 4096 when unset, each capped at 4096; only XX_HASH.
   */
  private static ClusterConfig.RingSize ringSize(Cluster c, Errors e) {
    Long min = null;
    Long max = null;
    if (c.hasLoadBalancingPolicy()) {
      for (int i = 0; i < c.getLoadBalancingPolicy().getPoliciesCount(); i++) {
        Any config = c.getLoadBalancingPolicy().getPolicies(i).getTypedExtensionConfig().getTypedConfig();
        if (config.is(RingHash.class)) {
          RingHash rh;
          try {
            rh = config.unpack(RingHash.class);
          } catch (InvalidProtocolBufferException ex) {
            e.add("load_balancing_policy.policies[" + i + "]", config.getTypeUrl(), "a RingHash");
            return ClusterConfig.RingSize.defaults();
          }
          if (rh.getHashFunction() != RingHash.HashFunction.XX_HASH) {
            e.add("load_balancing_policy.policies[" + i + "].hash_function", rh.getHashFunction().name(), "XX_HASH");
          }
          min = rh.hasMinimumRingSize() ? rh.getMinimumRingSize().getValue() : null;
          max = rh.hasMaximumRingSize() ? rh.getMaximumRingSize().getValue() : null;
          break;
        }
      }
    } else if (c.hasRingHashLbConfig()) {
      var rh = c.getRingHashLbConfig();
      if (rh.getHashFunction() != Cluster.RingHashLbConfig.HashFunction.XX_HASH) {
        e.add("ring_hash_lb_config.hash_function", rh.getHashFunction().name(), "XX_HASH");
      }
      min = rh.hasMinimumRingSize() ? rh.getMinimumRingSize().getValue() : null;
      max = rh.hasMaximumRingSize() ? rh.getMaximumRingSize().getValue() : null;
    }
    long lo = Math.min(min == null ? 1024 : min, RING_SIZE_CAP);
    long hi = Math.min(max == null ? RING_SIZE_CAP : max, RING_SIZE_CAP);
    if (lo <= 0 || hi <= 0 || lo > hi) {
      e.add("ring size", min + ".." + max, "1 <= minimum_ring_size <= maximum_ring_size");
      return ClusterConfig.RingSize.defaults();
    }
    return new ClusterConfig.RingSize(lo, hi);
  }

  /** The SPIFFE IDs an mTLS cluster's servers must present (its exact match_subject_alt_names). */
  private static List<String> upstreamTls(io.envoyproxy.envoy.config.core.v3.TransportSocket socket, Errors e) {
    String p = "transport_socket";
    only(socket, e, p, "name", "typed_config");
    io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext tls;
    try {
      tls = socket.getTypedConfig().unpack(io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext.class);
    } catch (InvalidProtocolBufferException ex) {
      e.add(p + ".typed_config", socket.getTypedConfig().getTypeUrl(), "an UpstreamTlsContext");
      return List.of();
    }
    only(tls, e, p + ".typed_config", "common_tls_context");
    var common = tls.getCommonTlsContext();
    only(common, e, p + ".typed_config.common_tls_context", "tls_certificate_provider_instance", "validation_context");
    var validation = common.getValidationContext();
    only(validation, e, p + ".typed_config.common_tls_context.validation_context", "match_subject_alt_names",
        "ca_certificate_provider_instance");
    List<String> ids = new ArrayList<>();
    for (StringMatcher m : validation.getMatchSubjectAltNamesList()) {
      if (m.getMatchPatternCase() != StringMatcher.MatchPatternCase.EXACT || !m.getExact().startsWith("spiffe://")) {
        e.add(p + ".typed_config.common_tls_context.validation_context.match_subject_alt_names",
            m.toString().strip(), "exact SPIFFE IDs");
      } else {
        ids.add(m.getExact());
      }
    }
    if (ids.isEmpty()) {
      e.add(p + ".typed_config.common_tls_context.validation_context.match_subject_alt_names", "empty",
          "the SPIFFE IDs the servers must present");
    }
    return ids;
  }

  /**
   * The first policy of the list that Meshlet implements, as gRPC (A52) and Envoy pick it; the
   * ones before it are skipped. Control servers send this list now, and {@code lb_policy} before.
   */
  private static ClusterConfig.LoadBalancing loadBalancingPolicy(LoadBalancingPolicy policy, Errors e) {
    for (LoadBalancingPolicy.Policy p : policy.getPoliciesList()) {
      Any config = p.getTypedExtensionConfig().getTypedConfig();
      if (config.is(RoundRobin.class)) {
        return ClusterConfig.LoadBalancing.ROUND_ROBIN;
      } else if (config.is(LeastRequest.class)) {
        return ClusterConfig.LoadBalancing.LEAST_REQUEST;
      } else if (config.is(RingHash.class)) {
        return ClusterConfig.LoadBalancing.RING_HASH;
      } else if (config.is(Random.class)) {
        return ClusterConfig.LoadBalancing.RANDOM;
      }
    }
    e.add("load_balancing_policy", "no policy Meshlet implements",
        "a list including envoy.load_balancing_policies.round_robin, .least_request, .ring_hash or .random");
    return ClusterConfig.LoadBalancing.ROUND_ROBIN;
  }

  /** The endpoints of an assignment; only priority 0 is used, as Meshlet has no failover tiers. */
  public static List<EndpointConfig> endpoints(ClusterLoadAssignment cla) throws ResourceException {
    Errors e = new Errors("endpoint assignment '" + cla.getClusterName() + "'");
    only(cla, e, "", "cluster_name", "endpoints", "policy");
    List<EndpointConfig> out = new ArrayList<>();
    for (int i = 0; i < cla.getEndpointsCount(); i++) {
      LocalityLbEndpoints l = cla.getEndpoints(i);
      String lp = "endpoints[" + i + "]";
      only(l, e, lp, "locality", "lb_endpoints", "load_balancing_weight", "priority");
      if (l.getPriority() != 0) {
        e.add(lp + ".priority", String.valueOf(l.getPriority()), "0");
        continue;
      }
      for (int j = 0; j < l.getLbEndpointsCount(); j++) {
        LbEndpoint lb = l.getLbEndpoints(j);
        String ep = lp + ".lb_endpoints[" + j + "]";
        only(lb, e, ep, "endpoint", "health_status", "metadata", "load_balancing_weight");
        if (lb.getHealthStatus() != HealthStatus.HEALTHY && lb.getHealthStatus() != HealthStatus.UNKNOWN) {
          continue;
        }
        var sa = lb.getEndpoint().getAddress().getSocketAddress();
        if (sa.getAddress().isEmpty() || sa.getPortValue() < 1 || sa.getPortValue() > 65535) {
          e.add(ep + ".endpoint.address.socket_address", sa.getAddress() + ":" + sa.getPortValue(),
              "an address and a port in 1..65535");
          continue;
        }
        Map<String, String> labels = new LinkedHashMap<>();
        var meta = lb.getMetadata().getFilterMetadataMap().get(LABELS_METADATA);
        if (meta != null) {
          for (Map.Entry<String, Value> f : meta.getFieldsMap().entrySet()) {
            labels.put(f.getKey(), f.getValue().getStringValue());
          }
        }
        int weight = lb.hasLoadBalancingWeight() ? Math.max(1, u32(lb.getLoadBalancingWeight().getValue())) : 1;
        out.add(new EndpointConfig(sa.getAddress(), sa.getPortValue(), weight, labels));
      }
    }
    e.throwIfAny();
    return out;
  }

  // ---- helpers ----

  /** Reports every set field of {@code m} that is not in {@code allowed}. */
  static void only(Message m, Errors e, String path, String... allowed) {
    Set<String> ok = Set.of(allowed);
    for (FieldDescriptor f : m.getAllFields().keySet()) {
      if (!ok.contains(f.getName())) {
        e.add((path.isEmpty() ? "" : path + ".") + f.getName(), "set",
            "only fields Meshlet implements: " + String.join(", ", allowed));
      }
    }
  }

  private static String fieldNames(Message m) {
    List<String> names = new ArrayList<>();
    m.getAllFields().keySet().forEach(f -> names.add(f.getName()));
    return String.join(", ", names);
  }

  private static boolean validRegex(String regex) {
    try {
      com.google.re2j.Pattern.compile(regex);
      return true;
    } catch (com.google.re2j.PatternSyntaxException ex) {
      return false;
    }
  }

  /**
   * An {@code enforcing_*} percentage of outlier detection: Meshlet ejects always or never, so
   * only 0 and 100 are accepted.
   */
  private static int enforcing(boolean set, com.google.protobuf.UInt32Value value, int unset, String path,
      Errors e) {
    int v = set ? u32(value.getValue()) : unset;
    if (v != 0 && v != 100) {
      e.add(path, Integer.toString(v), "0 or 100: Meshlet ejects always or never, not a share of the time");
    }
    return v;
  }

  /** A protobuf uint32 read as a non-negative int, values above {@code Integer.MAX_VALUE} capped. */
  static int u32(int value) {
    return (int) Math.min(Integer.MAX_VALUE, Integer.toUnsignedLong(value));
  }

  static int perMillion(FractionalPercent p) {
    long n = Integer.toUnsignedLong(p.getNumerator());
    long scaled = switch (p.getDenominator()) {
      case HUNDRED -> n * 10_000;
      case TEN_THOUSAND -> n * 100;
      case MILLION -> n;
      default -> n;
    };
    return (int) Math.min(FaultPolicy.MILLION, scaled);
  }

  static boolean isZero(com.google.protobuf.Duration d) {
    return d.getSeconds() == 0 && d.getNanos() == 0;
  }

  static Duration duration(com.google.protobuf.Duration d) {
    return Duration.ofSeconds(d.getSeconds(), d.getNanos());
  }
}
