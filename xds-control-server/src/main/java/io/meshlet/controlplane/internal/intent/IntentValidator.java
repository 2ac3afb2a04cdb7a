package io.meshlet.controlplane.internal.intent;

import io.meshlet.controlplane.intent.AuthorizationSpec;
import io.meshlet.controlplane.intent.EndpointSpec;
import io.meshlet.controlplane.intent.LocalitySpec;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.controlplane.intent.ServiceSpec.LoadBalancing;
import io.meshlet.controlplane.intent.ServiceSpec.Protocol;
import io.meshlet.controlplane.internal.intent.NodeReader.Ctx;
import io.meshlet.internal.wire.WireNames;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;

/**
 * The checks of mesh.yaml that look across fields or across services, in one place: what one
 * field may say given another (above all what a gRPC service may say, since grpc-java's own xDS
 * client calls it), and what services must agree on. The section readers call it where they have
 * read both fields, so that each violation keeps its line; checks within one mapping's own keys
 * ("exactly one of ...") and a list's values stay with their reader.
 */
final class IntentValidator {

  private final NodeReader r;

  IntentValidator(NodeReader r) {
    this.r = r;
  }

  /**
   * gRPC services whose instances share an address are served by one server with one inbound
   * policy, so their authorization must agree.
   */
  void checkSharedAddresses(Map<String, ServiceSpec> services, Node servicesNode) {
    Map<String, ServiceSpec> firstAt = new LinkedHashMap<>();
    Map<String, Node> keys = r.keyNodes(servicesNode);
    for (ServiceSpec s : services.values()) {
      if (s.protocol() != Protocol.GRPC) {
        continue;
      }
      for (EndpointSpec e : s.endpoints()) {
        ServiceSpec other = firstAt.putIfAbsent(e.address(), s);
        if (other != null && other != s && !other.authorization().equals(s.authorization())) {
          r.fail(keys.get(s.name()), new Ctx("service '" + s.name() + "'", "authorization"),
              s.authorization().map(AuthorizationSpec::toString).orElse("none"),
              "the same authorization as service '" + other.name() + "', which also serves gRPC at "
                  + e.address() + ": " + other.authorization().map(AuthorizationSpec::toString).orElse("none"));
        }
      }
    }
  }

  /** grpc-java has no random policy. */
  void grpcLoadBalancing(Protocol protocol, LoadBalancing lb, Map<String, Node> f, Ctx ctx) {
    if (protocol == Protocol.GRPC && lb == LoadBalancing.RANDOM) {
      r.fail(f.get("loadBalancing"), ctx.field("loadBalancing"), "random",
          onGrpc("round_robin, least_request or ring_hash", "grpc-java has no random policy and would"
              + " balance round robin"));
    }
  }

  /** A hash header means something only to ring hash. */
  void hashHeaderNeedsRingHash(String h, LoadBalancing lb, Map<String, Node> f, Ctx ctx) {
    if (h != null && lb != LoadBalancing.RING_HASH) {
      r.fail(f.get("hashHeader"), ctx.field("hashHeader"), h, "only with loadBalancing: ring_hash");
    }
  }

  /** What of a circuit breaker grpc-java honours. */
  void grpcCircuitBreaker(Protocol protocol, Map<String, Node> f, Ctx ctx) {
    if (protocol == Protocol.GRPC) {
      // grpc-java reads only max_requests of the DEFAULT thresholds (XdsClusterResource) and
      // fails a call beyond it at once (ClusterImplLoadBalancer): nothing waits, no retry budget.
      if (f.containsKey("maxPendingRequests")) {
        r.fail(f.get("maxPendingRequests"), ctx.field("maxPendingRequests"), NodeReader.flow(f.get("maxPendingRequests")),
            onGrpc("no maxPendingRequests", "grpc-java honours only maxRequests and fails a call beyond it"
                + " at once, queueing none; use maxRequests"));
      }
      if (f.containsKey("maxRetries")) {
        r.fail(f.get("maxRetries"), ctx.field("maxRetries"), NodeReader.flow(f.get("maxRetries")),
            onGrpc("no maxRetries", "grpc-java honours only maxRequests and has no budget of concurrent"
                + " retries; bound retries with routes[].retries.attempts"));
      }
    }
  }

