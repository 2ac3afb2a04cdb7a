package io.meshlet.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.meshlet.config.CircuitBreakerPolicy;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.FaultPolicy;
import io.meshlet.config.MeshSnapshot;
import io.meshlet.config.OutlierPolicy;
import io.meshlet.config.RateLimitPolicy;
import io.meshlet.config.RequestMatch;
import io.meshlet.config.RequestMatch.HeaderCondition;
import io.meshlet.config.RetryPolicy;
import io.meshlet.config.RetryPolicy.RetryOn;
import io.meshlet.config.RouteRule;
import io.meshlet.config.RouteTable;
import java.io.IOException;
import java.net.ConnectException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PolicyEngineTest {

  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final PolicyEngine engine = new PolicyEngine(now::get, Telemetry.noop());

  /** A fake transport: answers each try with the next status, or throws; records endpoints. */
  static final class Script implements Attempt<Integer> {
    final List<Object> answers;
    final List<Try> tries = new ArrayList<>();

    Script(Object... answers) {
      this.answers = new ArrayList<>(List.of(answers));
    }

    @Override
    public Integer send(Try t) throws IOException {
      tries.add(t);
      Object next = answers.size() > 1 ? answers.remove(0) : answers.get(0);
      if (next instanceof IOException e) {
        throw e;
      }
      return (Integer) next;
    }
  }

  static final ResponseInfo<Integer> STATUS = new ResponseInfo<>() {
    @Override
    public int status(Integer response) {
      return response;
    }

    @Override
    public void discard(Integer response) {}
  };

  static EndpointConfig endpoint(int port) {
    return new EndpointConfig("127.0.0.1", port, 1, Map.of());
  }

  static RouteRule rule(String name, RequestMatch match, String cluster, Optional<RetryPolicy> retry) {
    return new RouteRule(name, match, List.of(new RouteRule.WeightedCluster(cluster, 1)), Optional.empty(),
        retry, Optional.empty(), Optional.empty(), Optional.empty());
  }

  static RetryPolicy retries(int n, RetryOn... on) {
    return new RetryPolicy(n, Set.of(on), Set.of(), Optional.empty(), Duration.ofMillis(1), Duration.ofMillis(2));
  }

  void install(List<RouteRule> rules, ClusterConfig... clusters) {
    Map<String, ClusterConfig> byName = new HashMap<>();
    for (ClusterConfig c : clusters) {
      byName.put(c.name(), c);
    }
    engine.update(new MeshSnapshot(Map.of("svc", new RouteTable("svc", rules)), byName, "v1", Instant.EPOCH));
  }

  static ClusterConfig cluster(String name, Optional<OutlierPolicy> outlier, CircuitBreakerPolicy limits,
      EndpointConfig... endpoints) {
    return new ClusterConfig(name, ClusterConfig.LoadBalancing.ROUND_ROBIN, limits, outlier, List.of(endpoints));
  }

  @Test
  void firstMatchingRouteWinsAndHeadersMustAllHold() throws Exception {
    install(List.of(
            rule("canary", new RequestMatch(RequestMatch.PathKind.PREFIX, "/api", List.of(
                new HeaderCondition("x-canary", HeaderCondition.Kind.EXACT, "true", false),
                new HeaderCondition("x-user", HeaderCondition.Kind.REGEX, "u[0-9]+", false))), "b", Optional.empty()),
            rule("not-debug", new RequestMatch(RequestMatch.PathKind.EXACT, "/api/x", List.of(
                new HeaderCondition("x-debug", HeaderCondition.Kind.PRESENT, "", true))), "a", Optional.empty()),
            rule("rest", RequestMatch.any(), "c", Optional.empty())),
        cluster("a", Optional.empty(), CircuitBreakerPolicy.defaults(), endpoint(1)),
        cluster("b", Optional.empty(), CircuitBreakerPolicy.defaults(), endpoint(2)),
        cluster("c", Optional.empty(), CircuitBreakerPolicy.defaults(), endpoint(3)));
    Map<String, String> headers = new HashMap<>(Map.of("x-canary", "true", "x-user", "u42"));
    assertThat(engine.route("svc", "/api/x", headers::get).rule().name()).isEqualTo("canary");
    headers.put("x-user", "u42x");
    assertThat(engine.route("svc", "/api/x", headers::get).rule().name()).isEqualTo("not-debug");
    headers.put("x-debug", "1");
    assertThat(engine.route("svc", "/api/x", headers::get).rule().name()).isEqualTo("rest");
  }

  @Test
  void unknownServiceNamesTheKnownOnes() {
    install(List.of(rule("r", RequestMatch.any(), "a", Optional.empty())),
        cluster("a", Optional.empty(), CircuitBreakerPolicy.defaults(), endpoint(1)));
    UnknownServiceException e = catchThrowableOfType(UnknownServiceException.class,
        () -> engine.route("svcc", "/", h -> null));
    assertThat(e).hasMessage("service 'svcc' is not in the mesh (known: svc)");
  }

  @ParameterizedTest(name = "{0} with {1} -> {2}")
  @CsvSource({
      "SERVER_ERROR,    FIVE_XX,         true",
      "SERVER_ERROR,    GATEWAY_ERROR,   false",
      "GATEWAY_ERROR,   GATEWAY_ERROR,   true",
      "CONNECT_FAILURE, CONNECT_FAILURE, true",
      "CONNECT_FAILURE, RESET,           true",
      "RESET,           CONNECT_FAILURE, false",
      "RESET,           FIVE_XX,         true",
      "TIMEOUT,         RESET,           true",
      "TIMEOUT,         CONNECT_FAILURE, false",
      "REFUSED_STREAM,  REFUSED_STREAM,  true",
      "RESPONSE,        FIVE_XX,         false",
      "GATEWAY_ERROR,   UNAVAILABLE,     false",
  })
  void retryConditionsFollowEnvoy(Outcome outcome, RetryOn on, boolean retried) {
    assertThat(PolicyEngine.retriable(retries(1, on), outcome, outcome == Outcome.GATEWAY_ERROR ? 503 : 500))
        .isEqualTo(retried);
  }

  @Test
  void retriableStatusCodesAnd409() {
    RetryPolicy p = new RetryPolicy(1, Set.of(RetryOn.RETRIABLE_STATUS_CODES, RetryOn.RETRIABLE_4XX), Set.of(429),
        Optional.empty(), Duration.ofMillis(1), Duration.ofMillis(1));
    assertThat(PolicyEngine.retriable(p, Outcome.RESPONSE, 429)).isTrue();
    assertThat(PolicyEngine.retriable(p, Outcome.RESPONSE, 409)).isTrue();
    assertThat(PolicyEngine.retriable(p, Outcome.RESPONSE, 404)).isFalse();
  }

  @Test
  void backoffIsFullyJitteredBelowTheExponentialCap() {
    RetryPolicy p = new RetryPolicy(5, Set.of(RetryOn.FIVE_XX), Set.of(), Optional.empty(),
        Duration.ofMillis(25), Duration.ofMillis(250));
    for (int n = 1; n <= 6; n++) {
      long cap = Math.min(25L << (n - 1), 250) * 1_000_000L;
      for (int i = 0; i < 200; i++) {
        assertThat(PolicyEngine.backoffNanos(p, n)).isBetween(0L, cap - 1);
      }
    }
  }

  @Test
  void retriesMoveToAnotherEndpointAndReturnTheSuccess() throws Exception {
    install(List.of(rule("r", RequestMatch.any(), "a", Optional.of(retries(2, RetryOn.FIVE_XX)))),
        cluster("a", Optional.empty(), CircuitBreakerPolicy.defaults(), endpoint(1), endpoint(2)));
    Script script = new Script(503, 200);
    int status = engine.execute(engine.route("svc", "/", h -> null), null, true, script, STATUS);
    assertThat(status).isEqualTo(200);
    assertThat(script.tries).extracting(t -> t.endpoint().port()).doesNotHaveDuplicates().hasSize(2);
    assertThat(script.tries).extracting(Try::number).containsExactly(1, 2);
  }

  @Test
  void exhaustedRetriesReturnTheLastResponseOrThrowTheLastFailureWithTheEarlierOnes() throws Exception {
    install(List.of(rule("r", RequestMatch.any(), "a", Optional.of(retries(2, RetryOn.FIVE_XX)))),
        cluster("a", Optional.empty(), CircuitBreakerPolicy.defaults(), endpoint(1)));
    Script failing = new Script(503);
    assertThat(engine.execute(engine.route("svc", "/", h -> null), null, true, failing, STATUS)).isEqualTo(503);
    assertThat(failing.tries).hasSize(3);

    Script refusing = new Script(new ConnectException("refused 1"), new ConnectException("refused 2"),
        new ConnectException("refused 3"));
    ConnectException e = catchThrowableOfType(ConnectException.class,
        () -> engine.execute(engine.route("svc", "/", h -> null), null, true, refusing, STATUS));
    assertThat(e).hasMessage("refused 3");
    assertThat(e.getSuppressed()).singleElement().satisfies(s -> {
      assertThat(s).hasMessage("refused 1");
      assertThat(s.getSuppressed()).singleElement().satisfies(s2 -> assertThat(s2).hasMessage("refused 2"));
    });
  }

  @Test
  void requestsThatCannotBeReplayedAreNotRetried() throws Exception {
    install(List.of(rule("r", RequestMatch.any(), "a", Optional.of(retries(3, RetryOn.FIVE_XX)))),
        cluster("a", Optional.empty(), CircuitBreakerPolicy.defaults(), endpoint(1)));
    Script script = new Script(503);
    assertThat(engine.execute(engine.route("svc", "/", h -> null), null, false, script, STATUS)).isEqualTo(503);
    assertThat(script.tries).hasSize(1);
  }

  @Test
  void retryBudgetOfZeroStopsRetries() throws Exception {
    install(List.of(rule("r", RequestMatch.any(), "a", Optional.of(retries(3, RetryOn.FIVE_XX)))),
        cluster("a", Optional.empty(), new CircuitBreakerPolicy(10, 10, 0), endpoint(1)));
    Script script = new Script(503);
    assertThat(engine.execute(engine.route("svc", "/", h -> null), null, true, script, STATUS)).isEqualTo(503);
    assertThat(script.tries).hasSize(1);
  }

  @Test
  void aCallAboveTheCircuitBreakerIsAnsweredOverloaded() throws Exception {
    install(List.of(rule("r", RequestMatch.any(), "a", Optional.empty())),
        cluster("a", Optional.empty(), new CircuitBreakerPolicy(1, 0, 3), endpoint(1)));
    PolicyEngine.Route route = engine.route("svc", "/", h -> null);
    MeshRejection[] inner = new MeshRejection[1];
    engine.execute(route, null, true, t -> {
      inner[0] = catchThrowableOfType(MeshRejection.class,
          () -> engine.execute(route, null, true, t2 -> 200, STATUS));
      return 200;
    }, STATUS);
    assertThat(inner[0].status()).isEqualTo(503);
    assertThat(inner[0].reason()).isEqualTo(MeshRejection.Reason.OVERLOADED);
    assertThat(inner[0]).hasMessage("cluster 'a' is at its limit of 1 requests in flight");
    // The slot is free again afterwards.
    assertThat(engine.execute(route, null, true, t -> 200, STATUS)).isEqualTo(200);
  }

  @Test
  void faultsAndRateLimitsAreAnsweredByTheMesh() throws Exception {
    RouteRule aborting = new RouteRule("abort", RequestMatch.any(), List.of(new RouteRule.WeightedCluster("a", 1)),
        Optional.empty(), Optional.empty(),
        Optional.of(new FaultPolicy(Optional.empty(), Optional.of(new FaultPolicy.Abort(FaultPolicy.MILLION, 418)))),
        Optional.empty(), Optional.empty());
    install(List.of(aborting), cluster("a", Optional.empty(), CircuitBreakerPolicy.defaults(), endpoint(1)));
    MeshRejection fault = catchThrowableOfType(MeshRejection.class,
        () -> engine.execute(engine.route("svc", "/", h -> null), null, true, t -> 200, STATUS));
    assertThat(fault.status()).isEqualTo(418);
    assertThat(fault.reason().header()).isEqualTo("x-meshlet-fault");

    RouteRule limited = new RouteRule("limited", RequestMatch.any(), List.of(new RouteRule.WeightedCluster("a", 1)),
        Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.of(new RateLimitPolicy(3, 1, Duration.ofHours(1))), Optional.empty());
    install(List.of(limited), cluster("a", Optional.empty(), CircuitBreakerPolicy.defaults(), endpoint(1)));
    int ok = 0;
    int limitedCalls = 0;
    for (int i = 0; i < 10; i++) {
      try {
        engine.execute(engine.route("svc", "/", h -> null), null, true, t -> 200, STATUS);
        ok++;
      } catch (MeshRejection r) {
        assertThat(r.status()).isEqualTo(429);
        limitedCalls++;
      }
    }
    assertThat(ok).isEqualTo(3);
    assertThat(limitedCalls).isEqualTo(7);
  }

  @Test
  void outlierDetectionEjectsReturnsAndEjectsLongerTheSecondTime() throws Exception {
    OutlierPolicy policy = new OutlierPolicy(2, 0, Duration.ofSeconds(10), Duration.ofSeconds(30), 50, Optional.empty());
    install(List.of(rule("r", RequestMatch.any(), "a", Optional.empty())),
        cluster("a", Optional.of(policy), CircuitBreakerPolicy.defaults(), endpoint(1), endpoint(2)));
    PolicyEngine.Route route = engine.route("svc", "/", h -> null);
    Attempt<Integer> badOne = t -> t.endpoint().port() == 1 ? 500 : 200;
    for (int i = 0; i < 4; i++) {
      engine.execute(route, null, true, badOne, STATUS);
    }
    // Two errors in a row from port 1: ejected for 30 s.
    for (int i = 0; i < 10; i++) {
      assertThat(route.cluster().pickEndpoint(null).port()).isEqualTo(2);
    }
    now.addAndGet(Duration.ofSeconds(31).toNanos());
    assertThat(List.of(route.cluster().pickEndpoint(null).port(), route.cluster().pickEndpoint(null).port()))
        .containsExactlyInAnyOrder(1, 2);
    // Ejected again within the decay interval: 60 s this time.
    for (int i = 0; i < 4; i++) {
      engine.execute(route, null, true, badOne, STATUS);
    }
    now.addAndGet(Duration.ofSeconds(31).toNanos());
    assertThat(route.cluster().pickEndpoint(null).port()).isEqualTo(2);
    assertThat(route.cluster().pickEndpoint(null).port()).isEqualTo(2);
    now.addAndGet(Duration.ofSeconds(30).toNanos());
    assertThat(List.of(route.cluster().pickEndpoint(null).port(), route.cluster().pickEndpoint(null).port()))
        .containsExactlyInAnyOrder(1, 2);
  }

  @Test
  void maxEjectionPercentKeepsPartOfTheClusterInService() throws Exception {
    OutlierPolicy policy = new OutlierPolicy(1, 0, Duration.ofSeconds(10), Duration.ofSeconds(30), 50, Optional.empty());
    install(List.of(rule("r", RequestMatch.any(), "a", Optional.empty())),
        cluster("a", Optional.of(policy), CircuitBreakerPolicy.defaults(), endpoint(1), endpoint(2)));
    PolicyEngine.Route route = engine.route("svc", "/", h -> null);
    for (int i = 0; i < 10; i++) {
      engine.execute(route, null, true, t -> 500, STATUS);
    }
    // Both fail, but only one of two (50%) may be out at once.
    long distinct = java.util.stream.IntStream.range(0, 10)
        .map(i -> route.cluster().pickEndpoint(null).port()).distinct().count();
    assertThat(distinct).isEqualTo(1);
  }

  @Test
  void endpointStateSurvivesAConfigUpdate() throws Exception {
    OutlierPolicy policy = new OutlierPolicy(1, 0, Duration.ofSeconds(10), Duration.ofSeconds(30), 50, Optional.empty());
    install(List.of(rule("r", RequestMatch.any(), "a", Optional.empty())),
        cluster("a", Optional.of(policy), CircuitBreakerPolicy.defaults(), endpoint(1), endpoint(2)));
    engine.execute(engine.route("svc", "/", h -> null), null, true, t -> t.endpoint().port() == 1 ? 500 : 200, STATUS);
    engine.execute(engine.route("svc", "/", h -> null), null, true, t -> t.endpoint().port() == 1 ? 500 : 200, STATUS);
    // A new config with one more endpoint: port 1 stays ejected.
    install(List.of(rule("r2", RequestMatch.any(), "a", Optional.empty())),
        cluster("a", Optional.of(policy), CircuitBreakerPolicy.defaults(), endpoint(1), endpoint(2), endpoint(3)));
    PolicyEngine.Route route = engine.route("svc", "/", h -> null);
    for (int i = 0; i < 10; i++) {
      assertThat(route.cluster().pickEndpoint(null).port()).isIn(2, 3);
    }
  }
}
