package io.meshlet.controlplane.internal.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.meshlet.internal.wire.WireNames;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
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

  @Test
  void theStateFileHoldsTheInstancesAsTheyWereAtCloseForTheNextStart(@TempDir Path dir) throws Exception {
    Registrations first = new Registrations(Optional.of(dir), Duration.ofMinutes(1), Clock.systemUTC());
    Registrations.Instance a = Registrations.parse(node("10.0.0.1:80")).orElseThrow();
    Registrations.Instance b = Registrations.parse(node("10.0.0.2:80")).orElseThrow();
    Registrations.Instance c = Registrations.parse(node("10.0.0.3:80")).orElseThrow();
    first.register(1, a);
    first.register(2, b);
    first.deregister(1, "left");
    first.register(3, c);
    // Closing (as at shutdown) keeps what is on file: streams closed by the shutdown are not workloads leaving.
    first.close();
    first.deregister(2, "a stream closed by the shutdown");
    Registrations restarted = new Registrations(Optional.of(dir), Duration.ofMinutes(1), Clock.systemUTC());
    assertThat(restarted.instances()).containsExactly(b, c);
    restarted.close();
  }
}
