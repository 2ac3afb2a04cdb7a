package io.meshlet.controlplane.internal.intent;

import io.meshlet.controlplane.intent.FaultSpec;
import io.meshlet.controlplane.intent.FaultSpec.Abort;
import io.meshlet.controlplane.intent.FaultSpec.Delay;
import io.meshlet.controlplane.intent.MatchSpec;
import io.meshlet.controlplane.intent.MatchSpec.HeaderMatch;
import io.meshlet.controlplane.intent.MatchSpec.PathMatch;
import io.meshlet.controlplane.intent.RateLimitSpec;
import io.meshlet.controlplane.intent.RetrySpec;
import io.meshlet.controlplane.intent.RouteSpec;
import io.meshlet.controlplane.intent.RouteSpec.WeightedTarget;
import io.meshlet.controlplane.intent.ServiceSpec.Protocol;
import io.meshlet.internal.wire.Durations;
import io.meshlet.controlplane.internal.intent.NodeReader.Ctx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * Reads the routes of a service ({@link MeshSchema#ROUTE}): match, targets, timeout, retries,
 * faults and rate limit.
 */
final class RouteReader {

  /** The {@code retry_on} conditions Envoy defines that Meshlet passes through. */
  static final List<String> RETRY_CONDITIONS =
      List.of(
          "5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx", "refused-stream",
          "retriable-status-codes", "cancelled", "deadline-exceeded", "internal",
          "resource-exhausted", "unavailable");

  /** The {@code retry_on} conditions grpc-java retries on: gRPC status codes (XdsRouteConfigureResource). */
  static final List<String> GRPC_RETRY_CONDITIONS =
      List.of("cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable");

  /** grpc-java makes at most 5 attempts in all (ManagedChannelImplBuilder.maxRetryAttempts). */
  static final int GRPC_MAX_RETRIES = 4;

  private final NodeReader r;
  private final IntentValidator validator;

  RouteReader(NodeReader r, IntentValidator validator) {
    this.r = r;
    this.validator = validator;
  }

  List<RouteSpec> routes(Node node, Ctx ctx, Map<String, Map<String, String>> subsets,
      Protocol protocol) {
    List<RouteSpec> out = new ArrayList<>();
    List<Node> items = r.sequence(node, ctx);
    if (items.isEmpty() && node instanceof SequenceNode) {
      r.fail(node, ctx, "[]", "at least one route; leave routes out to send everything to every endpoint");
    }
    for (int i = 0; i < items.size(); i++) {
      RouteSpec route = route(items.get(i), ctx.index(i), subsets, protocol);
      if (route != null) {
        out.add(route);
      }
    }
    return out;
  }

  RouteSpec route(Node node, Ctx ctx, Map<String, Map<String, String>> subsets, Protocol protocol) {
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.ROUTE);
    if (f == null) {
      return null;
    }
    MatchSpec match = f.containsKey("match") ? match(f.get("match"), ctx.field("match")) : MatchSpec.any();
    List<WeightedTarget> to = List.of();
    if (!f.containsKey("to")) {
      r.fail(node, ctx.field("to"), "missing", "a list of targets such as [ { subset: v1, weight: 100 } ]");
    } else {
      to = targets(f.get("to"), ctx.field("to"), subsets);
    }
    Optional<Duration> timeout = f.containsKey("timeout")
        ? Optional.of(r.duration(f.get("timeout"), ctx.field("timeout"), Duration.ofMillis(1),
            Duration.ofHours(24), Duration.ofSeconds(15)))
        : Optional.empty();
    Optional<RetrySpec> retries = f.containsKey("retries")
        ? Optional.of(retries(f.get("retries"), ctx.field("retries"), protocol))
        : Optional.empty();
    Optional<FaultSpec> faults = f.containsKey("faults")
        ? Optional.of(faults(f.get("faults"), ctx.field("faults")))
        : Optional.empty();
    Optional<RateLimitSpec> rateLimit = f.containsKey("rateLimit")
        ? Optional.of(rateLimit(f.get("rateLimit"), ctx.field("rateLimit")))
        : Optional.empty();
    validator.grpcRateLimit(rateLimit.isPresent(), protocol, f, ctx);
    if (to.isEmpty()) {
      return null;
    }
    return new RouteSpec(match, to, timeout, retries, faults, rateLimit);
  }

  MatchSpec match(Node node, Ctx ctx) {
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.MATCH);
    if (f == null) {
      return MatchSpec.any();
    }
    List<String> pathKeys = new ArrayList<>();
    for (String k : List.of("pathPrefix", "path", "pathRegex")) {
      if (f.containsKey(k)) {
        pathKeys.add(k);
      }
    }
    PathMatch path = new PathMatch(PathMatch.Kind.PREFIX, "/");
    if (pathKeys.size() > 1) {
      r.fail(node, ctx, String.join(" and ", pathKeys), "at most one of pathPrefix, path, pathRegex");
    } else if (pathKeys.size() == 1) {
      String k = pathKeys.get(0);
      Node v = f.get(k);
      String value = r.scalar(v, ctx.field(k));
      if (value != null) {
        switch (k) {
          case "pathPrefix", "path" -> {
            if (!value.startsWith("/")) {
              r.fail(v, ctx.field(k), "'" + value + "'", "a path starting with '/'");
            }
            path = new PathMatch(k.equals("path") ? PathMatch.Kind.EXACT : PathMatch.Kind.PREFIX, value);
          }
          default -> {
            if (r.regex(value, v, ctx.field(k))) {
              path = new PathMatch(PathMatch.Kind.REGEX, value);
            }
          }
        }
      }
    }
    List<HeaderMatch> headers = new ArrayList<>();
    if (f.containsKey("headers")) {
      Ctx hctx = ctx.field("headers");
      Map<String, Node> byName = r.mapping(f.get("headers"), hctx);
      if (byName != null) {
        byName.forEach((name, v) -> {
          HeaderMatch h = header(name, v, hctx.field(name));
          if (h != null) {
            headers.add(h);
          }
        });
      }
    }
    return new MatchSpec(path, headers);
  }

  HeaderMatch header(String name, Node node, Ctx ctx) {
    if (!NodeReader.HEADER_NAME.matcher(name).matches()) {
      r.fail(node, ctx, "'" + name + "'", "a lower-case header name");
      return null;
    }
    if (node instanceof ScalarNode s) {
      return new HeaderMatch(name, HeaderMatch.Kind.EXACT, s.getValue());
    }
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.HEADER_MATCH);
    if (f == null) {
      return null;
    }
    if (f.size() != 1) {
      r.fail(node, ctx, f.isEmpty() ? "{}" : String.join(" and ", f.keySet()),
          "a value, or exactly one of { exact: ... }, { regex: ... }, { present: true }");
      return null;
    }
    String k = f.keySet().iterator().next();
    Node v = f.get(k);
    String value = r.scalar(v, ctx.field(k));
    if (value == null) {
      return null;
    }
    switch (k) {
      case "exact":
        return new HeaderMatch(name, HeaderMatch.Kind.EXACT, value);
      case "regex":
        return r.regex(value, v, ctx.field(k)) ? new HeaderMatch(name, HeaderMatch.Kind.REGEX, value) : null;
      default:
        if (!value.equals("true")) {
          r.fail(v, ctx.field(k), value, "true");
          return null;
        }
        return new HeaderMatch(name, HeaderMatch.Kind.PRESENT, "");
    }
  }

  List<WeightedTarget> targets(Node node, Ctx ctx, Map<String, Map<String, String>> subsets) {
    List<WeightedTarget> out = new ArrayList<>();
    List<Node> items = r.sequence(node, ctx);
    if (items.isEmpty()) {
      if (node instanceof SequenceNode) {
        r.fail(node, ctx, "[]", "at least one target such as { subset: v1, weight: 100 }");
      }
      return out;
    }
    long total = 0;
    for (int i = 0; i < items.size(); i++) {
      Ctx at = ctx.index(i);
      Map<String, Node> f = r.mapping(items.get(i), at, MeshSchema.TARGET);
      if (f == null) {
        continue;
      }
      Optional<String> subset = Optional.empty();
      if (f.containsKey("subset")) {
        String s = r.scalar(f.get("subset"), at.field("subset"));
        if (s != null && !subsets.containsKey(s)) {
          r.fail(f.get("subset"), at.field("subset"), s,
              subsets.isEmpty()
                  ? "a subset defined under subsets; this service defines none"
                  : "a subset defined under subsets: " + String.join(", ", subsets.keySet()));
        }
        subset = Optional.ofNullable(s);
      }
      if (!f.containsKey("weight") && items.size() > 1) {
        r.fail(items.get(i), at.field("weight"), "missing", "a weight when a route has several targets");
      }
      int weight = r.intField(f, "weight", at, 0, 1_000_000, 100);
      total += weight;
      out.add(new WeightedTarget(subset, weight));
    }
    if (total == 0 && out.size() == items.size()) {
      r.fail(node, ctx, "weights adding up to 0", "at least one weight above 0");
    }
    return out;
  }

  RetrySpec retries(Node node, Ctx ctx, Protocol protocol) {
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.RETRIES);
    if (f == null) {
      f = Map.of();
    }
    boolean grpc = protocol == Protocol.GRPC;
    int attempts = r.intField(f, "attempts", ctx, 0, 10, 1);
    validator.grpcAttempts(grpc, attempts, f, ctx);
    Optional<Duration> perTry = f.containsKey("perTryTimeout")
        ? Optional.of(r.duration(f.get("perTryTimeout"), ctx.field("perTryTimeout"), Duration.ofMillis(1),
            Duration.ofHours(1), Duration.ofSeconds(1)))
        : Optional.empty();
    validator.perTryTimeout(perTry.isPresent(), grpc, attempts, f, ctx);
    List<String> on = new ArrayList<>();
    if (f.containsKey("on")) {
      List<Node> items = r.sequence(f.get("on"), ctx.field("on"));
      for (int i = 0; i < items.size(); i++) {
        String c = r.scalar(items.get(i), ctx.field("on").index(i));
        if (c == null) {
          continue;
        }
        if (!RETRY_CONDITIONS.contains(c)) {
          r.fail(items.get(i), ctx.field("on").index(i), c, "one of " + String.join(", ", RETRY_CONDITIONS));
        } else if (grpc && !GRPC_RETRY_CONDITIONS.contains(c)) {
          // grpc-java skips every retry_on entry that is not one of these status codes.
          r.fail(items.get(i), ctx.field("on").index(i), c,
              IntentValidator.onGrpc("a gRPC status condition (" + String.join(", ", GRPC_RETRY_CONDITIONS) + ")",
                  "grpc-java retries on gRPC status codes only and skips HTTP conditions"));
        } else if (!on.contains(c)) {
          on.add(c);
        }
      }
    } else {
      on.addAll(protocol == Protocol.GRPC
          ? List.of("unavailable")
          : List.of("5xx", "reset", "connect-failure"));
    }
    Duration base = RetrySpec.DEFAULT_BACKOFF_BASE;
    Duration max = null;
    if (f.containsKey("backoff")) {
      Ctx bctx = ctx.field("backoff");
      Map<String, Node> b = r.mapping(f.get("backoff"), bctx, MeshSchema.BACKOFF);
      if (b != null) {
        base = r.durationField(b, "base", bctx, Duration.ofMillis(1), Duration.ofMinutes(1), base);
        if (b.containsKey("max")) {
          max = r.duration(b.get("max"), bctx.field("max"), Duration.ofMillis(1), Duration.ofMinutes(10),
              base.multipliedBy(10));
          if (max.compareTo(base) < 0) {
            r.fail(b.get("max"), bctx.field("max"), Durations.format(max),
                "at least backoff.base (" + Durations.format(base) + ")");
          }
        }
      }
    }
    return new RetrySpec(attempts, perTry, on, base, max == null ? base.multipliedBy(10) : max);
  }

  FaultSpec faults(Node node, Ctx ctx) {
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.FAULTS);
    if (f == null) {
      return new FaultSpec(Optional.empty(), Optional.empty());
    }
    Optional<Delay> delay = Optional.empty();
    if (f.containsKey("delay")) {
      Ctx d = ctx.field("delay");
      Map<String, Node> g = r.mapping(f.get("delay"), d, MeshSchema.DELAY);
      if (g != null) {
        if (!g.containsKey("fixed")) {
          r.fail(f.get("delay"), d.field("fixed"), "missing", Durations.EXPECTED);
        }
        delay = Optional.of(new Delay(r.percentField(g, "percent", f.get("delay"), d),
            r.durationField(g, "fixed", d, Duration.ofMillis(1), Duration.ofHours(1), Duration.ofMillis(1))));
      }
    }
    Optional<Abort> abort = Optional.empty();
    if (f.containsKey("abort")) {
      Ctx a = ctx.field("abort");
      Map<String, Node> g = r.mapping(f.get("abort"), a, MeshSchema.ABORT);
      if (g != null) {
        Optional<Integer> http = g.containsKey("httpStatus")
            ? Optional.of(r.intField(g, "httpStatus", a, 200, 599, 503))
            : Optional.empty();
        Optional<Integer> grpc = g.containsKey("grpcStatus")
            ? Optional.of(r.intField(g, "grpcStatus", a, 1, 16, 14))
            : Optional.empty();
        if (http.isPresent() == grpc.isPresent()) {
          r.fail(f.get("abort"), a,
              http.isPresent() ? "httpStatus and grpcStatus" : "neither httpStatus nor grpcStatus",
              "exactly one of httpStatus (200..599) and grpcStatus (1..16)");
        }
        abort = Optional.of(new Abort(r.percentField(g, "percent", f.get("abort"), a), http, grpc));
      }
    }
    return new FaultSpec(delay, abort);
  }

  RateLimitSpec rateLimit(Node node, Ctx ctx) {
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.RATE_LIMIT);
    if (f == null) {
      return new RateLimitSpec(1, 1);
    }
    if (!f.containsKey("requestsPerSecond")) {
      r.fail(node, ctx.field("requestsPerSecond"), "missing", "1..1000000");
    }
    int rps = r.intField(f, "requestsPerSecond", ctx, 1, 1_000_000, 1);
    int burst = r.intField(f, "burst", ctx, 1, 1_000_000, rps);
    return new RateLimitSpec(rps, burst);
  }
}
