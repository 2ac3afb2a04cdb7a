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
import java.util.List;

/** Endpoints: the load assignment of a cluster, its endpoints with their labels as metadata. */
final class EndpointTranslator {

  private EndpointTranslator() {}

  static ClusterLoadAssignment assignment(String cluster, List<EndpointSpec> endpoints) {
    ClusterLoadAssignment.Builder b = ClusterLoadAssignment.newBuilder().setClusterName(cluster);
    if (endpoints.isEmpty()) {
      return b.build();
    }
    LocalityLbEndpoints.Builder locality = LocalityLbEndpoints.newBuilder()
        .setLocality(Locality.getDefaultInstance())
        // grpc-java ignores a locality without a weight.
        .setLoadBalancingWeight(UInt32Value.of(1));
    for (EndpointSpec e : endpoints) {
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
      locality.addLbEndpoints(lb);
    }
    return b.addEndpoints(locality).build();
  }
}
