package io.meshlet.controlplane.internal.translate;

import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.meshlet.controlplane.intent.EndpointSpec;
import io.meshlet.internal.wire.WireNames;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Endpoints: the load assignment of a cluster, its endpoints with their labels as metadata. */
final class EndpointTranslator {

  private EndpointTranslator() {}

  /**
   * One locality per zone (the endpoint label {@link WireNames#ZONE_LABEL}),
   * endpoints without one in the locality with no zone, all at priority 0. A locality weighs as many
   * endpoints as it holds: grpc-java picks a locality by weight, then an endpoint in it, so every
   * endpoint still gets an equal share, as with one locality (Meshlet's HTTP engine reads the
   * endpoints and their own weights and ignores locality weights).
   */
  static ClusterLoadAssignment assignment(String cluster, List<EndpointSpec> endpoints) {
    ClusterLoadAssignment.Builder b = ClusterLoadAssignment.newBuilder().setClusterName(cluster);
    Map<String, List<EndpointSpec>> byZone = new TreeMap<>();
    for (EndpointSpec e : endpoints) {
      byZone.computeIfAbsent(e.labels().getOrDefault(WireNames.ZONE_LABEL, ""), z -> new ArrayList<>()).add(e);
    }
    byZone.forEach((zone, inZone) -> {
      LocalityLbEndpoints.Builder locality = LocalityLbEndpoints.newBuilder()
          .setLocality(zone.isEmpty() ? Locality.getDefaultInstance() : Locality.newBuilder().setZone(zone).build())
          // grpc-java ignores a locality without a weight.
          .setLoadBalancingWeight(UInt32Value.of(inZone.size()));
      for (EndpointSpec e : inZone) {
        locality.addLbEndpoints(lbEndpoint(e));
      }
      b.addEndpoints(locality);
    });
    return b.build();
  }

  private static LbEndpoint.Builder lbEndpoint(EndpointSpec e) {
    LbEndpoint.Builder lb = LbEndpoint.newBuilder()
        .setHealthStatus(HealthStatus.HEALTHY)
        .setEndpoint(Endpoint.newBuilder().setAddress(
            io.envoyproxy.envoy.config.core.v3.Address.newBuilder().setSocketAddress(
                SocketAddress.newBuilder().setAddress(e.host()).setPortValue(e.port()))));
    if (!e.labels().isEmpty()) {
      com.google.protobuf.Struct.Builder labels = com.google.protobuf.Struct.newBuilder();
      e.labels().forEach((k, v) ->
          labels.putFields(k, com.google.protobuf.Value.newBuilder().setStringValue(v).build()));
      lb.setMetadata(Metadata.newBuilder().putFilterMetadata(WireNames.LABELS_METADATA, labels.build()));
    }
    return lb;
  }
}