  /** What of outlier detection grpc-java honours (gRFC A50). */
  void grpcOutlierDetection(boolean grpc, Node node, Map<String, Node> f, Ctx ctx) {
    if (grpc && f.containsKey("consecutive5xx")) {
      r.fail(f.get("consecutive5xx"), ctx.field("consecutive5xx"), NodeReader.flow(f.get("consecutive5xx")),
          onGrpc("no consecutive5xx", "grpc-java implements only success-rate and failure-percentage ejection;"
              + " use failurePercentage: { threshold, minimumHosts, requestVolume }"));
    } else if (grpc && !f.containsKey("failurePercentage") && node instanceof MappingNode) {
      r.fail(node, ctx, NodeReader.flow(node), onGrpc("failurePercentage", "grpc-java ejects by failure percentage only, so"
          + " without it nothing is ejected; add failurePercentage: { threshold, minimumHosts, requestVolume }"));
    }
  }

  /** grpc-java has no local rate limit filter. */
  void grpcRateLimit(boolean present, Protocol protocol, Map<String, Node> f, Ctx ctx) {
    if (present && protocol == Protocol.GRPC) {
      r.fail(f.get("rateLimit"), ctx.field("rateLimit"), NodeReader.flow(f.get("rateLimit")),
          onGrpc("no rateLimit", "grpc-java has no local rate limit filter (envoy.filters.http.local_ratelimit)"
              + " and skips it; bound calls in flight with circuitBreaker.maxRequests, or limit on the server"));
    }
  }

  /** grpc-java makes at most 5 attempts in all. */
  void grpcAttempts(boolean grpc, int attempts, Map<String, Node> f, Ctx ctx) {
    if (grpc && attempts > RouteReader.GRPC_MAX_RETRIES) {
      r.fail(f.get("attempts"), ctx.field("attempts"), String.valueOf(attempts),
          onGrpc("0.." + RouteReader.GRPC_MAX_RETRIES, "grpc-java makes at most 5 attempts in all and would cut the rest"));
    }
  }

  /** A per-try timeout needs a retry policy, and grpc-java has none (gRFC A44). */
  void perTryTimeout(boolean present, boolean grpc, int attempts, Map<String, Node> f, Ctx ctx) {
    if (present && grpc) {
      // XdsRouteConfigureResource.parseRetryPolicy: perAttemptRecvTimeout is always null (gRFC A44).
      r.fail(f.get("perTryTimeout"), ctx.field("perTryTimeout"), NodeReader.flow(f.get("perTryTimeout")),
          onGrpc("no perTryTimeout", "grpc-java has no per-try timeout (gRFC A44); use the route's timeout,"
              + " which bounds all tries together"));
    } else if (present && attempts == 0) {
      // No retries is no retry policy (gRPC clients refuse num_retries: 0), so a per-try timeout
      // would be lost; with one try it means the route's timeout anyway.
      r.fail(f.get("perTryTimeout"), ctx.field("perTryTimeout"), NodeReader.flow(f.get("perTryTimeout")),
          "no perTryTimeout with attempts: 0: the only try's deadline is the route's timeout; write timeout: "
              + NodeReader.flow(f.get("perTryTimeout")) + " on the route instead");
    }
  }

  /**
   * {@code preferLocal} needs instances with a zone. A service whose mesh.yaml lists its endpoints
   * with none in a zone is refused: no caller could ever stay in its zone. A service without static
   * endpoints is accepted, since its instances (Kubernetes, registration) bring their zones at run time.
   */
  void preferLocalNeedsZones(LocalitySpec locality, List<EndpointSpec> endpoints, Map<String, Node> f, Ctx ctx) {
    if (locality.preferLocal() && !endpoints.isEmpty()
        && endpoints.stream().noneMatch(e -> e.labels().containsKey(WireNames.ZONE_LABEL))) {
      Map<String, Node> l = r.keyNodes(f.get("locality"));
      Node at = l.getOrDefault("preferLocal", f.get("locality"));
      r.fail(at, ctx.field("locality").field("preferLocal"), "true",
          "endpoints with a zone (labels: { " + WireNames.ZONE_LABEL + ": <zone> }): none of this service's "
              + endpoints.size() + " endpoints has one, so no caller could stay in its zone");
    }
  }

  /** What a gRPC service accepts instead, and why: grpc-java's xDS client is what calls it. */
  static String onGrpc(String expected, String reason) {
    return expected + " on a grpc service: " + reason;
  }
}
