package io.meshlet.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The zone in grpc-java's bootstrap: {@code node.locality.zone}, and the registered instance's zone label. */
class BootstrapZoneTest {

  private static JsonNode node(MeshGrpc.Bootstrap b) throws Exception {
    return new ObjectMapper().readTree(b.json()).get("node");
  }

  @Test
  void theZoneIsTheNodesLocalityAndTheRegisteredInstancesZoneUnlessItsLabelsNameOne() throws Exception {
    JsonNode node = node(MeshGrpc.bootstrap("catalog", List.of("127.0.0.1:18000")).xdsPlaintext().zone("a")
        .instance("10.0.0.1:9000", Map.of("version", "v1")));
    assertThat(node.at("/locality/zone").asText()).isEqualTo("a");
    assertThat(node.at("/metadata/meshlet.instance/labels").toString())
        .isEqualTo("{\"topology.kubernetes.io/zone\":\"a\",\"version\":\"v1\"}");

    JsonNode own = node(MeshGrpc.bootstrap("catalog", List.of("127.0.0.1:18000")).xdsPlaintext().zone("a")
        .instance("10.0.0.1:9000", Map.of("topology.kubernetes.io/zone", "b")));
    assertThat(own.at("/metadata/meshlet.instance/labels/topology.kubernetes.io~1zone").asText()).isEqualTo("b");

    assertThat(node(MeshGrpc.bootstrap("catalog", List.of("127.0.0.1:18000")).xdsPlaintext()).has("locality"))
        .as("no zone, no locality").isFalse();
  }

  @Test
  void aZoneThatIsNoLabelValueIsRefused() {
    assertThatThrownBy(() -> MeshGrpc.bootstrap("catalog", List.of("127.0.0.1:18000")).zone("eu west"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("zone: 'eu west' (expected: a zone name of letters, digits, '.', '_', '/' and '-', e.g. eu-west-1a)");
  }
}
