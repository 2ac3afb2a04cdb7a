package io.meshlet.controlplane.internal.intent;

import io.meshlet.controlplane.intent.AuthorizationSpec;
import io.meshlet.controlplane.intent.EndpointSpec;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.controlplane.intent.ServiceSpec.Protocol;
import io.meshlet.controlplane.internal.intent.NodeReader.Ctx;
import java.util.LinkedHashMap;
import java.util.Map;
import org.yaml.snakeyaml.nodes.Node;

/**
 * The checks of mesh.yaml that look across fields or across services, in one place: what one
 * field may say given another (a gRPC service's limits), and what services must agree on.
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

  /** What a gRPC service accepts instead, and why: grpc-java's xDS client is what calls it. */
  static String onGrpc(String expected, String reason) {
    return expected + " on a grpc service: " + reason;
  }
}
