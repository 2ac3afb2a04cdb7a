package io.meshlet.internal.policy;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.config.CircuitBreakerPolicy;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.ClusterConfig.LoadBalancing;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.OutlierPolicy;
import io.meshlet.transport.Outcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Zone-aware routing in the HTTP engine's picker: EDS priorities (the caller's zone at 0, the other
 * zones at 1, as the control server serves a caller of a {@code preferLocal} service) and the
 * assignment's overprovisioning factor ({@code ceil(10000 / failoverThreshold)}) decide which
 * endpoints a call may go to.
 */
class ZoneAwarePickTest {

  /** failoverThreshold 70% as the control server writes it: ceil(10000 / 70). */
  private static final int FACTOR_70 = 143;
  private static final Duration BASE = Duration.ofSeconds(30);

  private final AtomicLong now = new AtomicLong(987_654_321_000L);

  /** Ports 1xx are in zone a (priority 0), 2xx in zone b (priority 1). */
  private static List<EndpointConfig> zones(int inA, int unhealthyInA, int inB) {
    List<EndpointConfig> out = new ArrayList<>();
    for (int i = 0; i < inA; i++) {
      out.add(new EndpointConfig("10.0.0.1", 100 + i, 1, Map.of(), "a", 0, i >= unhealthyInA));
    }
    for (int i = 0; i < inB; i++) {
      out.add(new EndpointConfig("10.0.0.2", 200 + i, 1, Map.of(), "b", 1, true));
    }
    return out;
  }

  private ClusterRuntime runtime(List<EndpointConfig> endpoints, Optional<OutlierPolicy> od) {
    return ClusterRuntime.create(new ClusterConfig("c", LoadBalancing.ROUND_ROBIN, CircuitBreakerPolicy.defaults(),
        od, endpoints, List.of(), ClusterConfig.RingSize.defaults(), FACTOR_70), null, now::get,
        (cluster, endpoint, time, why) -> { });
  }

  private static Set<Integer> reachable(ClusterRuntime r) {
    Set<Integer> ports = new TreeSet<>();
    for (int i = 0; i < 200; i++) {
      ports.add(r.pick(null, Set.of()).config().port());
    }
    return ports;
  }

  @Test
  void whileTheLocalZoneIsHealthyCallsStayInIt() {
    assertThat(reachable(runtime(zones(3, 0, 3), Optional.empty()))).containsExactly(100, 101, 102);
  }

  @Test
  void atTheThresholdCallsStayInTheZoneAndBelowItTheySpreadOverEveryHealthyEndpoint() {
    // 7 of 10 healthy is 70%: stays. 6 of 10: every healthy endpoint of both zones.
    assertThat(reachable(runtime(zones(10, 3, 2), Optional.empty()))).containsExactly(103, 104, 105, 106, 107, 108, 109);
    assertThat(reachable(runtime(zones(10, 4, 2), Optional.empty())))
        .containsExactly(104, 105, 106, 107, 108, 109, 200, 201);
  }

  @Test
  void ejectedEndpointsCountAsUnhealthyAndCallsComeBackWhenTheirEjectionEnds() {
    OutlierPolicy od = new OutlierPolicy(1, 0, Duration.ofSeconds(10), BASE, 100, Optional.empty());
    ClusterRuntime r = runtime(zones(2, 0, 2), Optional.of(od));
    r.record(r.endpoints().get(0), Outcome.ofStatus(503));
    assertThat(reachable(r)).as("1 of 2 in zone a left: 50%% < 70%%").containsExactly(101, 200, 201);

    now.addAndGet(BASE.toNanos() + 1);
    assertThat(reachable(r)).as("the ejection over").containsExactly(100, 101);
  }

  @Test
  void aRetryAfterEveryLocalEndpointWasTriedGoesToAnotherZone() {
    ClusterRuntime r = runtime(zones(2, 0, 2), Optional.empty());
    Set<EndpointState> tried = new HashSet<>(r.endpoints().subList(0, 2));

    assertThat(r.pick(null, tried).config().zone()).isEqualTo("b");
    assertThat(r.pick(null, Set.of(r.endpoints().get(0))).config().port()).as("one local left untried").isEqualTo(101);
  }

  @Test
  void withoutPrioritiesEveryZoneIsAlike() {
    List<EndpointConfig> all = new ArrayList<>();
    for (EndpointConfig e : zones(2, 0, 2)) {
      all.add(new EndpointConfig(e.host(), e.port(), 1, Map.of(), e.zone(), 0, true));
    }
    assertThat(reachable(runtime(all, Optional.empty()))).containsExactly(100, 101, 200, 201);
  }

  @Test
  void aLocalZoneWithNoHealthyEndpointSpillsEvenUnderAFactorThatWouldForgiveIt() {
    List<EndpointConfig> endpoints = zones(1, 1, 2);
    ClusterRuntime r = ClusterRuntime.create(new ClusterConfig("c", LoadBalancing.ROUND_ROBIN,
        CircuitBreakerPolicy.defaults(), Optional.empty(), endpoints, List.of(), ClusterConfig.RingSize.defaults(),
        10_000), null, now::get, (cluster, endpoint, time, why) -> { });
    assertThat(reachable(r)).containsExactly(200, 201);
  }
}
