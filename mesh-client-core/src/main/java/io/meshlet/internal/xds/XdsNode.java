package io.meshlet.internal.xds;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.meshlet.internal.wire.WireNames;
import java.util.Map;

/**
 * The xDS node a client presents: its id, service, version, its zone ({@code locality.zone}, which
 * picks the zone view of zone-aware routing; empty for none), and its own instance when it
 * registers one (node metadata {@code meshlet.instance}: {@code address} and {@code labels}).
 */
public record XdsNode(String id, String service, String version, String instanceAddress,
    Map<String, String> instanceLabels, String zone) {

  public XdsNode {
    instanceLabels = Map.copyOf(instanceLabels);
    zone = zone == null ? "" : zone;
  }

  /** A node in no zone. */
  public XdsNode(String id, String service, String version, String instanceAddress,
      Map<String, String> instanceLabels) {
    this(id, service, version, instanceAddress, instanceLabels, "");
  }

  /** The node as Envoy's protobuf. */
  public Node toProto() {
    Node.Builder node = Node.newBuilder()
        .setId(id)
        .setCluster(service)
        .setUserAgentName("meshlet")
        .setUserAgentVersion(version);
    if (!zone.isEmpty()) {
      node.setLocality(io.envoyproxy.envoy.config.core.v3.Locality.newBuilder().setZone(zone));
    }
    if (instanceAddress != null) {
      Struct.Builder labels = Struct.newBuilder();
      instanceLabels.forEach((k, v) -> labels.putFields(k, Value.newBuilder().setStringValue(v).build()));
      node.setMetadata(Struct.newBuilder().putFields(WireNames.INSTANCE_METADATA,
          Value.newBuilder().setStructValue(Struct.newBuilder()
              .putFields(WireNames.INSTANCE_ADDRESS, Value.newBuilder().setStringValue(instanceAddress).build())
              .putFields(WireNames.INSTANCE_LABELS, Value.newBuilder().setStructValue(labels).build()))
              .build()));
    }
    return node.build();
  }
}
