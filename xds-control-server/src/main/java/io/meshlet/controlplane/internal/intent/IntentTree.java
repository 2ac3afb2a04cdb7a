package io.meshlet.controlplane.internal.intent;

import io.meshlet.controlplane.intent.EndpointSpec;
import io.meshlet.controlplane.intent.MatchSpec;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.RouteSpec;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.internal.wire.Durations;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a {@link MeshConfig} back as a tree of maps and lists in the config file's own shape
 * and spelling (durations as {@code 2s}, enums in lower case), for JSON on the admin API.
 */
public final class IntentTree {

  private IntentTree() {}

  public static Map<String, Object> of(MeshConfig mesh) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("trustDomain", mesh.trustDomain());
    out.put("mtls", map("mode", lower(mesh.mtls().mode()), "certTtl", d(mesh.mtls().certTtl())));
    Map<String, Object> services = new LinkedHashMap<>();
    mesh.services().forEach((name, s) -> services.put(name, service(s)));
    out.put("services", services);
    return out;
  }

  private static Map<String, Object> service(ServiceSpec s) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("protocol", lower(s.protocol()));
    List<Object> endpoints = new ArrayList<>();
    for (EndpointSpec e : s.endpoints()) {
      endpoints.add(e.labels().isEmpty()
          ? map("address", e.address())
          : map("address", e.address(), "labels", e.labels()));
    }
    out.put("endpoints", endpoints);
    out.put("subsets", s.subsets());
    out.put("loadBalancing", lower(s.loadBalancing()));
    s.hashHeader().ifPresent(h -> out.put("hashHeader", h));
    // A gRPC service has only what grpc-java honours (the parser refuses the rest).
    boolean grpc = s.protocol() == ServiceSpec.Protocol.GRPC;
    s.circuitBreaker().ifPresent(cb -> out.put("circuitBreaker", grpc
        ? map("maxRequests", cb.maxRequests())
        : map("maxRequests", cb.maxRequests(),
            "maxPendingRequests", cb.maxPendingRequests(),
            "maxRetries", cb.maxRetries())));
    s.outlierDetection().ifPresent(od -> {
      Map<String, Object> o = new LinkedHashMap<>();
      if (od.consecutive5xx() > 0) {
        o.put("consecutive5xx", od.consecutive5xx());
      }
      o.putAll(map(
          "interval", d(od.interval()),
          "baseEjectionTime", d(od.baseEjectionTime()),
          "maxEjectionPercent", od.maxEjectionPercent()));
      od.failurePercentage().ifPresent(fp -> o.put("failurePercentage", map(
          "threshold", fp.threshold(), "minimumHosts", fp.minimumHosts(),
          "requestVolume", fp.requestVolume())));
      out.put("outlierDetection", o);
    });
    if (!s.locality().equals(io.meshlet.controlplane.intent.LocalitySpec.off())) {
      out.put("locality", map("preferLocal", s.locality().preferLocal(),
          "failoverThreshold", s.locality().failoverThreshold() + "%"));
    }
    List<Object> routes = new ArrayList<>();
    for (RouteSpec r : s.routes()) {
      routes.add(route(r));
    }
    out.put("routes", routes);
    s.authorization().ifPresent(a -> {
      Map<String, Object> authz = new LinkedHashMap<>();
      a.allow().ifPresent(allow -> authz.put("allow", allow));
      if (!a.rules().isEmpty()) {
        List<Object> rules = new ArrayList<>();
        for (var rule : a.rules()) {
          Map<String, Object> match = new LinkedHashMap<>();
          match.put(rule.prefix() ? "pathPrefix" : "path", rule.path());
          if (!rule.methods().isEmpty()) {
            match.put("methods", rule.methods());
          }
          rules.add(map("match", match, "allow", rule.allow()));
        }
        authz.put("rules", rules);
      }
      out.put("authorization", authz);
    });
    s.mtlsMode().ifPresent(m -> out.put("mtls", map("mode", lower(m))));
    return out;
  }

  private static Map<String, Object> route(RouteSpec r) {
    Map<String, Object> out = new LinkedHashMap<>();
    Map<String, Object> match = new LinkedHashMap<>();
    MatchSpec.PathMatch p = r.match().path();
    match.put(switch (p.kind()) {
      case PREFIX -> "pathPrefix";
      case EXACT -> "path";
      case REGEX -> "pathRegex";
    }, p.value());
    if (!r.match().headers().isEmpty()) {
      Map<String, Object> headers = new LinkedHashMap<>();
      for (MatchSpec.HeaderMatch h : r.match().headers()) {
        headers.put(h.name(), switch (h.kind()) {
          case EXACT -> h.value();
          case REGEX -> map("regex", h.value());
          case PRESENT -> map("present", true);
        });
      }
      match.put("headers", headers);
    }
    out.put("match", match);
    List<Object> to = new ArrayList<>();
    for (RouteSpec.WeightedTarget t : r.to()) {
      Map<String, Object> target = new LinkedHashMap<>();
      t.subset().ifPresent(s -> target.put("subset", s));
      target.put("weight", t.weight());
      to.add(target);
    }
    out.put("to", to);
    r.timeout().ifPresent(t -> out.put("timeout", d(t)));
    r.retries().ifPresent(rt -> {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("attempts", rt.attempts());
      rt.perTryTimeout().ifPresent(t -> m.put("perTryTimeout", d(t)));
      m.put("on", rt.on());
      m.put("backoff", map("base", d(rt.backoffBase()), "max", d(rt.backoffMax())));
      out.put("retries", m);
    });
    r.faults().ifPresent(f -> {
      Map<String, Object> m = new LinkedHashMap<>();
      f.delay().ifPresent(dl -> m.put("delay", map("percent", dl.percent(), "fixed", d(dl.fixed()))));
      f.abort().ifPresent(a -> {
        Map<String, Object> abort = map("percent", a.percent());
        a.httpStatus().ifPresent(s -> abort.put("httpStatus", s));
        a.grpcStatus().ifPresent(s -> abort.put("grpcStatus", s));
        m.put("abort", abort);
      });
      out.put("faults", m);
    });
    r.rateLimit().ifPresent(l -> out.put("rateLimit",
        map("requestsPerSecond", l.requestsPerSecond(), "burst", l.burst())));
    return out;
  }

  private static String d(Duration duration) {
    return Durations.format(duration);
  }

  private static String lower(Enum<?> e) {
    return e.name().toLowerCase(Locale.ROOT);
  }

  private static Map<String, Object> map(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }
}
