package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.config.MeshSnapshot;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class MeshletStatusTest {

  static final Instant T = Instant.parse("2026-11-30T12:00:00Z");
  final MeshletStatus status = new MeshletStatus(Clock.fixed(T, ZoneOffset.UTC));

  @Test
  void tracksTheConnection() {
    assertThat(status.connection()).isEmpty();
    status.onConnected("cs1:18000");
    assertThat(status.connection()).contains(new MeshletStatus.Connection("cs1:18000", T));

    // A failed attempt on another server does not end the connection in force.
    status.onDisconnected("cs2:18000", "UNAVAILABLE", Duration.ofSeconds(1));
    assertThat(status.connection()).isPresent();
    assertThat(status.lastDisconnect()).contains(new MeshletStatus.Disconnect("cs2:18000", "UNAVAILABLE", T));

    status.onDisconnected("cs1:18000", "UNAVAILABLE: io exception", Duration.ofSeconds(1));
    assertThat(status.connection()).isEmpty();
    assertThat(status.lastDisconnect()).contains(
        new MeshletStatus.Disconnect("cs1:18000", "UNAVAILABLE: io exception", T));
  }

  @Test
  void keepsTheLastTwentyNacksNewestFirst() {
    for (int i = 0; i < 25; i++) {
      status.onNack("Cluster", "v" + i, "bad " + i);
    }
    assertThat(status.recentNacks()).hasSize(MeshletStatus.MAX_NACKS);
    assertThat(status.recentNacks().get(0)).isEqualTo(new MeshletStatus.Nack("Cluster", "v24", "bad 24", T));
    assertThat(status.recentNacks().get(19).version()).isEqualTo("v5");
  }

  @Test
  void recordsWhenTheConfigArrived() {
    assertThat(status.configReceivedAt()).isEmpty();
    status.onConfig(MeshSnapshot.empty());
    assertThat(status.configReceivedAt()).contains(T);
  }
}
