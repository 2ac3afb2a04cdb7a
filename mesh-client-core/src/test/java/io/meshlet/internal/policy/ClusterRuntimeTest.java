package io.meshlet.internal.policy;

import io.meshlet.MeshRejection;
import io.meshlet.UnknownServiceException;
import io.meshlet.transport.Outcome;
import io.meshlet.transport.ResponseInfo;
import io.meshlet.transport.TryPlan;
import io.meshlet.transport.TrySender;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.meshlet.config.CircuitBreakerPolicy;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.ClusterConfig.LoadBalancing;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.OutlierPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ClusterRuntimeTest {

  private static final Duration BASE = Duration.ofSeconds(30);
  private static final Duration INTERVAL = Duration.ofSeconds(10);

  /** Time as the runtime sees it; starts where System.nanoTime() typically is, far from 0. */
  private final AtomicLong now = new AtomicLong(987_654_321_000L);
  private final List<String> ejections = Collections.synchronizedList(new ArrayList<>());
  private final io.meshlet.internal.telemetry.ClusterEvents sink = (cluster, endpoint, time, why) ->
      ejections.add(cluster + " " + endpoint.address() + " " + time.toSeconds() + "s: " + why);

  static EndpointConfig endpoint(int port) {
    return endpoint(port, 1);
  }

  static EndpointConfig endpoint(int port, int weight) {
    return new EndpointConfig("10.0.0.1", port, weight, Map.of());
  }

  static List<EndpointConfig> endpoints(int n) {
    List<EndpointConfig> out = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      out.add(endpoint(i));
    }
    return out;
  }

  private ClusterRuntime runtime(LoadBalancing lb, List<EndpointConfig> endpoints) {
    return runtime(lb, CircuitBreakerPolicy.defaults(), Optional.empty(), endpoints);
  }

  private ClusterRuntime runtime(OutlierPolicy od, List<EndpointConfig> endpoints) {
    return runtime(LoadBalancing.ROUND_ROBIN, CircuitBreakerPolicy.defaults(), Optional.of(od), endpoints);
  }

  private ClusterRuntime runtime(LoadBalancing lb, CircuitBreakerPolicy limits, Optional<OutlierPolicy> od,
      List<EndpointConfig> endpoints) {
    return ClusterRuntime.create(new ClusterConfig("c", lb, limits, od, endpoints), null, now::get, sink);
  }

  static OutlierPolicy consecutive5xx(int n, int maxEjectionPercent) {
    return new OutlierPolicy(n, 0, INTERVAL, BASE, maxEjectionPercent, Optional.empty());
  }

  private Map<Integer, Integer> picks(ClusterRuntime r, int n) {
    Map<Integer, Integer> counts = new HashMap<>();
    for (int i = 0; i < n; i++) {
      counts.merge(r.pick(null, Set.of()).config().port(), 1, Integer::sum);
    }
    return counts;
  }

  private Set<Integer> reachable(ClusterRuntime r) {
    return picks(r, 200).keySet();
  }

  private static void fail(ClusterRuntime r, EndpointState e, int times, Outcome outcome) {
    for (int i = 0; i < times; i++) {
      r.record(e, outcome);
    }
  }

  private void advance(Duration d) {
    now.addAndGet(d.toNanos());
  }

  // ---- load balancing ----

  @Test
  void roundRobinVisitsEachEndpointInTurn() {
    ClusterRuntime r = runtime(LoadBalancing.ROUND_ROBIN, endpoints(3));

    assertThat(picks(r, 300)).containsOnly(Map.entry(1, 100), Map.entry(2, 100), Map.entry(3, 100));
  }

  @Test
  void endpointWeightsSkewThePick() {
    ClusterRuntime r = runtime(LoadBalancing.ROUND_ROBIN, List.of(endpoint(1, 1), endpoint(2, 3)));

    // 20000 picks, p = 0.25: 5 standard deviations is 5 * 61.
    assertThat(picks(r, 20_000).get(1)).isCloseTo(5_000, within(306));
  }

  @Test
  void randomReachesEveryEndpointEvenly() {
    ClusterRuntime r = runtime(LoadBalancing.RANDOM, endpoints(4));

    Map<Integer, Integer> counts = picks(r, 20_000);

    assertThat(counts).containsOnlyKeys(1, 2, 3, 4);
    counts.values().forEach(c -> assertThat(c).isCloseTo(5_000, within(306)));
  }

  @Test
  void leastRequestPrefersTheLessBusyEndpoint() {
    ClusterRuntime r = runtime(LoadBalancing.LEAST_REQUEST, endpoints(2));
    r.endpoints().get(0).active.set(5);

    // Power of two choices: the busy one wins only when both draws pick it, 1 time in 4.
    assertThat(picks(r, 4_000).get(2)).isCloseTo(3_000, within(137));
  }

  @Test
  void ringHashSendsAKeyToOneEndpointAndSpreadsKeys() {
    ClusterRuntime r = runtime(LoadBalancing.RING_HASH, endpoints(3));

    for (int k = 0; k < 100; k++) {
      String key = "user-" + k;
      int first = r.pick(key, Set.of()).config().port();
      for (int i = 0; i < 5; i++) {
        assertThat(r.pick(key, Set.of()).config().port()).isEqualTo(first);
      }
    }
    Map<Integer, Integer> owners = new HashMap<>();
    for (int k = 0; k < 3_000; k++) {
      owners.merge(r.pick("user-" + k, Set.of()).config().port(), 1, Integer::sum);
    }
    assertThat(owners).containsOnlyKeys(1, 2, 3);
    owners.values().forEach(c -> assertThat(c).isGreaterThan(600));
  }

  @Test
  void ringHashMovesFewKeysWhenAnEndpointIsAdded() {
    ClusterRuntime three = runtime(LoadBalancing.RING_HASH, endpoints(3));
    ClusterRuntime four = ClusterRuntime.create(
        new ClusterConfig("c", LoadBalancing.RING_HASH, CircuitBreakerPolicy.defaults(), Optional.empty(),
            endpoints(4)), three, now::get, sink);

    int same = 0;
    for (int k = 0; k < 2_000; k++) {
      String key = "user-" + k;
      if (three.pick(key, Set.of()).config().equals(four.pick(key, Set.of()).config())) {
        same++;
      }
    }

    // Ideally 3 in 4 keys stay; fewer do as each endpoint's share of the 1024 points shrinks
    // (Envoy's ring behaves alike). A modulo hash would keep 1 in 4.
    assertThat(same).isGreaterThan(1_100);
  }

  @Test
  void ringHashMovesAKeyOffAnEjectedEndpointAndBack() {
    ClusterRuntime r = runtime(LoadBalancing.RING_HASH, CircuitBreakerPolicy.defaults(),
        Optional.of(consecutive5xx(1, 100)), endpoints(3));
    EndpointState owner = r.pick("user-1", Set.of());

    r.record(owner, Outcome.GATEWAY_ERROR);

    assertThat(r.pick("user-1", Set.of())).isNotSameAs(owner);
    advance(BASE);
    assertThat(r.pick("user-1", Set.of())).isSameAs(owner);
  }

  @Test
  void theRingIsBuiltAsGrpcJavaBuildsIt() {
    ClusterConfig.RingSize sizes = ClusterConfig.RingSize.defaults();

    // Three equal endpoints: ceil(1024 / 3) = 342 entries each.
    long[][] ring = ClusterRuntime.buildRing(endpoints(3), sizes);
    assertThat(ring[0]).hasSize(1026).isSorted();
    Map<Long, Integer> perEndpoint = new HashMap<>();
    for (long owner : ring[1]) {
      perEndpoint.merge(owner, 1, Integer::sum);
    }
    assertThat(perEndpoint).containsOnly(Map.entry(0L, 342), Map.entry(1L, 342), Map.entry(2L, 342));
    // Entries are the xxHash64 of "<address as grpc-java prints it>_<n>".
    assertThat(ring[0]).contains(XxHash64.hashAscii("/10.0.0.1:1_0"), XxHash64.hashAscii("/10.0.0.1:3_341"));

    // Weights 1 and 3: the lighter gets 1024 * 1/4 = 256 entries, the heavier three times that.
    long[][] weighted = ClusterRuntime.buildRing(List.of(endpoint(1, 1), endpoint(2, 3)), sizes);
    assertThat(weighted[0]).hasSize(1024);
    assertThat(java.util.Arrays.stream(weighted[1]).filter(o -> o == 0).count()).isEqualTo(256);

    // A weight share that needs more than max_ring_size entries is scaled down to it.
    long[][] capped = ClusterRuntime.buildRing(List.of(endpoint(1, 1), endpoint(2, 10_000)), sizes);
    assertThat(capped[0].length).isEqualTo(4096);
  }

  @Test
  void anEndpointIsOnTheRingByTheAddressGrpcJavaPrints() {
    assertThat(ClusterRuntime.ringKey(new EndpointConfig("127.0.0.1", 9001, 1, Map.of()))).isEqualTo("/127.0.0.1:9001");
    assertThat(ClusterRuntime.ringKey(new EndpointConfig("::1", 9001, 1, Map.of())))
        .isEqualTo("/0:0:0:0:0:0:0:1:9001");
    assertThat(ClusterRuntime.ringKey(new EndpointConfig("catalog.internal", 80, 1, Map.of())))
        .isEqualTo("catalog.internal:80");
  }

  @Test
  void aRequestHashLandsOnTheEntryGrpcJavasSearchFinds() {
    java.util.Random random = new java.util.Random(42);
    for (int size : new int[] {1, 2, 3, 7, 1026}) {
      long[] ring = new long[size];
      for (int i = 0; i < size; i++) {
        ring[i] = random.nextLong();
      }
      java.util.Arrays.sort(ring);
      List<Long> hashes = new ArrayList<>(List.of(Long.MIN_VALUE, -1L, 0L, 1L, Long.MAX_VALUE,
          ring[0], ring[0] - 1, ring[size - 1], ring[size - 1] + 1));
      for (int i = 0; i < 2_000; i++) {
        hashes.add(random.nextLong());
      }
      for (long h : hashes) {
        assertThat(ClusterRuntime.ringIndex(ring, h)).as("ring of %d, hash %d", size, h)
            .isEqualTo(grpcJavaTargetIndex(ring, h));
      }
    }
  }

  /** grpc-java's RingHashLoadBalancer.RingHashPicker.getTargetIndex (1.85), as written there. */
  private static int grpcJavaTargetIndex(long[] ring, long requestHash) {
    if (ring.length <= 1) {
      return 0;
    }
    int low = 0;
    int high = ring.length - 1;
    int mid = (low + high) / 2;
    do {
      long midVal = ring[mid];
      long midValL = mid == 0 ? 0 : ring[mid - 1];
      if (requestHash <= midVal && requestHash > midValL) {
        break;
      }
      if (midVal < requestHash) {
        low = mid + 1;
      } else {
        high = mid - 1;
      }
      mid = (low + high) / 2;
    } while (mid < ring.length && low <= high);
    return mid;
  }

  @Test
  void aRetryAvoidsTriedEndpointsWhileThereAreOthers() {
    ClusterRuntime r = runtime(LoadBalancing.RANDOM, endpoints(3));
    Set<EndpointState> tried = new HashSet<>(r.endpoints().subList(0, 2));

    for (int i = 0; i < 50; i++) {
      assertThat(r.pick(null, tried)).isSameAs(r.endpoints().get(2));
    }
    tried.add(r.endpoints().get(2));
    assertThat(reachableWith(r, tried)).containsExactlyInAnyOrder(1, 2, 3);
  }

  private static Set<Integer> reachableWith(ClusterRuntime r, Set<EndpointState> tried) {
    Set<Integer> ports = new HashSet<>();
    for (int i = 0; i < 200; i++) {
      ports.add(r.pick(null, tried).config().port());
    }
    return ports;
  }

  @Test
  void aClusterWithoutEndpointsPicksNothing() {
    assertThat(runtime(LoadBalancing.ROUND_ROBIN, List.of()).pick(null, Set.of())).isNull();
    assertThat(runtime(LoadBalancing.RING_HASH, List.of()).pick("k", Set.of())).isNull();
  }

  // ---- limits ----

  @Test
  void requestSlotsAreLimitedAndGivenBack() {
    ClusterRuntime r = runtime(LoadBalancing.ROUND_ROBIN, new CircuitBreakerPolicy(2, 0, 3), Optional.empty(),
        endpoints(1));

    assertThat(r.tryAcquire()).isTrue();
    assertThat(r.tryAcquire()).isTrue();
    assertThat(r.tryAcquire()).isFalse();
    r.release();
    assertThat(r.tryAcquire()).isTrue();
  }

  @Test
  void retrySlotsAreTheRetryBudget() {
    ClusterRuntime r = runtime(LoadBalancing.ROUND_ROBIN, new CircuitBreakerPolicy(10, 0, 1), Optional.empty(),
        endpoints(1));

    assertThat(r.tryRetry()).isTrue();
    assertThat(r.tryRetry()).isFalse();
    r.retryDone();
    assertThat(r.tryRetry()).isTrue();
  }

  @Test
  void limitsInFlightCarryOverToTheNextVersionOfTheCluster() {
    CircuitBreakerPolicy limits = new CircuitBreakerPolicy(1, 0, 1);
    ClusterRuntime v1 = runtime(LoadBalancing.ROUND_ROBIN, limits, Optional.empty(), endpoints(1));
    assertThat(v1.tryAcquire()).isTrue();
    assertThat(v1.tryRetry()).isTrue();

    ClusterRuntime v2 = ClusterRuntime.create(new ClusterConfig("c", LoadBalancing.ROUND_ROBIN, limits,
        Optional.empty(), endpoints(2)), v1, now::get, sink);

    assertThat(v2.tryAcquire()).isFalse();
    assertThat(v2.tryRetry()).isFalse();
    v1.release();
    v1.retryDone();
    assertThat(v2.tryAcquire()).isTrue();
    assertThat(v2.tryRetry()).isTrue();
  }

  // ---- outlier detection ----

  @ParameterizedTest
  @ValueSource(longs = {0L, 1L, 987_654_321_000L, Long.MAX_VALUE, -1L, Long.MIN_VALUE + 1})
  void aNewEndpointIsNotEjectedWhateverTheClockReads(long nanoTime) {
    // System.nanoTime() is any long; "never ejected" must not wrap into "ejected".
    assertThat(new EndpointState(endpoint(1)).ejected(nanoTime)).isFalse();
  }

  @Test
  void consecutiveFailuresEjectAnEndpoint() {
    ClusterRuntime r = runtime(consecutive5xx(3, 50), endpoints(2));
    EndpointState bad = r.endpoints().get(0);

    fail(r, bad, 2, Outcome.SERVER_ERROR);
    assertThat(reachable(r)).containsExactlyInAnyOrder(1, 2);

    r.record(bad, Outcome.CONNECT_FAILURE);
    assertThat(bad.ejected(now.get())).isTrue();
    assertThat(reachable(r)).containsExactly(2);
    assertThat(ejections).containsExactly("c 10.0.0.1:1 30s: 3 consecutive errors");
  }

  @Test
  void aSuccessResetsTheCount() {
    ClusterRuntime r = runtime(consecutive5xx(3, 50), endpoints(2));
    EndpointState e = r.endpoints().get(0);

    fail(r, e, 2, Outcome.GATEWAY_ERROR);
    r.record(e, Outcome.RESPONSE);
    fail(r, e, 2, Outcome.GATEWAY_ERROR);

    assertThat(e.ejected(now.get())).isFalse();
    assertThat(ejections).isEmpty();
  }

  @Test
  void consecutiveGatewayFailuresCountOnly502to504AndLocalFailures() {
    OutlierPolicy od = new OutlierPolicy(0, 2, INTERVAL, BASE, 100, Optional.empty());
    ClusterRuntime r = runtime(od, endpoints(2));
    EndpointState e = r.endpoints().get(0);

    r.record(e, Outcome.GATEWAY_ERROR);
    r.record(e, Outcome.SERVER_ERROR); // a 500 resets the gateway count
    r.record(e, Outcome.GATEWAY_ERROR);
    assertThat(e.ejected(now.get())).isFalse();

    r.record(e, Outcome.TIMEOUT);
    assertThat(e.ejected(now.get())).isTrue();
    assertThat(ejections).containsExactly("c 10.0.0.1:1 30s: 2 consecutive gateway failures");
  }

  @Test
  void noMoreThanMaxEjectionPercentOfTheEndpointsAreEjected() {
    ClusterRuntime r = runtime(consecutive5xx(3, 50), endpoints(4));

    for (EndpointState e : r.endpoints()) {
      fail(r, e, 3, Outcome.GATEWAY_ERROR);
    }

    assertThat(r.endpoints().stream().filter(e -> e.ejected(now.get()))).hasSize(2);
    assertThat(reachable(r)).hasSize(2);
    assertThat(ejections).hasSize(2);
  }

  @Test
  void maxEjectionPercentZeroEjectsNothing() {
    ClusterRuntime r = runtime(consecutive5xx(1, 0), endpoints(2));

    fail(r, r.endpoints().get(0), 5, Outcome.GATEWAY_ERROR);

    assertThat(reachable(r)).containsExactlyInAnyOrder(1, 2);
  }

  @Test
  void whenEveryEndpointIsEjectedAllAreUsedAgain() {
    // Envoy's panic mode.
    ClusterRuntime r = runtime(consecutive5xx(1, 100), endpoints(2));

    fail(r, r.endpoints().get(0), 1, Outcome.GATEWAY_ERROR);
    fail(r, r.endpoints().get(1), 1, Outcome.GATEWAY_ERROR);

    assertThat(r.endpoints()).allSatisfy(e -> assertThat(e.ejected(now.get())).isTrue());
    assertThat(reachable(r)).containsExactlyInAnyOrder(1, 2);
  }

  @Test
  void anEjectedEndpointReturnsAfterTheBaseEjectionTime() {
    ClusterRuntime r = runtime(consecutive5xx(3, 50), endpoints(2));
    EndpointState e = r.endpoints().get(0);
    fail(r, e, 3, Outcome.GATEWAY_ERROR);

    advance(BASE.minusNanos(1));
    assertThat(e.ejected(now.get())).isTrue();
    advance(Duration.ofNanos(1));
    assertThat(e.ejected(now.get())).isFalse();
    assertThat(reachable(r)).containsExactlyInAnyOrder(1, 2);
  }

  @Test
  void aSecondEjectionLastsTwiceAsLong() {
    ClusterRuntime r = runtime(consecutive5xx(3, 50), endpoints(2));
    EndpointState e = r.endpoints().get(0);
    fail(r, e, 3, Outcome.GATEWAY_ERROR);
    advance(BASE);

    fail(r, e, 3, Outcome.GATEWAY_ERROR);

    assertThat(ejections).containsExactly("c 10.0.0.1:1 30s: 3 consecutive errors",
        "c 10.0.0.1:1 60s: 3 consecutive errors");
    advance(BASE.multipliedBy(2).minusNanos(1));
    assertThat(e.ejected(now.get())).isTrue();
    advance(Duration.ofNanos(1));
    assertThat(e.ejected(now.get())).isFalse();
  }

  @Test
  void theEjectionMultiplierDecaysOnceAnIntervalWhileTheEndpointIsHealthy() {
    ClusterRuntime r = runtime(consecutive5xx(1, 50), endpoints(2));
    EndpointState e = r.endpoints().get(0);
    fail(r, e, 1, Outcome.GATEWAY_ERROR); // 30 s
    advance(BASE);
    fail(r, e, 1, Outcome.GATEWAY_ERROR); // 60 s
    advance(BASE.multipliedBy(2));

    advance(INTERVAL.multipliedBy(2));
    fail(r, e, 1, Outcome.GATEWAY_ERROR);

    assertThat(ejections).extracting(s -> s.substring(0, s.indexOf(": ")))
        .containsExactly("c 10.0.0.1:1 30s", "c 10.0.0.1:1 60s", "c 10.0.0.1:1 30s");
  }

  @Test
  void ejectionTimeGrowsUpTo300SecondsOrTheBaseTimeIfLonger() {
    OutlierPolicy od = consecutive5xx(1, 50);

    assertThat(ClusterRuntime.ejectionTime(od, 1)).isEqualTo(BASE);
    assertThat(ClusterRuntime.ejectionTime(od, 3)).isEqualTo(Duration.ofSeconds(90));
    assertThat(ClusterRuntime.ejectionTime(od, 10)).isEqualTo(Duration.ofSeconds(300));
    assertThat(ClusterRuntime.ejectionTime(od, 1_000_000)).isEqualTo(Duration.ofSeconds(300));
    OutlierPolicy longBase = new OutlierPolicy(1, 0, INTERVAL, Duration.ofMinutes(10), 50, Optional.empty());
    assertThat(ClusterRuntime.ejectionTime(longBase, 4)).isEqualTo(Duration.ofMinutes(10));
  }

  @Test
  void repeatedEjectionsAreCappedAt300Seconds() {
    OutlierPolicy od = consecutive5xx(1, 50);
    ClusterRuntime r = runtime(od, endpoints(2));
    EndpointState e = r.endpoints().get(0);

    for (int i = 1; i <= 15; i++) {
      fail(r, e, 1, Outcome.GATEWAY_ERROR); // fails again as soon as it is back: no decay
      advance(ClusterRuntime.ejectionTime(od, i));
    }

    assertThat(ejections).last().asString().startsWith("c 10.0.0.1:1 300s");
  }

  @Test
  void failurePercentageEjectsEndpointsFailingTooOftenInAnInterval() {
    OutlierPolicy od = new OutlierPolicy(0, 0, INTERVAL, BASE, 100,
        Optional.of(new OutlierPolicy.FailurePercentage(50, 2, 10)));
    ClusterRuntime r = runtime(od, endpoints(3));
    List<EndpointState> eps = r.endpoints();
    r.pick(null, Set.of()); // starts the first interval

    for (int i = 0; i < 10; i++) {
      r.record(eps.get(0), i < 6 ? Outcome.GATEWAY_ERROR : Outcome.RESPONSE); // 60%: ejected
      r.record(eps.get(1), i < 4 ? Outcome.GATEWAY_ERROR : Outcome.RESPONSE); // 40%: kept
    }
    fail(r, eps.get(2), 9, Outcome.GATEWAY_ERROR); // too few requests to judge
    assertThat(eps.get(0).ejected(now.get())).as("not before the interval ends").isFalse();

    advance(INTERVAL);
    r.pick(null, Set.of());

    assertThat(ejections).containsExactly("c 10.0.0.1:1 30s: 60% of 10 requests failed");
  }

  @Test
  void failurePercentageJudgesNothingWithTooFewBusyEndpoints() {
    OutlierPolicy od = new OutlierPolicy(0, 0, INTERVAL, BASE, 100,
        Optional.of(new OutlierPolicy.FailurePercentage(50, 2, 10)));
    ClusterRuntime r = runtime(od, endpoints(2));
    r.pick(null, Set.of());

    fail(r, r.endpoints().get(0), 10, Outcome.GATEWAY_ERROR);
    advance(INTERVAL);
    r.pick(null, Set.of());

    assertThat(ejections).isEmpty();
  }

  @Test
  void endpointStateSurvivesAConfigUpdateForEndpointsThatStay() {
    ClusterRuntime v1 = runtime(consecutive5xx(1, 50), endpoints(3));
    EndpointState ejected = v1.endpoints().get(0);
    fail(v1, ejected, 1, Outcome.GATEWAY_ERROR);

    ClusterRuntime v2 = ClusterRuntime.create(new ClusterConfig("c", LoadBalancing.ROUND_ROBIN,
        CircuitBreakerPolicy.defaults(), Optional.of(consecutive5xx(1, 50)),
        List.of(endpoint(1), endpoint(3), endpoint(4))), v1, now::get, sink);

    assertThat(v2.endpoints().get(0)).isSameAs(ejected);
    assertThat(v2.endpoints().get(1)).isSameAs(v1.endpoints().get(2));
    assertThat(reachable(v2)).containsExactlyInAnyOrder(3, 4);
  }

  @Test
  void withoutOutlierDetectionNothingIsEjected() {
    ClusterRuntime r = runtime(LoadBalancing.ROUND_ROBIN, endpoints(2));

    fail(r, r.endpoints().get(0), 100, Outcome.GATEWAY_ERROR);

    assertThat(reachable(r)).containsExactlyInAnyOrder(1, 2);
    assertThat(ejections).isEmpty();
  }
}
