package io.meshlet.controlplane.internal.source;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigHistoryTest {

  static Map<String, Object> intent(int v1, int v2) {
    return Map.of("services", Map.of("catalog", Map.of("routes", List.of(Map.of("to", List.of(
        Map.of("subset", "v1", "weight", v1), Map.of("subset", "v2", "weight", v2)))))));
  }

  @Test
  void aChangedWeightIsOneChangeNamedByItsPath() {
    assertThat(ConfigHistory.diff(intent(90, 10), intent(50, 50))).containsExactly(
        new ConfigHistory.Change("services.catalog.routes[0].to[0].weight", 90, 50),
        new ConfigHistory.Change("services.catalog.routes[0].to[1].weight", 10, 50));
    assertThat(ConfigHistory.diff(intent(90, 10), intent(90, 10))).isEmpty();
  }

  @Test
  void addedAndRemovedFieldsHaveNoBeforeOrAfter() {
    Map<String, Object> before = Map.of("services", Map.of("a", Map.of("protocol", "http")));
    Map<String, Object> after = Map.of("services", Map.of("b", Map.of("protocol", "grpc")));
    assertThat(ConfigHistory.diff(before, after)).containsExactly(
        new ConfigHistory.Change("services.a.protocol", "http", null),
        new ConfigHistory.Change("services.b.protocol", null, "grpc"));
  }

  @Test
  void versionsSayWhereTheyCameFromAndOnlyTheLastAreKept() {
    ConfigHistory h = new ConfigHistory();
    h.writtenByAdmin(42, "PUT /config from /127.0.0.1:5000");
    h.accepted("v0", "mesh.yaml", intent(1, 1), Instant.EPOCH);
    h.accepted("v1", "etcd /meshlet/intent@41", intent(1, 1), Instant.EPOCH);
    h.accepted("v2", "etcd /meshlet/intent@42", intent(1, 1), Instant.EPOCH);
    h.accepted("v3", "registered instances (intent from mesh.yaml)", intent(1, 1), Instant.EPOCH);
    assertThat(h.versions()).extracting(ConfigHistory.Version::origin).containsExactly("registered instances",
        "admin API (PUT /config from /127.0.0.1:5000), through etcd", "etcd", "file");
    for (int i = 0; i < ConfigHistory.KEPT + 5; i++) {
      h.accepted("x" + i, "mesh.yaml", intent(1, 1), Instant.EPOCH);
      h.refused("mesh.yaml", List.of("e" + i), Instant.EPOCH);
    }
    assertThat(h.versions()).hasSize(ConfigHistory.KEPT).first().extracting(ConfigHistory.Version::version)
        .isEqualTo("x" + (ConfigHistory.KEPT + 4));
    assertThat(h.refusals()).hasSize(ConfigHistory.KEPT);
    assertThat(h.version("v0")).isEmpty();
  }
}
