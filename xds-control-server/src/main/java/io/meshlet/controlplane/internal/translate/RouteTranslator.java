package io.meshlet.controlplane.internal.translate;

import com.google.protobuf.Any;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.core.v3.RuntimeFractionalPercent;
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
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.envoyproxy.envoy.type.v3.TokenBucket;
import io.meshlet.controlplane.intent.FaultSpec;
import io.meshlet.controlplane.intent.MatchSpec;
import io.meshlet.controlplane.intent.RateLimitSpec;
import io.meshlet.controlplane.intent.RetrySpec;
import io.meshlet.controlplane.intent.RouteSpec;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.internal.wire.WireNames;
import java.time.Duration;
import java.util.List;

/**
 * Route configurations: each route's match, weighted targets, timeout, retry policy, fault and
 * local rate limit.
 */
final class RouteTranslator {

  private RouteTranslator() {}

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
    action.setTimeout(XdsTranslator.duration(timeout));
    spec.timeout().ifPresent(t -> action.setMaxStreamDuration(
        RouteAction.MaxStreamDuration.newBuilder().setMaxStreamDuration(XdsTranslator.duration(t))));
    // No retries is no retry policy: C-core and grpc-js refuse num_retries: 0.
    spec.retries().filter(r -> r.attempts() > 0).ifPresent(r -> action.setRetryPolicy(retryPolicy(r)));
    service.hashHeader().ifPresent(h -> action.addHashPolicy(RouteAction.HashPolicy.newBuilder()
        .setHeader(RouteAction.HashPolicy.Header.newBuilder().setHeaderName(h))));

    Route.Builder route = Route.newBuilder().setMatch(match(spec.match())).setRoute(action);
    spec.faults().ifPresent(f -> route.putTypedPerFilterConfig(WireNames.FAULT_FILTER, Any.pack(fault(f))));
    spec.rateLimit().ifPresent(l -> route.putTypedPerFilterConfig(WireNames.RATE_LIMIT_FILTER,
        Any.pack(FilterConfig.newBuilder().setIsOptional(true)
            .setConfig(Any.pack(rateLimit(service.name(), l))).build())));
    return route.build();
  }

  static String targetCluster(ServiceSpec service, RouteSpec.WeightedTarget target) {
    return target.subset()
        .map(s -> WireNames.cluster(service.name(), s))
        .orElse(WireNames.cluster(service.name()));
  }

  static io.envoyproxy.envoy.config.route.v3.RouteMatch match(MatchSpec match) {
    io.envoyproxy.envoy.config.route.v3.RouteMatch.Builder b =
        io.envoyproxy.envoy.config.route.v3.RouteMatch.newBuilder();
    switch (match.path().kind()) {
      case PREFIX -> b.setPrefix(match.path().value());
      case EXACT -> b.setPath(match.path().value());
      case REGEX -> b.setSafeRegex(RegexMatcher.newBuilder().setRegex(match.path().value()));
    }
    for (MatchSpec.HeaderMatch h : match.headers()) {
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
            .setBaseInterval(XdsTranslator.duration(spec.backoffBase()))
            .setMaxInterval(XdsTranslator.duration(spec.backoffMax())));
    spec.perTryTimeout().ifPresent(t -> b.setPerTryTimeout(XdsTranslator.duration(t)));
    return b.build();
  }

  static HTTPFault fault(FaultSpec spec) {
    HTTPFault.Builder b = HTTPFault.newBuilder();
    spec.delay().ifPresent(d -> b.setDelay(FaultDelay.newBuilder()
        .setFixedDelay(XdsTranslator.duration(d.fixed()))
        .setPercentage(XdsTranslator.percent(d.percent()))));
    spec.abort().ifPresent(a -> {
      FaultAbort.Builder abort = FaultAbort.newBuilder().setPercentage(XdsTranslator.percent(a.percent()));
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
            .setFillInterval(XdsTranslator.duration(Duration.ofSeconds(1))))
        .setFilterEnabled(RuntimeFractionalPercent.newBuilder().setDefaultValue(all))
        .setFilterEnforced(RuntimeFractionalPercent.newBuilder().setDefaultValue(all))
        .build();
  }
}
