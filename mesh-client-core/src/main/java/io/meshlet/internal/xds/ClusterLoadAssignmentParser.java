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
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.internal.wire.WireNames;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Parses EDS: a {@code ClusterLoadAssignment} into the endpoints of a cluster. */
final class ClusterLoadAssignmentParser {

  private ClusterLoadAssignmentParser() {}

  /**
   * An endpoint assignment as the policy engine uses it.
   *
   * @param endpoints every endpoint, with its zone, priority and health
   * @param overprovisioningFactor {@code policy.overprovisioning_factor}, or Envoy's default 140
   */
  record Assignment(List<EndpointConfig> endpoints, int overprovisioningFactor) {}

  /** The endpoints of an assignment, with their zones, priorities and health. */
  static List<EndpointConfig> endpoints(ClusterLoadAssignment cla) throws ResourceException {
    return assignment(cla).endpoints();
  }

  /** An assignment: its endpoints, and when its priority 0 spills over. */
  static Assignment assignment(ClusterLoadAssignment cla) throws ResourceException {
    Errors e = new Errors("endpoint assignment '" + cla.getClusterName() + "'");
    only(cla, e, "", "cluster_name", "endpoints", "policy");
    List<EndpointConfig> out = new ArrayList<>();
    for (int i = 0; i < cla.getEndpointsCount(); i++) {
      LocalityLbEndpoints l = cla.getEndpoints(i);
      String lp = "endpoints[" + i + "]";
      only(l, e, lp, "locality", "lb_endpoints", "load_balancing_weight", "priority");
      int priority = u32(l.getPriority());
      String zone = l.getLocality().getZone();
      for (int j = 0; j < l.getLbEndpointsCount(); j++) {
        LbEndpoint lb = l.getLbEndpoints(j);
        String ep = lp + ".lb_endpoints[" + j + "]";
        only(lb, e, ep, "endpoint", "health_status", "metadata", "load_balancing_weight");
        boolean healthy = lb.getHealthStatus() == HealthStatus.HEALTHY || lb.getHealthStatus() == HealthStatus.UNKNOWN;
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
        out.add(new EndpointConfig(sa.getAddress(), sa.getPortValue(), weight, labels, zone, priority, healthy));
      }
    }
    int factor = ClusterConfig.DEFAULT_OVERPROVISIONING_FACTOR;
    if (cla.getPolicy().hasOverprovisioningFactor()) {
      int f = u32(cla.getPolicy().getOverprovisioningFactor().getValue());
      if (f < 1) {
        e.add("policy.overprovisioning_factor", String.valueOf(f), "at least 1");
      } else {
        factor = f;
      }
    }
    e.throwIfAny();
    return new Assignment(out, factor);
  }
}
