package io.meshlet.internal.policy;

import io.meshlet.internal.wire.LoadMetrics;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class EndpointLoadTest {

  @Test
  void aDrainReturnsWhatWasCountedSinceTheLastAndStartsAgainFromZero() {
    EndpointLoad load = new EndpointLoad();
    for (int i = 0; i < 3; i++) {
      load.issued();
    }
    load.finished(false, 1_500_000);    // 1.5 ms: bucket (1, 2]
    load.finished(true, 40_000_000);    // 40 ms: bucket (25, 50]
    EndpointLoad.Counts c = load.drain();
    assertThat(c.issued()).isEqualTo(3);
    assertThat(c.succeeded()).isEqualTo(1);
    assertThat(c.failed()).isEqualTo(1);
    assertThat(c.latencyMicros()).isEqualTo(41_500);
    assertThat(c.bucketCounts()[1]).isEqualTo(1);
    assertThat(c.bucketCounts()[5]).isEqualTo(1);
    assertThat(load.drain().isEmpty()).isTrue();
  }

  @Test
  void bucketNamesRoundTripAndBoundsAreInclusive() {
    for (int i = 0; i < LoadMetrics.buckets(); i++) {
      assertThat(LoadMetrics.bucketOf(LoadMetrics.bucketName(i))).isEqualTo(i);
    }
    assertThat(LoadMetrics.bucketName(0)).isEqualTo("meshlet.latency_ms.le_1");
    assertThat(LoadMetrics.bucketOf("meshlet.latency_ms")).isEqualTo(-1);
    assertThat(LoadMetrics.bucketOfNanos(1_000_000)).isZero();
    assertThat(LoadMetrics.bucketOfNanos(1_000_001 + 1_000)).isEqualTo(1);
    assertThat(LoadMetrics.bucketOfNanos(Long.MAX_VALUE)).isEqualTo(LoadMetrics.buckets() - 1);
  }
}
