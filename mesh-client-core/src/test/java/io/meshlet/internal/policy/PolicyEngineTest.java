// Long by design: the engine's whole call order (rate limit, fault, breaker, retries, backoff,
// timeouts, outlier detection) specified against one scripted transport.
package io.meshlet.internal.policy;

import io.meshlet.internal.telemetry.Telemetry;
import io.meshlet.MeshRejection;
import io.meshlet.UnknownServiceException;
import io.meshlet.transport.Outcome;
import io.meshlet.transport.ResponseInfo;
import io.meshlet.transport.TryPlan;
import io.meshlet.transport.TrySender;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.meshlet.config.CircuitBreakerPolicy;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.FaultPolicy;
import io.meshlet.config.MeshSnapshot;
import io.meshlet.config.OutlierPolicy;
import io.meshlet.config.RateLimitPolicy;
import io.meshlet.config.RequestMatch;
import io.meshlet.config.RequestMatch.HeaderCondition;
import io.meshlet.config.RequestMatch.HeaderCondition.Kind;
import io.meshlet.config.RequestMatch.PathKind;
import io.meshlet.config.RetryPolicy;
import io.meshlet.config.RetryPolicy.RetryOn;
import io.meshlet.config.RouteRule;
import io.meshlet.config.RouteRule.WeightedCluster;
import io.meshlet.config.RouteTable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PolicyEngineTest {

  /** A transport response: just a status. */
  record Resp(int status) {}

  private static final Duration TINY = Duration.ofMillis(1);

  /** Time as the engine sees it; starts where System.nanoTime() typically is, far from 0. */
  private final AtomicLong now = new AtomicLong(1_234_567_890_123L);
  private final PolicyEngine engine = new PolicyEngine(now::get, Telemetry.noop());
  private final List<Resp> discarded = Collections.synchronizedList(new ArrayList<>());
  private final ResponseInfo<Resp> info = new ResponseInfo<>() {
    @Override
    public int status(Resp response) {
      return response.status();
    }

    @Override
    public void discard(Resp response) {
      discarded.add(response);
    }
  };
  private ExecutorService threads;

  @AfterEach
  void stopThreads() {
    if (threads != null) {
      threads.shutdownNow();
    }
  }

  // ---- building config ----

  static EndpointConfig endpoint(int port) {
    return new EndpointConfig("10.0.0.1", port, 1, Map.of());
  }

  static ClusterConfig cluster(String name, EndpointConfig... endpoints) {
    return new ClusterConfig(name, ClusterConfig.LoadBalancing.ROUND_ROBIN, CircuitBreakerPolicy.defaults(),
        Optional.empty(), List.of(endpoints));
  }

  static RouteRule rule(String name, RequestMatch match, String cluster) {
    return new RouteRule(name, match, List.of(new WeightedCluster(cluster, 1)), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty());
  }

  static RouteRule rule(String cluster) {
    return rule("catalog#0", RequestMatch.any(), cluster);
  }

  static RouteRule withRetry(RouteRule r, RetryPolicy retry) {
    return new RouteRule(r.name(), r.match(), r.clusters(), r.timeout(), Optional.of(retry), r.fault(),
        r.rateLimit(), r.hashHeader());
  }

  static RouteRule withTimeout(RouteRule r, Duration timeout) {
    return new RouteRule(r.name(), r.match(), r.clusters(), Optional.of(timeout), r.retry(), r.fault(),
        r.rateLimit(), r.hashHeader());
  }

  static RouteRule withFault(RouteRule r, FaultPolicy fault) {
    return new RouteRule(r.name(), r.match(), r.clusters(), r.timeout(), r.retry(), Optional.of(fault),
        r.rateLimit(), r.hashHeader());
  }

  static RouteRule withRateLimit(RouteRule r, RateLimitPolicy limit) {
    return new RouteRule(r.name(), r.match(), r.clusters(), r.timeout(), r.retry(), r.fault(),
        Optional.of(limit), r.hashHeader());
  }

  static RetryPolicy retry(int retries, RetryOn... on) {
    return new RetryPolicy(retries, Set.of(on), Set.of(), Optional.empty(), TINY, TINY);
  }

  private void install(List<RouteRule> rules, ClusterConfig... clusters) {
    Map<String, ClusterConfig> byName = new HashMap<>();
    for (ClusterConfig c : clusters) {
      byName.put(c.name(), c);
    }
    MeshSnapshot snapshot = new MeshSnapshot(Map.of("catalog", new RouteTable("catalog", rules)), byName, "v1",
        Instant.EPOCH);
    assertThat(snapshot.danglingReferences()).isEmpty();
    engine.update(snapshot);
  }

  private void install(RouteRule rule, ClusterConfig cluster) {
    install(List.of(rule), cluster);
  }

  private PolicyEngine.Route route(String path, Map<String, String> headers) throws IOException {
    return engine.route("catalog", path, headers::get);
  }

  private PolicyEngine.Route route() throws IOException {
    return route("/", Map.of());
  }

  /** An TrySender that plays back a script of responses and failures, and records each try. */
  static class Script implements TrySender<Resp> {
    final Deque<Object> steps;
    final List<TryPlan> tries = Collections.synchronizedList(new ArrayList<>());

    Script(Object... steps) {
      this.steps = new ArrayDeque<>(Arrays.asList(steps));
    }

    @Override
    public Resp send(TryPlan t) throws IOException {
      tries.add(t);
      Object step = steps.isEmpty() ? new Resp(200) : steps.poll();
      if (step instanceof IOException e) {
        throw e;
      }
      if (step instanceof Integer status) {
        return new Resp(status);
      }
      return (Resp) step;
    }

    List<Integer> ports() {
      return tries.stream().map(t -> t.endpoint().port()).toList();
    }
  }

  // ---- route matching ----

  @Test
  void routesAreTriedInOrderAndTheFirstMatchWins() throws IOException {
    install(List.of(
            rule("canary", new RequestMatch(PathKind.PREFIX, "/api",
                List.of(new HeaderCondition("x-canary", Kind.EXACT, "true", false))), "v2"),
            rule("admin", new RequestMatch(PathKind.PREFIX, "/api",
                List.of(new HeaderCondition("x-user", Kind.REGEX, "admin-[0-9]+", false))), "admin"),
            rule("quiet", new RequestMatch(PathKind.PREFIX, "/api",
                List.of(new HeaderCondition("x-debug", Kind.PRESENT, "", true))), "quiet"),
            rule("health", new RequestMatch(PathKind.EXACT, "/health", List.of()), "health"),
            rule("items", new RequestMatch(PathKind.REGEX, "/items/[0-9]+", List.of()), "items"),
            rule("nonprod", new RequestMatch(PathKind.PREFIX, "/", List.of(new HeaderCondition("x-env", Kind.EXACT,
                "prod", true))), "nonprod"),
            rule("default", RequestMatch.any(), "v1")),
        cluster("v1", endpoint(1)), cluster("v2", endpoint(2)), cluster("admin", endpoint(3)),
        cluster("quiet", endpoint(4)), cluster("health", endpoint(5)), cluster("items", endpoint(6)),
        cluster("nonprod", endpoint(7)));

    Map<String, String> prod = Map.of("x-env", "prod");
    assertThat(route("/api/x", Map.of("x-canary", "true")).rule().name()).isEqualTo("canary");
    assertThat(route("/api/x", Map.of("x-canary", "false", "x-user", "admin-7")).rule().name()).isEqualTo("admin");
    assertThat(route("/api/x", Map.of("x-user", "admin-7x")).rule().name()).as("regex matches the whole value")
        .isEqualTo("quiet");
    assertThat(route("/api/x", Map.of("x-debug", "")).rule().name()).as("inverted presence")
        .isEqualTo("nonprod");
    assertThat(route("/health", prod).rule().name()).isEqualTo("health");
    assertThat(route("/health/deep", prod).rule().name()).as("exact path").isEqualTo("default");
    assertThat(route("/items/12", prod).rule().name()).isEqualTo("items");
    assertThat(route("/items/12a", prod).rule().name()).as("regex matches the whole path").isEqualTo("default");
    assertThat(route("/other", Map.of("x-env", "dev")).rule().name()).as("inverted exact").isEqualTo("nonprod");
    assertThat(route("/other", Map.of()).cluster().name()).isEqualTo("nonprod");
    assertThat(route("/other", prod).cluster().name()).isEqualTo("v1");
  }

  @Test
  void unknownServicesAndUnroutedPathsFailFastWithTheReason() {
    install(rule("api", new RequestMatch(PathKind.PREFIX, "/api", List.of()), "v1"), cluster("v1", endpoint(1)));

    assertThatThrownBy(() -> engine.route("billing", "/", k -> null))
        .isInstanceOf(UnknownServiceException.class)
        .hasMessage("service 'billing' is not in the mesh (known: catalog)");
    assertThatThrownBy(() -> engine.route("catalog", "/other", k -> null))
        .isInstanceOf(UnknownServiceException.class)
        .hasMessage("service 'catalog': no route matches /other (routes: 1)");
    assertThat(engine.knows("catalog")).isTrue();
    assertThat(engine.knows("billing")).isFalse();
  }

  @Test
  void weightedClustersArePickedInProportion() throws IOException {
    RouteRule split = new RouteRule("split", RequestMatch.any(), List.of(new WeightedCluster("v1", 90),
        new WeightedCluster("v2", 10), new WeightedCluster("off", 0)), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty());
    install(List.of(split), cluster("v1", endpoint(1)), cluster("v2", endpoint(2)), cluster("off", endpoint(3)));

    int n = 20_000;
    Map<String, Integer> counts = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      counts.merge(route().cluster().name(), 1, Integer::sum);
    }

    // 5 standard deviations: sqrt(20000 * 0.1 * 0.9) = 42.
    assertThat(counts.getOrDefault("v2", 0)).isCloseTo(2_000, within(212));
    assertThat(counts.getOrDefault("v1", 0)).isCloseTo(18_000, within(212));
    assertThat(counts).doesNotContainKey("off");
  }

  // ---- retry conditions and backoff ----

  @ParameterizedTest(name = "retry_on {0}, {1} {2}: {3}")
  @CsvSource({
      "5xx, SERVER_ERROR, 500, true",
      "5xx, GATEWAY_ERROR, 503, true",
      "5xx, RESPONSE, 404, false",
      "5xx, RESET, 0, true",
      "5xx, CONNECT_FAILURE, 0, true",
      "5xx, TIMEOUT, 0, true",
      "5xx, REFUSED_STREAM, 0, true",
      "gateway-error, SERVER_ERROR, 500, false",
      "gateway-error, GATEWAY_ERROR, 502, true",
      "gateway-error, RESET, 0, true",
      "gateway-error, CONNECT_FAILURE, 0, true",
      "gateway-error, TIMEOUT, 0, true",
      "gateway-error, REFUSED_STREAM, 0, true",
      "reset, SERVER_ERROR, 500, false",
      "reset, GATEWAY_ERROR, 503, false",
      "reset, RESET, 0, true",
      "reset, TIMEOUT, 0, true",
      "reset, CONNECT_FAILURE, 0, true",
      "reset, REFUSED_STREAM, 0, true",
      "connect-failure, CONNECT_FAILURE, 0, true",
      "connect-failure, RESET, 0, false",
      "connect-failure, TIMEOUT, 0, false",
      "connect-failure, GATEWAY_ERROR, 503, false",
      "refused-stream, REFUSED_STREAM, 0, true",
      "refused-stream, RESET, 0, false",
      "retriable-4xx, RESPONSE, 409, true",
      "retriable-4xx, RESPONSE, 404, false",
      "retriable-4xx, SERVER_ERROR, 500, false",
      "retriable-status-codes, RESPONSE, 429, true",
      "retriable-status-codes, SERVER_ERROR, 500, true",
      "retriable-status-codes, GATEWAY_ERROR, 503, false",
      "retriable-status-codes, RESPONSE, 404, false",
      "unavailable, GATEWAY_ERROR, 503, false",
      "unavailable, RESET, 0, false",
      "unavailable, RESPONSE, 200, false",
  })
  void retriableFollowsEnvoysRetryOnConditions(String on, Outcome outcome, int status, boolean expected) {
    RetryPolicy policy = new RetryPolicy(1, Set.of(RetryOn.of(on).orElseThrow()), Set.of(429, 500),
        Optional.empty(), TINY, TINY);

    assertThat(PolicyEngine.retriable(policy, outcome, status)).isEqualTo(expected);
  }

  @ParameterizedTest(name = "on {0}: {1} {2} with grpc-status {3} -> {4}")
  @CsvSource({
      "unavailable, RESPONSE, 200, 14, true",
      "unavailable, GATEWAY_ERROR, 503, 14, true",
      "unavailable, RESPONSE, 200, 13, false",
      "internal, RESPONSE, 200, 13, true",
      "cancelled, RESPONSE, 200, 1, true",
      "deadline-exceeded, RESPONSE, 200, 4, true",
      "resource-exhausted, RESPONSE, 200, 8, true",
      "resource-exhausted, RESPONSE, 200, 0, false",
      "5xx, RESPONSE, 200, 14, false",
      "unavailable, RESET, 0, 14, false",
  })
  void aGrpcStatusConditionRetriesAResponseCarryingThatStatusAsEnvoyDoes(String on, Outcome outcome, int status,
      int grpcStatus, boolean expected) {
    RetryPolicy policy = new RetryPolicy(1, Set.of(RetryOn.of(on).orElseThrow()), Set.of(), Optional.empty(),
        TINY, TINY);

    assertThat(PolicyEngine.retriable(policy, outcome, status, grpcStatus)).isEqualTo(expected);
  }

  @Test
  void nothingIsRetriableWithoutAPolicy() {
    for (Outcome o : Outcome.values()) {
      assertThat(PolicyEngine.retriable(null, o, 503)).isFalse();
    }
  }

  @Test
  void backoffIsFullyJitteredBelowTheExponentialCap() {
    RetryPolicy policy = new RetryPolicy(10, Set.of(RetryOn.FIVE_XX), Set.of(), Optional.empty(),
        Duration.ofMillis(25), Duration.ofMillis(250));
    for (int n = 1; n <= 8; n++) {
      long cap = Math.min(Duration.ofMillis(25).toNanos() << (n - 1), Duration.ofMillis(250).toNanos());
      long max = 0;
      for (int i = 0; i < 2_000; i++) {
        long b = PolicyEngine.backoffNanos(policy, n);
        assertThat(b).as("retry %d", n).isGreaterThanOrEqualTo(0).isLessThan(cap);
        max = Math.max(max, b);
      }
      assertThat(max).as("retry %d uses its whole range", n).isGreaterThan(cap * 9 / 10);
    }
  }

  @Test
  void backoffBelowOneMillisecondWorks() {
    // Envoy accepts sub-millisecond intervals; Resilience4j's IntervalFunction refuses them.
    RetryPolicy policy = new RetryPolicy(3, Set.of(RetryOn.FIVE_XX), Set.of(), Optional.empty(),
        Duration.ofNanos(500_000), Duration.ofNanos(800_000));

    assertThat(PolicyEngine.backoffNanos(policy, 1)).isBetween(0L, 499_999L);
    assertThat(PolicyEngine.backoffNanos(policy, 5)).isBetween(0L, 799_999L);
    assertThat(PolicyEngine.backoffNanos(policy, 100)).isBetween(0L, 799_999L);
  }

  // ---- the retry loop ----

  @Test
  void a503IsRetriedOnAnotherEndpointAndThe200Returned() throws IOException {
    install(withRetry(rule("c"), retry(2, RetryOn.FIVE_XX)), cluster("c", endpoint(1), endpoint(2), endpoint(3)));
    Script attempt = new Script(503, 200);

    Resp r = engine.execute(route(), null, true, attempt, info);

    assertThat(r.status()).isEqualTo(200);
    assertThat(attempt.tries).extracting(TryPlan::number).containsExactly(1, 2);
    assertThat(attempt.ports()).doesNotHaveDuplicates();
    assertThat(discarded).containsExactly(new Resp(503));
  }

  @Test
  void aConnectFailureIsRetried() throws IOException {
    install(withRetry(rule("c"), retry(2, RetryOn.CONNECT_FAILURE)), cluster("c", endpoint(1), endpoint(2)));
    Script attempt = new Script(new ConnectException("refused"), 200);

    assertThat(engine.execute(route(), null, true, attempt, info).status()).isEqualTo(200);
    assertThat(attempt.tries).hasSize(2);
  }

  @Test
  void whenRetriesRunOutTheLast5xxIsReturned() throws IOException {
    install(withRetry(rule("c"), retry(2, RetryOn.FIVE_XX)), cluster("c", endpoint(1), endpoint(2)));
    Script attempt = new Script(503, 500, 502, 200);

    Resp r = engine.execute(route(), null, true, attempt, info);

    assertThat(r.status()).isEqualTo(502);
    assertThat(attempt.tries).hasSize(3);
    assertThat(discarded).containsExactly(new Resp(503), new Resp(500));
    assertThat(attempt.ports()).as("a third try may go back to a tried endpoint").containsOnly(1, 2);
  }

  @Test
  void aResponseTheConditionsDoNotCoverIsReturnedAtOnce() throws IOException {
    install(withRetry(rule("c"), retry(2, RetryOn.GATEWAY_ERROR)), cluster("c", endpoint(1)));
    Script attempt = new Script(500, 200);

    assertThat(engine.execute(route(), null, true, attempt, info).status()).isEqualTo(500);
    assertThat(attempt.tries).hasSize(1);
  }

  @Test
  void aNonReplayableRequestIsNotRetried() throws IOException {
    install(withRetry(rule("c"), retry(2, RetryOn.FIVE_XX)), cluster("c", endpoint(1), endpoint(2)));
    Script attempt = new Script(503, 200);

    assertThat(engine.execute(route(), null, false, attempt, info).status()).isEqualTo(503);
    assertThat(attempt.tries).hasSize(1);
    assertThat(discarded).isEmpty();
  }

  @Test
  void aRetryBudgetOfZeroStopsRetries() throws IOException {
    ClusterConfig noRetries = new ClusterConfig("c", ClusterConfig.LoadBalancing.ROUND_ROBIN,
        new CircuitBreakerPolicy(100, 100, 0), Optional.empty(), List.of(endpoint(1), endpoint(2)));
    install(withRetry(rule("c"), retry(2, RetryOn.FIVE_XX)), noRetries);
    Script attempt = new Script(503, 200);

    assertThat(engine.execute(route(), null, true, attempt, info).status()).isEqualTo(503);
    assertThat(attempt.tries).hasSize(1);
  }

  @Test
  void theRetryBudgetIsGivenBackAfterEachRetry() throws IOException {
    ClusterConfig oneRetry = new ClusterConfig("c", ClusterConfig.LoadBalancing.ROUND_ROBIN,
        new CircuitBreakerPolicy(100, 100, 1), Optional.empty(), List.of(endpoint(1), endpoint(2)));
    install(withRetry(rule("c"), retry(3, RetryOn.FIVE_XX)), oneRetry);

    for (int call = 0; call < 3; call++) {
      Script attempt = new Script(503, 503, 503, 200);
      assertThat(engine.execute(route(), null, true, attempt, info).status()).isEqualTo(200);
      assertThat(attempt.tries).hasSize(4);
    }
    ClusterRuntime runtime = engine.cluster("c").orElseThrow();
    assertThat(runtime.tryRetry()).as("no retry slot leaked").isTrue();
    runtime.retryDone();
  }

  @Test
  void whenEveryTryFailsTheLastFailureIsThrownWithTheEarlierOnesSuppressed() throws IOException {
    install(withRetry(rule("c"), retry(2, RetryOn.CONNECT_FAILURE, RetryOn.RESET)),
        cluster("c", endpoint(1), endpoint(2), endpoint(3)));
    ConnectException first = new ConnectException("first");
    IOException second = new IOException("second");
    ConnectException third = new ConnectException("third");

    assertThatThrownBy(() -> engine.execute(route(), null, true, new Script(first, second, third), info))
        .isSameAs(third)
        .satisfies(e -> assertThat(e.getSuppressed()).containsExactly(first, second));
    assertThat(first.getSuppressed()).isEmpty();
  }

  @Test
  void aFailureTheConditionsDoNotCoverIsThrownAtOnce() {
    install(withRetry(rule("c"), retry(2, RetryOn.CONNECT_FAILURE)), cluster("c", endpoint(1), endpoint(2)));
    IOException reset = new IOException("connection reset");
    Script attempt = new Script(reset, 200);

    assertThatThrownBy(() -> engine.execute(route(), null, true, attempt, info)).isSameAs(reset);
    assertThat(attempt.tries).hasSize(1);
  }

  @Test
  void eachTryGetsThePerTryTimeoutOrWhatIsLeftOfTheRoutesIfLess() throws IOException {
    RetryPolicy policy = new RetryPolicy(2, Set.of(RetryOn.FIVE_XX), Set.of(),
        Optional.of(Duration.ofMillis(300)), TINY, TINY);
    install(withTimeout(withRetry(rule("c"), policy), Duration.ofSeconds(1)), cluster("c", endpoint(1), endpoint(2)));
    List<Duration> timeouts = new ArrayList<>();
    TrySender<Resp> attempt = t -> {
      timeouts.add(t.timeout());
      if (t.number() == 1) {
        now.addAndGet(Duration.ofMillis(900).toNanos());
        return new Resp(503);
      }
      return new Resp(200);
    };

    assertThat(engine.execute(route(), null, true, attempt, info).status()).isEqualTo(200);
    assertThat(timeouts).containsExactly(Duration.ofMillis(300), Duration.ofMillis(100));
  }

  @Test
  void withoutAPerTryTimeoutATryGetsTheWholeRouteTimeout() throws IOException {
    install(withTimeout(rule("c"), Duration.ofMillis(1500)), cluster("c", endpoint(1)));
    List<Duration> timeouts = new ArrayList<>();

    engine.execute(route(), null, true, t -> {
      timeouts.add(t.timeout());
      return new Resp(200);
    }, info);

    assertThat(timeouts).containsExactly(Duration.ofMillis(1500));
  }

  @Test
  void noRetryIsMadeWhenTheRouteDeadlineHasPassed() throws IOException {
    install(withTimeout(withRetry(rule("c"), retry(3, RetryOn.FIVE_XX)), Duration.ofSeconds(1)),
        cluster("c", endpoint(1), endpoint(2)));
    TrySender<Resp> slow = t -> {
      now.addAndGet(Duration.ofSeconds(1).toNanos());
      return new Resp(503);
    };

    assertThat(engine.execute(route(), null, true, slow, info).status()).isEqualTo(503);
  }

  @Test
  void aRouteWithoutTimeoutNeverTimesOutWhateverTheClockReads() throws IOException {
    // nanoTime may be negative; "no deadline" must not overflow into "deadline passed".
    now.set(-5_000_000_000L);
    install(withRetry(rule("c"), retry(1, RetryOn.FIVE_XX)), cluster("c", endpoint(1), endpoint(2)));
    Script attempt = new Script(503, 200);

    assertThat(engine.execute(route(), null, true, attempt, info).status()).isEqualTo(200);
    assertThat(attempt.tries).extracting(TryPlan::timeout).allSatisfy(t -> assertThat(t).isPositive());
  }

  // ---- limits, rate limits, faults ----

  @Test
  void withMaxRequests1AndNoPendingASecondConcurrentCallIsRejectedAsOverloaded() throws Exception {
    ClusterConfig one = new ClusterConfig("c", ClusterConfig.LoadBalancing.ROUND_ROBIN,
        new CircuitBreakerPolicy(1, 0, 3), Optional.empty(), List.of(endpoint(1)));
    install(rule("c"), one);
    CountDownLatch inFlight = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    threads = Executors.newSingleThreadExecutor();
    PolicyEngine.Route route = route();
    Future<Resp> first = threads.submit(() -> engine.execute(route, null, true, t -> {
      inFlight.countDown();
      try {
        assertThat(finish.await(10, TimeUnit.SECONDS)).isTrue();
      } catch (InterruptedException e) {
        throw new InterruptedIOException();
      }
      return new Resp(200);
    }, info));
    assertThat(inFlight.await(10, TimeUnit.SECONDS)).isTrue();

    Script second = new Script(200);
    assertThatThrownBy(() -> engine.execute(route(), null, true, second, info))
        .isInstanceOfSatisfying(MeshRejection.class, e -> {
          assertThat(e.status()).isEqualTo(503);
          assertThat(e.reason()).isEqualTo(MeshRejection.Reason.OVERLOADED);
          assertThat(e.reason().header()).isEqualTo("x-meshlet-overloaded");
        })
        .hasMessage("cluster 'c' is at its limit of 1 requests in flight");
    assertThat(second.tries).isEmpty();

    finish.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
    assertThat(engine.execute(route(), null, true, new Script(200), info).status())
        .as("the slot is free again").isEqualTo(200);
  }

  @Test
  void theRateLimiterRejectsCallsAboveTheBurstWith429() throws IOException {
    // A burst of 2, refilled by 1 an hour: the third call is over the limit.
    install(withRateLimit(rule("c"), new RateLimitPolicy(2, 1, Duration.ofHours(1))), cluster("c", endpoint(1)));
    Script attempt = new Script();

    engine.execute(route(), null, true, attempt, info);
    engine.execute(route(), null, true, attempt, info);
    assertThatThrownBy(() -> engine.execute(route(), null, true, attempt, info))
        .isInstanceOfSatisfying(MeshRejection.class, e -> {
          assertThat(e.status()).isEqualTo(429);
          assertThat(e.reason()).isEqualTo(MeshRejection.Reason.RATE_LIMITED);
        })
        .hasMessage("rate limited by route 'catalog#0'");
    assertThat(attempt.tries).hasSize(2);
  }

  @Test
  void theRateLimiterKeepsItsTokensAcrossConfigUpdates() throws IOException {
    RouteRule limited = withRateLimit(rule("c"), new RateLimitPolicy(1, 1, Duration.ofHours(1)));
    install(limited, cluster("c", endpoint(1)));
    engine.execute(route(), null, true, new Script(), info);

    install(limited, cluster("c", endpoint(1), endpoint(2)));

    assertThatThrownBy(() -> engine.execute(route(), null, true, new Script(), info))
        .isInstanceOf(MeshRejection.class);
  }

  @Test
  void anAbortFaultForAllCallsAnswersWithItsStatus() {
    install(withFault(rule("c"), new FaultPolicy(Optional.empty(),
        Optional.of(new FaultPolicy.Abort(FaultPolicy.MILLION, 418)))), cluster("c", endpoint(1)));
    Script attempt = new Script();

    assertThatThrownBy(() -> engine.execute(route(), null, true, attempt, info))
        .isInstanceOfSatisfying(MeshRejection.class, e -> {
          assertThat(e.status()).isEqualTo(418);
          assertThat(e.reason()).isEqualTo(MeshRejection.Reason.FAULT);
        })
        .hasMessage("fault injected by route 'catalog#0'");
    assertThat(attempt.tries).isEmpty();
  }

  @Test
  void anAbortFaultForNoCallsNeverFires() throws IOException {
    install(withFault(rule("c"), new FaultPolicy(Optional.empty(), Optional.of(new FaultPolicy.Abort(0, 503)))),
        cluster("c", endpoint(1)));
    Script attempt = new Script();

    for (int i = 0; i < 1_000; i++) {
      engine.execute(route(), null, true, attempt, info);
    }

    assertThat(attempt.tries).hasSize(1_000);
  }

  @Test
  void aDelayFaultDoesNotCountAgainstTheRouteTimeout() throws IOException {
    // As Envoy and grpc-java: the route's timer starts when the delayed request goes on.
    install(withTimeout(withFault(rule("c"), new FaultPolicy(
        Optional.of(new FaultPolicy.Delay(FaultPolicy.MILLION, Duration.ofMillis(50))), Optional.empty())),
        Duration.ofMillis(10)), cluster("c", endpoint(1)));
    Script attempt = new Script();

    engine.execute(route(), null, true, attempt, info);

    assertThat(attempt.tries).hasSize(1);
  }

  @Test
  void aClusterWithoutEndpointsAnswers503() {
    install(rule("c"), cluster("c"));

    assertThatThrownBy(() -> engine.execute(route(), null, true, new Script(), info))
        .isInstanceOfSatisfying(MeshRejection.class, e -> {
          assertThat(e.status()).isEqualTo(503);
          assertThat(e.reason()).isEqualTo(MeshRejection.Reason.NO_ENDPOINTS);
        })
        .hasMessage("cluster 'c' has no endpoints");
  }

  // ---- outlier detection through the engine ----

  @Test
  void anEndpointFailingConsecutivelyIsEjectedAndComesBackAfterTheEjectionTime() throws IOException {
    OutlierPolicy od = new OutlierPolicy(3, 0, Duration.ofSeconds(10), Duration.ofSeconds(30), 50,
        Optional.empty());
    ClusterConfig c = new ClusterConfig("c", ClusterConfig.LoadBalancing.ROUND_ROBIN, CircuitBreakerPolicy.defaults(),
        Optional.of(od), List.of(endpoint(1), endpoint(2)));
    install(rule("c"), c);
    Script attempt = new Script() {
      @Override
      public Resp send(TryPlan t) {
        tries.add(t);
        return new Resp(t.endpoint().port() == 1 ? 503 : 200);
      }
    };

    for (int i = 0; i < 6; i++) {
      engine.execute(route(), null, true, attempt, info);
    }
    assertThat(attempt.ports()).containsExactlyInAnyOrder(1, 1, 1, 2, 2, 2);

    attempt.tries.clear();
    for (int i = 0; i < 10; i++) {
      engine.execute(route(), null, true, attempt, info);
    }
    assertThat(attempt.ports()).as("ejected").containsOnly(2);

    // A config update with the same endpoints keeps the ejection.
    install(rule("c"), c);
    attempt.tries.clear();
    engine.execute(route(), null, true, attempt, info);
    engine.execute(route(), null, true, attempt, info);
    assertThat(attempt.ports()).containsOnly(2);

    now.addAndGet(Duration.ofSeconds(30).toNanos());
    attempt.tries.clear();
    for (int i = 0; i < 10; i++) {
      engine.execute(route(), null, true, attempt, info);
    }
    assertThat(attempt.ports()).as("back after 30 s").contains(1);
  }

  @Test
  void engineStatePerClusterIsVisibleForDiagnostics() throws IOException {
    install(rule("c"), cluster("c", endpoint(1), endpoint(2)));

    assertThat(engine.cluster("c")).hasValueSatisfying(r ->
        assertThat(r.endpoints()).extracting(EndpointState::config).containsExactly(endpoint(1), endpoint(2)));
    assertThat(engine.cluster("nope")).isEmpty();
    assertThat(engine.snapshot().version()).isEqualTo("v1");
    assertThat(route().service()).isEqualTo("catalog");
    assertThat(Arrays.stream(MeshRejection.Reason.values()).map(MeshRejection.Reason::header)
        .collect(Collectors.toList())).containsExactly("x-meshlet-fault", "x-meshlet-ratelimited",
        "x-meshlet-overloaded", "x-meshlet-no-endpoints");
  }
}
