package io.meshlet.controlplane.internal.lrs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterStats;
import io.envoyproxy.envoy.config.endpoint.v3.EndpointLoadMetricStats;
import io.envoyproxy.envoy.config.endpoint.v3.UpstreamEndpointStats;
import io.envoyproxy.envoy.config.endpoint.v3.UpstreamLocalityStats;
import io.meshlet.internal.wire.LoadMetrics;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class LoadStoreTest {

  /** A clock the test moves. */
  static final class TestClock extends Clock {
    Instant now = Instant.parse("2026-12-05T12:00:00Z");

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  static ClusterStats endpointReport(String cluster, String host, int port, long ok, long failed, long inFlight,
      int bucket, long inBucket) {
    UpstreamEndpointStats.Builder e = UpstreamEndpointStats.newBuilder()
        .setAddress(Address.newBuilder().setSocketAddress(SocketAddress.newBuilder().setAddress(host).setPortValue(port)))
        .setTotalIssuedRequests(ok + failed).setTotalSuccessfulRequests(ok).setTotalErrorRequests(failed)
        .setTotalRequestsInProgress(inFlight);
    if (inBucket > 0) {
      e.addLoadMetricStats(EndpointLoadMetricStats.newBuilder().setMetricName(LoadMetrics.LATENCY_MS)
          .setNumRequestsFinishedWithMetric(inBucket).setTotalMetricValue(inBucket * 3.0));
      e.addLoadMetricStats(EndpointLoadMetricStats.newBuilder().setMetricName(LoadMetrics.bucketName(bucket))
          .setNumRequestsFinishedWithMetric(inBucket).setTotalMetricValue(inBucket * 3.0));
    }
    return ClusterStats.newBuilder().setClusterName(cluster)
        .addUpstreamLocalityStats(UpstreamLocalityStats.newBuilder().addUpstreamEndpointStats(e)).build();
  }

  @Test
  void clusterNamesTellServiceAndRouteTarget() {
    assertThat(LoadStore.key("catalog/v2", "a:1")).isEqualTo(new LoadStore.Key("catalog", "v2", "a:1"));
    assertThat(LoadStore.key("catalog", "")).isEqualTo(new LoadStore.Key("catalog", "", ""));
  }

  @Test
  void reportsAddUpPerInstanceTargetAndServiceWithinTheWindowAndOlderOnesAreDropped() {
    TestClock clock = new TestClock();
    LoadStore store = new LoadStore(clock, Duration.ofSeconds(10), Duration.ofMinutes(5));
    store.add("n1", endpointReport("catalog/v1", "10.0.0.1", 80, 90, 10, 2, 2, 100));
    store.add("n2", endpointReport("catalog/v1", "10.0.0.1", 80, 50, 0, 1, 2, 50));
    store.add("n1", endpointReport("catalog/v2", "::1", 81, 20, 0, 0, 0, 0));
    clock.now = clock.now.plusSeconds(30);

    LoadStore.View view = store.view(Duration.ofMinutes(1));
    assertThat(view.instances()).extracting(r -> r.key().instance()).containsExactly("10.0.0.1:80", "[::1]:81");
    LoadStore.Figures v1 = view.targets().get(0).figures();
    assertThat(v1.issued()).isEqualTo(150);
    assertThat(v1.errors()).isEqualTo(10);
    assertThat(v1.errorRate()).isCloseTo(10 / 150.0, within(1e-9));
    assertThat(v1.latency()).hasValueSatisfying(l -> {
      assertThat(l.count()).isEqualTo(150);
      assertThat(l.meanMillis()).isEqualTo(3.0);
      // Every try in the bucket (2, 5] ms: the median is halfway.
      assertThat(l.p50Millis()).isCloseTo(3.5, within(1e-9));
    });
    // In flight is the last report's figure per client, summed over clients; stale after 3 buckets.
    assertThat(v1.inFlight()).isEqualTo(3);
    LoadStore.Figures service = view.services().get(0).figures();
    assertThat(service.issued()).isEqualTo(170);
    assertThat(view.targets().get(1).figures().latency()).isEmpty();

    clock.now = clock.now.plus(Duration.ofMinutes(2));
    assertThat(store.view(Duration.ofMinutes(1)).services()).isEmpty();
    assertThat(store.totals()).extracting(LoadStore.Total::issued).containsExactly(150L, 20L);
    clock.now = clock.now.plus(Duration.ofMinutes(5));
    assertThat(store.view(Duration.ofMinutes(5)).services()).isEmpty();
  }

  @Test
  void eachServiceIsAlsoKeptPerCallingServiceWithTheTriesItsAuthorizationDenied() {
    TestClock clock = new TestClock();
    LoadStore store = new LoadStore(clock);
    store.opened("frontend-1", "frontend", "meshlet");
    store.opened("payments-1", "payments", "meshlet");
    store.opened("bare-node", "", "grpc-java");
    store.add("frontend-1", endpointReport("catalog/v1", "10.0.0.1", 80, 40, 0, 0, 0, 0));
    ClusterStats refused = endpointReport("catalog/v1", "10.0.0.1", 80, 10, 0, 0, 0, 0);
    store.add("payments-1", refused.toBuilder().setUpstreamLocalityStats(0, refused.getUpstreamLocalityStats(0)
        .toBuilder().setUpstreamEndpointStats(0, refused.getUpstreamLocalityStats(0).getUpstreamEndpointStats(0)
            .toBuilder().addLoadMetricStats(EndpointLoadMetricStats.newBuilder().setMetricName(LoadMetrics.DENIED)
                .setNumRequestsFinishedWithMetric(10).setTotalMetricValue(10)))).build());
    store.add("bare-node", endpointReport("catalog/v1", "10.0.0.1", 80, 1, 1, 0, 0, 0));
    clock.now = clock.now.plusSeconds(10);

    LoadStore.View view = store.view(Duration.ofMinutes(1));
    assertThat(view.callers()).extracting(c -> c.caller().caller()).containsExactly("bare-node", "frontend", "payments");
    assertThat(view.callers()).allSatisfy(c -> assertThat(c.caller().service()).isEqualTo("catalog"));
    LoadStore.Figures payments = view.callers().get(2).figures();
    assertThat(payments.issued()).isEqualTo(10);
    assertThat(payments.denied()).isEqualTo(10);
    assertThat(payments.deniedRate()).isEqualTo(1.0);
    assertThat(view.callers().get(1).figures().denied()).isZero();
    assertThat(view.callers().get(0).figures().errorRate()).isEqualTo(0.5);
    // The service as a whole: every caller's tries, the denied ones among them.
    assertThat(view.services().get(0).figures().issued()).isEqualTo(52);
    assertThat(view.services().get(0).figures().denied()).isEqualTo(10);
    assertThat(store.callerTotals()).extracting(LoadStore.CallerTotal::denied).containsExactly(0L, 0L, 10L);
  }

  @Test
  void gRpcLocalityReportsCountUnderTheAnyInstance() {
    LoadStore store = new LoadStore(new TestClock());
    store.add("grpc", ClusterStats.newBuilder().setClusterName("echo").addUpstreamLocalityStats(
        UpstreamLocalityStats.newBuilder().setTotalIssuedRequests(7).setTotalSuccessfulRequests(6)
            .setTotalErrorRequests(1)).build());
    LoadStore.View view = store.view(Duration.ofMinutes(1));
    assertThat(view.instances()).singleElement().satisfies(r -> {
      assertThat(r.key()).isEqualTo(new LoadStore.Key("echo", "", LoadStore.ANY_INSTANCE));
      assertThat(r.figures().issued()).isEqualTo(7);
    });
  }

  @Test
  void percentilesInterpolateWithinBuckets() {
    long[] h = new long[LoadMetrics.buckets()];
    h[0] = 50; // (0, 1] ms
    h[4] = 50; // (10, 25] ms
    assertThat(LoadStore.percentile(h, 0.5)).isCloseTo(1.0, within(1e-9));
    assertThat(LoadStore.percentile(h, 0.9)).isCloseTo(10 + 15 * 0.8, within(1e-9));
    h[LoadMetrics.buckets() - 1] = 900;
    assertThat(LoadStore.percentile(h, 0.99)).isEqualTo(10_000.0);
  }
}
