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
import io.meshlet.controlplane.intent.LocalitySpec;
import io.meshlet.internal.wire.WireNames;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
    return assignment(cluster, endpoints, null, 0);
  }

  /**
   * The assignment a caller in {@code zone} is served for a service with {@code preferLocal}
   * (zone-aware routing): the zone's locality at priority 0, every other locality at priority 1,
   * and {@code policy.overprovisioning_factor} = ceil(10000 / threshold), so that a client that
   * implements Envoy's priority spill (Meshlet's HTTP engine, Envoy) leaves priority 0 when less
   * than the threshold of it is healthy.
   *
   * <p>Empty, meaning "serve this caller {@link #assignment(String, List) the plain assignment}",
   * when the zone has no instance in this cluster, or when the share of its instances the control
   * server knows healthy is below the threshold: grpc-java knows no threshold (it leaves priority 0
   * only when that priority is in TRANSIENT_FAILURE), so the server applies it for it by putting
   * every zone at priority 0 again.
   */
  static Optional<ClusterLoadAssignment> zoneView(String cluster, List<EndpointSpec> endpoints, String zone,
      LocalitySpec locality) {
    int local = 0;
    int healthy = 0;
    for (EndpointSpec e : endpoints) {
      if (e.zone().equals(zone)) {
        local++;
        if (e.healthy()) {
          healthy++;
        }
      }
    }
    if (local == 0 || (long) healthy * 100 < (long) locality.failoverThreshold() * local) {
      return Optional.empty();
    }
    return Optional.of(assignment(cluster, endpoints, zone, locality.failoverThreshold()));
  }

  /** With {@code zone} null: all at priority 0; else that zone at 0, the rest at 1. */
  private static ClusterLoadAssignment assignment(String cluster, List<EndpointSpec> endpoints, String zone,
      int threshold) {
    ClusterLoadAssignment.Builder b = ClusterLoadAssignment.newBuilder().setClusterName(cluster);
    Map<String, List<EndpointSpec>> byZone = new TreeMap<>();
    for (EndpointSpec e : endpoints) {
      byZone.computeIfAbsent(e.zone(), z -> new ArrayList<>()).add(e);
    }
    byZone.forEach((z, inZone) -> {
      LocalityLbEndpoints.Builder l = LocalityLbEndpoints.newBuilder()
          .setLocality(z.isEmpty() ? Locality.getDefaultInstance() : Locality.newBuilder().setZone(z).build())
          // grpc-java ignores a locality without a weight.
          .setLoadBalancingWeight(UInt32Value.of(inZone.size()));
      if (zone != null && !z.equals(zone)) {
        l.setPriority(1);
      }
      for (EndpointSpec e : inZone) {
        l.addLbEndpoints(lbEndpoint(e));
      }
      b.addEndpoints(l);
    });
    if (zone != null) {
      // Envoy: priority 0 keeps all traffic while healthy% * factor / 100 >= 100.
      b.setPolicy(ClusterLoadAssignment.Policy.newBuilder()
          .setOverprovisioningFactor(UInt32Value.of((10_000 + threshold - 1) / threshold)));
    }
    return b.build();
  }

  private static LbEndpoint.Builder lbEndpoint(EndpointSpec e) {
    LbEndpoint.Builder lb = LbEndpoint.newBuilder()
        .setHealthStatus(e.healthy() ? HealthStatus.HEALTHY : HealthStatus.UNHEALTHY)
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
