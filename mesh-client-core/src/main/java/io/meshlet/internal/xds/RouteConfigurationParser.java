package io.meshlet.internal.xds;

import static io.meshlet.internal.xds.ProtoFields.duration;
import static io.meshlet.internal.xds.ProtoFields.enforcing;
import static io.meshlet.internal.xds.ProtoFields.fieldNames;
import static io.meshlet.internal.xds.ProtoFields.isZero;
import static io.meshlet.internal.xds.ProtoFields.only;
import static io.meshlet.internal.xds.ProtoFields.perMillion;
import static io.meshlet.internal.xds.ProtoFields.u32;
import static io.meshlet.internal.xds.ProtoFields.validRegex;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.route.v3.FilterConfig;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.meshlet.config.RequestMatch;
import io.meshlet.config.RetryPolicy;
import io.meshlet.config.RouteRule;
import io.meshlet.config.RouteTable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Parses RDS: the route configuration a service's listener names into its {@link RouteTable}: the
 * virtual host for the service, each route's match, clusters, timeout, retry and hash policy, and
 * its per-filter overrides, read by the filters of the {@link FilterRegistry}.
 */
final class RouteConfigurationParser {

  /** Envoy: an unset route timeout means 15 s. */
  static final Duration DEFAULT_ROUTE_TIMEOUT = Duration.ofSeconds(15);

  private RouteConfigurationParser() {}

  /**
   * Parses a route configuration into the route table of a service.
   *
   * @param service the service whose listener names this route configuration
   * @param filters the HTTP filters the listener enables
   */
  static RouteTable routeConfiguration(String service, RouteConfiguration rc, Set<String> filters)
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
    RouteOverrides overrides = new RouteOverrides();
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
      HttpFilterType filter = FilterRegistry.DEFAULT.get(entry.getKey());
      if (filter != null && filter.overridable()) {
        if (!filters.contains(filter.name())) {
          e.add(fp, "set", "the listener to enable " + filter.name());
        }
        filter.applyOverride(config, fp, e, overrides);
      } else if (!optional) {
        e.add(fp, config.getTypeUrl(), "a filter Meshlet implements: " + FilterRegistry.DEFAULT.overridableNames());
      }
    }
    String name = r.getName().isEmpty() ? service + "#" + index : r.getName();
    if (match == null) {
      return null;
    }
    return new RouteRule(name, match, clusters, timeout, retry, overrides.fault, overrides.rateLimit, hashHeader);
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
}
