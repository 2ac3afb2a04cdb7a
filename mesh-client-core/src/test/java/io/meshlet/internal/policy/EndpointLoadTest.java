package io.meshlet.internal.policy;

import io.meshlet.internal.wire.LoadMetrics;
import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.transport.ResponseInfo;
import java.util.Map;
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
  void triesTheMeshRefusedAreCountedAsDeniedBesideTheirStatusAndDrainedWithTheRest() {
    EndpointLoad load = new EndpointLoad();
    load.issued();
    load.finished(false, 1_000_000);   // a 403 is no error to LRS ...
    load.denied();                     // ... but the mesh refused it
    EndpointLoad.Counts c = load.drain();
    assertThat(c.succeeded()).isEqualTo(1);
    assertThat(c.failed()).isZero();
    assertThat(c.denied()).isEqualTo(1);
    assertThat(load.drain().denied()).isZero();
  }

  @Test
  void onlyA403MarkedByTheMeshIsDeniedNotTheApplicationsOwn() {
    record Resp(int status, Map<String, String> headers) {}
    ResponseInfo<Resp> info = new ResponseInfo<>() {
      @Override
      public int status(Resp r) {
        return r.status();
      }

      @Override
      public String header(Resp r, String name) {
        return r.headers().get(name);
      }

      @Override
      public void discard(Resp r) {}
    };
    assertThat(PolicyEngine.deniedByMesh(info, new Resp(403, Map.of("x-meshlet-denied", "true")))).isTrue();
    assertThat(PolicyEngine.deniedByMesh(info, new Resp(403, Map.of()))).isFalse();
    assertThat(PolicyEngine.deniedByMesh(info, new Resp(200, Map.of("x-meshlet-denied", "true")))).isFalse();
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
