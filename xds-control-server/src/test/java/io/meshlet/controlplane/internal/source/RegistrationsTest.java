package io.meshlet.controlplane.internal.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.meshlet.internal.wire.WireNames;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Self-registration reads an instance's address with the same rule as mesh.yaml and the clients. */
class RegistrationsTest {

  private static Node node(String address) {
    Struct instance = Struct.newBuilder()
        .putFields(WireNames.INSTANCE_ADDRESS, Value.newBuilder().setStringValue(address).build()).build();
    return Node.newBuilder().setId("node-1").setCluster("catalog").setMetadata(Struct.newBuilder()
        .putFields(WireNames.INSTANCE_METADATA, Value.newBuilder().setStructValue(instance).build())).build();
  }

  @ParameterizedTest
  @CsvSource({"10.0.0.7:8080, 10.0.0.7, 8080", "[::1]:9001, ::1, 9001", "catalog.internal:80, catalog.internal, 80"})
  void readsTheAddressAnInstanceRegisters(String address, String host, int port) {
    Registrations.Instance i = Registrations.parse(node(address)).orElseThrow();
    assertThat(i.host()).isEqualTo(host);
    assertThat(i.port()).isEqualTo(port);
    assertThat(i.address()).isEqualTo(address);
  }

  @ParameterizedTest
  @ValueSource(strings = {"::1:9001", "[::1]9001", "10.0.0.7", "10.0.0.7:x", "10.0.0.7:0", "0.0.0.0:80", "[::]:80",
      "a b:80", ""})
  void refusesAnAddressCallersCannotReach(String address) {
    assertThatThrownBy(() -> Registrations.parse(node(address)))
        .hasMessage("node.metadata.meshlet.instance.address: '" + address + "' (expected: host:port that callers "
            + "can reach, with a port in 1..65535, e.g. 10.0.0.7:8080)");
  }
}
