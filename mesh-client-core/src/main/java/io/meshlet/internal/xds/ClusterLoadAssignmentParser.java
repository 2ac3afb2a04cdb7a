package io.meshlet.internal.xds;

import static io.meshlet.internal.xds.ProtoFields.duration;
import static io.meshlet.internal.xds.ProtoFields.enforcing;
import static io.meshlet.internal.xds.ProtoFields.fieldNames;
import static io.meshlet.internal.xds.ProtoFields.isZero;
import static io.meshlet.internal.xds.ProtoFields.only;
import static io.meshlet.internal.xds.ProtoFields.perMillion;
import static io.meshlet.internal.xds.ProtoFields.u32;
import static io.meshlet.internal.xds.ProtoFields.validRegex;

import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.meshlet.config.EndpointConfig;
import io.meshlet.internal.wire.WireNames;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Parses EDS: a {@code ClusterLoadAssignment} into the endpoints of a cluster. */
final class ClusterLoadAssignmentParser {

  private ClusterLoadAssignmentParser() {}

  /** The endpoints of an assignment; only priority 0 is used, as Meshlet has no failover tiers. */
  static List<EndpointConfig> endpoints(ClusterLoadAssignment cla) throws ResourceException {
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
        var meta = lb.getMetadata().getFilterMetadataMap().get(WireNames.LABELS_METADATA);
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
}
