package io.meshlet.controlplane.internal.intent;

import io.meshlet.controlplane.intent.AuthorizationSpec;
import io.meshlet.controlplane.intent.CircuitBreakerSpec;
import io.meshlet.controlplane.intent.EndpointSpec;
import io.meshlet.controlplane.intent.LocalitySpec;
import io.meshlet.controlplane.intent.MatchSpec;
import io.meshlet.controlplane.intent.MtlsSpec;
import io.meshlet.controlplane.intent.OutlierDetectionSpec;
import io.meshlet.controlplane.intent.OutlierDetectionSpec.FailurePercentage;
import io.meshlet.controlplane.intent.RouteSpec;
import io.meshlet.controlplane.intent.RouteSpec.WeightedTarget;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.controlplane.intent.ServiceSpec.LoadBalancing;
import io.meshlet.controlplane.intent.ServiceSpec.Protocol;
import io.meshlet.internal.net.HostPort;
import io.meshlet.internal.wire.MeshNames;
import io.meshlet.controlplane.internal.intent.NodeReader.Ctx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Reads one service of mesh.yaml ({@link MeshSchema#SERVICE}): protocol, endpoints, subsets, load
 * balancing, circuit breaker and outlier detection; its routes and authorization are read by
 * {@link RouteReader} and {@link AuthorizationReader}.
 */
final class ServiceReader {


  private final NodeReader r;
  private final IntentValidator validator;
  private final RouteReader routeReader;
  private final AuthorizationReader authorizationReader;

  ServiceReader(NodeReader r, IntentValidator validator) {
    this.r = r;
    this.validator = validator;
    this.routeReader = new RouteReader(r, validator);
    this.authorizationReader = new AuthorizationReader(r);
  }

  ServiceSpec service(String name, Node node) {
    Ctx ctx = new Ctx("service '" + name + "'", "");
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.SERVICE);
    if (f == null) {
      f = Map.of();
    }
    Protocol protocol = f.containsKey("protocol")
        ? r.enumValue(f.get("protocol"), ctx.field("protocol"), Protocol.class, Protocol.HTTP)
        : Protocol.HTTP;
    List<EndpointSpec> endpoints = f.containsKey("endpoints")
        ? endpoints(f.get("endpoints"), ctx.field("endpoints"))
        : List.of();
    Map<String, Map<String, String>> subsets = f.containsKey("subsets")
        ? subsets(f.get("subsets"), ctx.field("subsets"))
        : Map.of();
    LoadBalancing lb = f.containsKey("loadBalancing")
        ? r.enumValue(f.get("loadBalancing"), ctx.field("loadBalancing"), LoadBalancing.class,
            LoadBalancing.ROUND_ROBIN)
        : LoadBalancing.ROUND_ROBIN;
    validator.grpcLoadBalancing(protocol, lb, f, ctx);
    Optional<String> hashHeader = Optional.empty();
    if (f.containsKey("hashHeader")) {
      String h = r.string(f.get("hashHeader"), ctx.field("hashHeader"), NodeReader.HEADER_NAME,
          "a lower-case header name", null);
      validator.hashHeaderNeedsRingHash(h, lb, f, ctx);
      hashHeader = Optional.ofNullable(h);
    }
    Optional<CircuitBreakerSpec> breaker = f.containsKey("circuitBreaker")
        ? Optional.of(circuitBreaker(f.get("circuitBreaker"), ctx.field("circuitBreaker"), protocol))
        : Optional.empty();
    Optional<OutlierDetectionSpec> outlier = f.containsKey("outlierDetection")
        ? Optional.of(outlierDetection(f.get("outlierDetection"), ctx.field("outlierDetection"), protocol))
        : Optional.empty();
    LocalitySpec locality = f.containsKey("locality")
        ? locality(f.get("locality"), ctx.field("locality"))
        : LocalitySpec.off();
    validator.preferLocalNeedsZones(locality, endpoints, f, ctx);
    List<RouteSpec> routes;
    if (f.containsKey("routes")) {
      routes = routeReader.routes(f.get("routes"), ctx.field("routes"), subsets, protocol);
    } else {
      routes = List.of(new RouteSpec(MatchSpec.any(),
          List.of(new WeightedTarget(Optional.empty(), 100)),
          Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty()));
    }
    Optional<AuthorizationSpec> authz = f.containsKey("authorization")
        ? Optional.of(authorizationReader.authorization(f.get("authorization"), ctx.field("authorization"), protocol))
        : Optional.empty();
    Optional<MtlsSpec.Mode> mtlsMode = Optional.empty();
    if (f.containsKey("mtls")) {
      Map<String, Node> m = r.mapping(f.get("mtls"), ctx.field("mtls"), MeshSchema.SERVICE_MTLS);
      if (m != null && m.containsKey("mode")) {
        mtlsMode = Optional.of(r.mtlsMode(m.get("mode"), ctx.field("mtls").field("mode")));
      }
    }
    return new ServiceSpec(name, protocol, endpoints, subsets, lb, hashHeader, breaker, outlier,
        routes, authz, mtlsMode, locality);
  }

  LocalitySpec locality(Node node, Ctx ctx) {
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.LOCALITY);
    if (f == null) {
      return LocalitySpec.off();
    }
    boolean preferLocal = f.containsKey("preferLocal")
        && r.bool(f.get("preferLocal"), ctx.field("preferLocal"), false);
    int threshold = LocalitySpec.DEFAULT_FAILOVER_THRESHOLD;
    Node t = f.get("failoverThreshold");
    if (t != null) {
      String s = r.scalar(t, ctx.field("failoverThreshold"));
      if (s != null) {
        String digits = s.strip().endsWith("%") ? s.strip().substring(0, s.strip().length() - 1).strip() : s.strip();
        try {
          int v = Integer.parseInt(digits);
          if (v < 1 || v > 100) {
            r.fail(t, ctx.field("failoverThreshold"), s, "a whole percentage in 1..100, e.g. 70%");
          } else {
            threshold = v;
          }
        } catch (NumberFormatException e) {
          r.fail(t, ctx.field("failoverThreshold"), s.isEmpty() ? "''" : s, "a whole percentage in 1..100, e.g. 70%");
        }
      }
    }
    return new LocalitySpec(preferLocal, threshold);
  }

  List<EndpointSpec> endpoints(Node node, Ctx ctx) {
    List<EndpointSpec> out = new ArrayList<>();
    Map<String, Integer> seen = new HashMap<>();
    List<Node> items = r.sequence(node, ctx);
    for (int i = 0; i < items.size(); i++) {
      Ctx at = ctx.index(i);
      Node item = items.get(i);
      Map<String, Node> f = r.mapping(item, at, MeshSchema.ENDPOINT);
      if (f == null) {
        continue;
      }
      Node addressNode = f.get("address");
      if (addressNode == null) {
        r.fail(item, at.field("address"), "missing", "host:port, e.g. 127.0.0.1:9001");
        continue;
      }
      String address = r.scalar(addressNode, at.field("address"));
      Map<String, String> labels = f.containsKey("labels")
          ? labels(f.get("labels"), at.field("labels"))
          : Map.of();
      if (address == null) {
        continue;
      }
      EndpointSpec endpoint = address(address, addressNode, at.field("address"), labels);
      if (endpoint == null) {
        continue;
      }
      Integer first = seen.putIfAbsent(endpoint.address(), i);
      if (first != null) {
        r.fail(addressNode, at.field("address"), address,
            "an address not already listed for this service: " + ctx.index(first).path() + " has it");
      } else {
        out.add(endpoint);
      }
    }
    return out;
  }

  EndpointSpec address(String address, Node node, Ctx ctx, Map<String, String> labels) {
    Optional<HostPort> hostPort = HostPort.parse(address);
    if (hostPort.isEmpty()) {
      r.fail(node, ctx, address, "host:port with a port in 1..65535, e.g. 127.0.0.1:9001");
      return null;
    }
    return new EndpointSpec(hostPort.get().host(), hostPort.get().port(), labels);
  }

  Map<String, Map<String, String>> subsets(Node node, Ctx ctx) {
    Map<String, Map<String, String>> out = new LinkedHashMap<>();
    Map<String, Node> byName = r.mapping(node, ctx);
    if (byName == null) {
      return out;
    }
    byName.forEach((name, selectorNode) -> {
      Ctx at = ctx.field(name);
      if (!MeshNames.isLabel(name)) {
        r.fail(selectorNode, at, "'" + name + "'", "a subset name of letters, digits, '.', '_', '/' and '-'");
        return;
      }
      Map<String, String> selector = labels(selectorNode, at);
      if (selector.isEmpty()) {
        r.fail(selectorNode, at, "{}", "at least one label, e.g. { version: v1 }");
      }
      out.put(name, selector);
    });
    return out;
  }

  Map<String, String> labels(Node node, Ctx ctx) {
    Map<String, String> out = new LinkedHashMap<>();
    Map<String, Node> f = r.mapping(node, ctx);
    if (f == null) {
      return out;
    }
    f.forEach((k, v) -> {
      String value = r.scalar(v, ctx.field(k));
      if (value == null) {
        return;
      }
      if (!MeshNames.isLabel(k)) {
        r.fail(v, ctx.field(k), "'" + k + "'", "a label name of letters, digits, '.', '_', '/' and '-'");
      } else if (!value.isEmpty() && !MeshNames.isLabel(value)) {
        r.fail(v, ctx.field(k), value, "a label value of letters, digits, '.', '_', '/' and '-'");
      } else {
        out.put(k, value);
      }
    });
    return out;
  }

  CircuitBreakerSpec circuitBreaker(Node node, Ctx ctx, Protocol protocol) {
    CircuitBreakerSpec d = CircuitBreakerSpec.defaults();
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.CIRCUIT_BREAKER);
    if (f == null) {
      return d;
    }
    validator.grpcCircuitBreaker(protocol, f, ctx);
    return new CircuitBreakerSpec(
        r.intField(f, "maxRequests", ctx, 1, 1_000_000_000, d.maxRequests()),
        r.intField(f, "maxPendingRequests", ctx, 1, 1_000_000_000, d.maxPendingRequests()),
        r.intField(f, "maxRetries", ctx, 0, 1_000_000_000, d.maxRetries()));
  }

  OutlierDetectionSpec outlierDetection(Node node, Ctx ctx, Protocol protocol) {
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.OUTLIER_DETECTION);
    if (f == null) {
      f = Map.of();
    }
    // grpc-java implements success-rate and failure-percentage ejection only (gRFC A50,
    // EnvoyServerProtoData.OutlierDetection): consecutive_5xx is not read.
    boolean grpc = protocol == Protocol.GRPC;
    validator.grpcOutlierDetection(grpc, node, f, ctx);
    Optional<FailurePercentage> fp = Optional.empty();
    if (f.containsKey("failurePercentage")) {
      Ctx at = ctx.field("failurePercentage");
      Map<String, Node> g = r.mapping(f.get("failurePercentage"), at, MeshSchema.FAILURE_PERCENTAGE);
      if (g != null) {
        if (!g.containsKey("threshold")) {
          r.fail(f.get("failurePercentage"), at.field("threshold"), "missing", "0..100");
        }
        fp = Optional.of(new FailurePercentage(
            r.intField(g, "threshold", at, 0, 100, 85),
            r.intField(g, "minimumHosts", at, 1, 1_000_000, 5),
            r.intField(g, "requestVolume", at, 1, 1_000_000, 50)));
      }
    }
    return new OutlierDetectionSpec(
        grpc ? 0 : r.intField(f, "consecutive5xx", ctx, 1, 1_000_000, 5),
        r.durationField(f, "interval", ctx, Duration.ofMillis(1), Duration.ofDays(1), Duration.ofSeconds(10)),
        r.durationField(f, "baseEjectionTime", ctx, Duration.ofMillis(1), Duration.ofDays(1),
            Duration.ofSeconds(30)),
        r.intField(f, "maxEjectionPercent", ctx, 0, 100, 10),
        fp);
  }
}
