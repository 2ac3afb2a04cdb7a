package io.meshlet.controlplane.internal.intent;

import io.meshlet.controlplane.intent.AuthorizationSpec;
import io.meshlet.controlplane.intent.ServiceSpec.Protocol;
import io.meshlet.controlplane.internal.intent.NodeReader.Ctx;
import io.meshlet.internal.spiffe.SpiffeIds;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.nodes.Node;

/** Reads a service's authorization ({@link MeshSchema#AUTHORIZATION}): its allow list and rules. */
final class AuthorizationReader {

  private final NodeReader r;

  AuthorizationReader(NodeReader r) {
    this.r = r;
  }

  AuthorizationSpec authorization(Node node, Ctx ctx, Protocol protocol) {
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.AUTHORIZATION);
    if (f == null) {
      return new AuthorizationSpec(List.of());
    }
    if (!f.containsKey("allow") && !f.containsKey("rules")) {
      r.fail(node, ctx.field("allow"), "missing", "a list of SPIFFE IDs such as spiffe://example.org/service/frontend");
      return new AuthorizationSpec(List.of());
    }
    Optional<List<String>> allow = f.containsKey("allow")
        ? Optional.of(spiffeIds(f.get("allow"), ctx.field("allow")))
        : Optional.empty();
    List<AuthorizationSpec.Rule> rules = new ArrayList<>();
    if (f.containsKey("rules")) {
      List<Node> items = r.sequence(f.get("rules"), ctx.field("rules"));
      for (int i = 0; i < items.size(); i++) {
        AuthorizationSpec.Rule rule = authorizationRule(items.get(i), ctx.field("rules").index(i), protocol);
        if (rule != null) {
          rules.add(rule);
        }
      }
    }
    return new AuthorizationSpec(allow, rules);
  }

  private AuthorizationSpec.Rule authorizationRule(Node node, Ctx ctx, Protocol protocol) {
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.AUTHORIZATION_RULE);
    if (f == null) {
      return null;
    }
    if (!f.containsKey("match")) {
      r.fail(node, ctx.field("match"), "missing", "a match with path or pathPrefix, and optionally methods");
      return null;
    }
    if (!f.containsKey("allow")) {
      r.fail(node, ctx.field("allow"), "missing", "a list of SPIFFE IDs ([] for nobody)");
      return null;
    }
    Ctx mctx = ctx.field("match");
    Map<String, Node> m = r.mapping(f.get("match"), mctx, MeshSchema.AUTHORIZATION_MATCH);
    if (m == null) {
      return null;
    }
    if (m.containsKey("path") == m.containsKey("pathPrefix")) {
      r.fail(f.get("match"), mctx, m.containsKey("path") ? "path and pathPrefix" : "neither path nor pathPrefix",
          "exactly one of path, pathPrefix");
      return null;
    }
    boolean prefix = m.containsKey("pathPrefix");
    String key = prefix ? "pathPrefix" : "path";
    String path = r.string(m.get(key), mctx.field(key), Pattern.compile("/.*"), "a path starting with /", null);
    List<String> methods = new ArrayList<>();
    if (m.containsKey("methods")) {
      if (protocol == Protocol.GRPC) {
        r.fail(m.get("methods"), mctx.field("methods"), "set",
            "no methods for a gRPC service: every call is a POST; match the method by path, "
                + "e.g. path: /catalog.Catalog/Delete");
      } else {
        List<Node> items = r.sequence(m.get("methods"), mctx.field("methods"));
        for (int i = 0; i < items.size(); i++) {
          String method = r.string(items.get(i), mctx.field("methods").index(i), Pattern.compile("[A-Z]+"),
              "an HTTP method in capitals, such as GET or POST", null);
          if (method != null) {
            methods.add(method);
          }
        }
      }
    }
    List<String> allow = spiffeIds(f.get("allow"), ctx.field("allow"));
    return path == null ? null : new AuthorizationSpec.Rule(path, prefix, methods, allow);
  }

  private List<String> spiffeIds(Node node, Ctx ctx) {
    List<String> ids = new ArrayList<>();
    List<Node> items = r.sequence(node, ctx);
    for (int i = 0; i < items.size(); i++) {
      String id = r.string(items.get(i), ctx.index(i), SpiffeIds.ID,
          "a SPIFFE ID such as spiffe://example.org/service/frontend", null);
      if (id != null) {
        ids.add(id);
      }
    }
    return ids;
  }
}
