package io.meshlet.internal.policy;

import io.meshlet.internal.wire.WireNames;
import io.meshlet.internal.wire.Backoff;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.FaultPolicy;
import io.meshlet.config.MeshSnapshot;
import io.meshlet.config.RetryPolicy;
import io.meshlet.config.RetryPolicy.RetryOn;
import io.meshlet.config.RouteRule;
import io.meshlet.config.RouteTable;
import io.meshlet.internal.telemetry.Telemetry;
import io.meshlet.MeshRejection;
import io.meshlet.UnknownServiceException;
import io.meshlet.transport.MeshRoute;
import io.meshlet.transport.Outcome;
import io.meshlet.transport.ResponseInfo;
import io.meshlet.transport.TryPlan;
import io.meshlet.transport.TrySender;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * Meshlet's policy engine: Envoy's semantics for the routes and clusters a control plane sends,
 * applied inside the calling JVM. One call goes through it in the order
 * <b>route -> rate limit -> fault -> circuit breaker -> retry loop (endpoint pick -> per-try
 * timeout -> transport) -> outlier detection</b>, within the route's overall deadline. A transport
 * may send a try again when it went out on a pooled connection that was dead (the request never
 * reached the upstream's application); that stays inside the try ({@link TryPlan#resentTransparently}).
 *
 * <p>Thread-safe. Config updates ({@link #update}) come from one thread and swap one volatile
 * field; the call path reads it once and takes no lock.
 */
public final class PolicyEngine {

  /** The deadline of a route without a timeout. */
  private static final long NO_DEADLINE = Long.MAX_VALUE;

  private final LongSupplier nanoTime;
  private final Telemetry telemetry;
  private volatile State state = new State(MeshSnapshot.empty(), Map.of(), Map.of(), Map.of());

  /** Everything the call path needs, swapped as one. */
  private record State(MeshSnapshot snapshot, Map<String, ClusterRuntime> clusters,
      Map<String, TokenBucket> limiters, Map<String, CompiledRule[]> tables) {}

  /** A rule with its decisions made ahead: one {@link Route} per weighted cluster. */
  private record CompiledRule(RouteRule rule, Route[] routes, long[] cumulativeWeights) {
    Route pick() {
      if (routes.length == 1) {
        return routes[0];
      }
      long r = ThreadLocalRandom.current().nextLong(cumulativeWeights[cumulativeWeights.length - 1]);
      for (int i = 0; i < cumulativeWeights.length; i++) {
        if (r < cumulativeWeights[i]) {
          return routes[i];
        }
      }
      return routes[routes.length - 1];
    }
  }

  /** The engine's decision for a call: which route it takes and which cluster it goes to. */
  public record Route(String service, RouteRule rule, ClusterRuntime cluster, TokenBucket limiter,
      Telemetry.RouteTelemetry telemetry) implements MeshRoute {
    @Override
    public String clusterName() {
      return cluster == null ? "" : cluster.name();
    }

    @Override
    public boolean mtls() {
      return cluster != null && cluster.config().mtls();
    }
  }

  public PolicyEngine(LongSupplier nanoTime, Telemetry telemetry) {
    this.nanoTime = nanoTime;
    this.telemetry = telemetry;
  }

  /** The telemetry this engine reports to. */
  public Telemetry telemetry() {
    return telemetry;
  }

  /** The snapshot in force now. */
  public MeshSnapshot snapshot() {
    return state.snapshot();
  }

  /** Installs a new snapshot, keeping the state of clusters, endpoints and limiters that remain. */
  public synchronized void update(MeshSnapshot snapshot) {
    State old = state;
    Map<String, ClusterRuntime> clusters = new HashMap<>();
    for (ClusterConfig c : snapshot.clusters().values()) {
      clusters.put(c.name(), ClusterRuntime.create(c, old.clusters().get(c.name()), nanoTime, telemetry));
    }
    Map<String, TokenBucket> limiters = new HashMap<>();
    for (RouteTable table : snapshot.services().values()) {
      for (RouteRule rule : table.rules()) {
        rule.rateLimit().ifPresent(policy -> {
          String key = rule.name() + "|" + policy;
          TokenBucket existing = old.limiters().get(key);
          limiters.put(key, existing != null ? existing : new TokenBucket(policy, nanoTime));
        });
      }
    }
    Map<String, CompiledRule[]> tables = new HashMap<>();
    for (RouteTable table : snapshot.services().values()) {
      CompiledRule[] compiled = new CompiledRule[table.rules().size()];
      for (int i = 0; i < compiled.length; i++) {
        RouteRule rule = table.rules().get(i);
        TokenBucket limiter = rule.rateLimit().map(p -> limiters.get(rule.name() + "|" + p)).orElse(null);
        List<RouteRule.WeightedCluster> targets = rule.clusters().stream().filter(c -> c.weight() > 0).toList();
        Route[] routes = new Route[targets.size()];
        long[] cumulative = new long[targets.size()];
        long sum = 0;
        for (int j = 0; j < routes.length; j++) {
          ClusterRuntime cluster = clusters.get(targets.get(j).cluster());
          routes[j] = new Route(table.service(), rule, cluster, limiter,
              telemetry.route(table.service(), rule.name(), cluster == null ? "" : cluster.name()));
          sum += targets.get(j).weight();
          cumulative[j] = sum;
        }
        compiled[i] = new CompiledRule(rule, routes, cumulative);
      }
      tables.put(table.service(), compiled);
    }
    state = new State(snapshot, Map.copyOf(clusters), Map.copyOf(limiters), Map.copyOf(tables));
  }

  /** Whether the mesh has a service of this name. */
  public boolean knows(String service) {
    return state.snapshot().services().containsKey(service);
  }

  /**
   * Picks the route and cluster for a call.
   *
   * @param header a request header by lower-case name, null when absent
   * @throws UnknownServiceException when the service is unknown or no route takes the path
   */
  public Route route(String service, String path, Function<String, String> header)
      throws UnknownServiceException {
    State s = state;
    CompiledRule[] rules = s.tables().get(service);
    if (rules == null) {
      throw new UnknownServiceException("service '" + service + "' is not in the mesh (known: "
          + String.join(", ", new TreeSet<>(s.snapshot().services().keySet())) + ")");
    }
    for (CompiledRule rule : rules) {
      if (rule.rule().match().matches(path, header)) {
        return rule.pick();
      }
    }
    throw new UnknownServiceException("service '" + service + "': no route matches " + path
        + " (routes: " + rules.length + ")");
  }

  /**
   * Runs a call along its route: rate limit, faults, circuit breaker, tries with retries and
   * backoff, outlier detection, all within the route's timeout.
   *
   * @param hashKey the ring hash key (the value of the route's hash header), or null
   * @param replayable whether the request may be sent more than once (idempotent, body replayable)
   * @return the last try's response; a 5xx that exhausted its retries is returned, not thrown
   * @throws MeshRejection when the mesh answers the call itself (fault, rate limit, overload)
   * @throws IOException the last try's failure, with earlier ones attached as suppressed
   */
  public <T> T execute(Route route, String hashKey, boolean replayable, TrySender<T> sender,
      ResponseInfo<T> info) throws IOException {
    long start = nanoTime.getAsLong();
    RouteRule rule = route.rule();
    Telemetry.Call call = telemetry.start(route.telemetry());
    Outcome outcome = Outcome.RESET;
    int status = 0;
    try {
      if (route.limiter() != null && !route.limiter().tryAcquire()) {
        call.rejected(MeshRejection.Reason.RATE_LIMITED);
        throw new MeshRejection(429, MeshRejection.Reason.RATE_LIMITED,
            "rate limited by route '" + rule.name() + "'");
      }
      if (rule.fault().isPresent()) {
        injectFaults(rule, rule.fault().get(), call);
      }
      // The route's timeout starts after an injected delay, as in Envoy (the fault filter holds
      // the request before the router starts its timer) and grpc-java (a delayed call takes the
      // route's deadline when it starts): OneIntentBothTransportsIT holds both transports to it.
      long deadline = rule.timeout().map(t -> nanoTime.getAsLong() + t.toNanos()).orElse(NO_DEADLINE);
      ClusterRuntime cluster = route.cluster();
      if (!cluster.tryAcquire()) {
        call.rejected(MeshRejection.Reason.OVERLOADED);
        throw new MeshRejection(503, MeshRejection.Reason.OVERLOADED, "cluster '" + cluster.name()
            + "' is at its limit of " + cluster.config().limits().maxRequests() + " requests in flight");
      }
      try {
        T response = tries(route, cluster, hashKey, replayable, deadline, sender, info, call);
        status = info.status(response);
        outcome = Outcome.ofStatus(status);
        return response;
      } finally {
        cluster.release();
      }
    } catch (MeshRejection e) {
      status = e.status();
      outcome = Outcome.ofStatus(status);
      throw e;
    } catch (IOException e) {
      // The call's outcome is its last failure's (a connect failure, a timeout, ...), as gRPC calls
      // classify theirs, rather than a blanket reset.
      outcome = info.classify(e);
      throw e;
    } finally {
      call.end(outcome, status, nanoTime.getAsLong() - start);
    }
  }

  private void injectFaults(RouteRule rule, FaultPolicy fault, Telemetry.Call call) throws IOException {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    if (fault.delay().isPresent() && random.nextInt(FaultPolicy.MILLION) < fault.delay().get().perMillion()) {
      call.faultDelay();
      sleep(fault.delay().get().duration().toNanos());
    }
    if (fault.abort().isPresent() && random.nextInt(FaultPolicy.MILLION) < fault.abort().get().perMillion()) {
      call.rejected(MeshRejection.Reason.FAULT);
      throw new MeshRejection(fault.abort().get().httpStatus(), MeshRejection.Reason.FAULT,
          "fault injected by route '" + rule.name() + "'");
    }
  }

  private <T> T tries(Route route, ClusterRuntime cluster, String hashKey, boolean replayable,
      long deadline, TrySender<T> sender, ResponseInfo<T> info, Telemetry.Call call) throws IOException {
    RouteRule rule = route.rule();
    RetryPolicy retry = rule.retry().orElse(null);
    int maxTries = 1 + (retry != null && replayable ? retry.numRetries() : 0);
    // Endpoints tried by this call, to prefer others on a retry: made at the first retry only.
    Set<EndpointState> tried = Set.of();
    List<IOException> earlierFailures = null;
    boolean holdingRetry = false;
    try {
      for (int number = 1; ; number++) {
        EndpointState endpoint = cluster.pick(hashKey, tried);
        if (endpoint == null) {
          call.rejected(MeshRejection.Reason.NO_ENDPOINTS);
          throw new MeshRejection(503, MeshRejection.Reason.NO_ENDPOINTS,
              "cluster '" + cluster.name() + "' has no endpoints");
        }
        long remaining = remainingNanos(deadline);
        if (remaining <= 0) {
          throw withSuppressed(timeout(rule), earlierFailures);
        }
        Duration tryTimeout = Duration.ofNanos(Math.min(remaining,
            retry != null && retry.perTryTimeout().isPresent() ? retry.perTryTimeout().get().toNanos() : remaining));
        T response = null;
        IOException failure = null;
        Outcome outcome;
        endpoint.active.incrementAndGet();
        endpoint.load.issued();
        long sent = nanoTime.getAsLong();
        try {
          // A transparent resend (a dead pooled connection) stays inside this try: reported, not
          // retried here, not recorded for outlier detection (the endpoint did nothing wrong).
          response = sender.send(new TryPlan(endpoint.config(), tryTimeout, number, call.headers(),
              e -> call.resentTransparently(cluster.name(), endpoint.config(), info.classify(e), e)));
          outcome = Outcome.ofStatus(info.status(response));
        } catch (IOException e) {
          failure = e;
          outcome = info.classify(e);
        } finally {
          endpoint.active.decrementAndGet();
        }
        endpoint.load.finished(outcome.isFailure(), nanoTime.getAsLong() - sent);
        if (response != null && deniedByMesh(info, response)) {
          endpoint.load.denied();
        }
        cluster.record(endpoint, outcome);
        call.tried(cluster.name(), endpoint.address(), outcome);
        if (holdingRetry) {
          cluster.retryDone();
          holdingRetry = false;
        }
        int status = response != null ? info.status(response) : 0;
        // The grpc-status header is read only when a gRPC condition could retry this response.
        int grpcStatus = response != null && number < maxTries && retry.readsGrpcStatus()
            ? grpcStatus(info.header(response, "grpc-status")) : -1;
        boolean retryable = number < maxTries && retriable(retry, outcome, status, grpcStatus);
        long backoff = retryable ? backoffNanos(retry, number) : 0;
        if (retryable && backoff >= remainingNanos(deadline)) {
          retryable = false;
        }
        if (retryable && !cluster.tryRetry()) {
          call.retryBudgetExhausted();
          retryable = false;
        }
        if (!retryable) {
          if (failure == null) {
            return response;
          }
          throw withSuppressed(failure, earlierFailures);
        }
        holdingRetry = true;
        if (tried.isEmpty()) {
          tried = new HashSet<>(4);
        }
        tried.add(endpoint);
        call.retry();
        if (response != null) {
          info.discard(response);
        } else {
          if (earlierFailures == null) {
            earlierFailures = new ArrayList<>(2);
          }
          earlierFailures.add(failure);
        }
        sleep(backoff);
      }
    } finally {
      if (holdingRetry) {
        cluster.retryDone();
      }
    }
  }

  /**
   * Whether the called service's inbound authorization refused this try: a 403 it marked with
   * {@link WireNames#DENIED_HEADER}, not the application's own 403. Reported in the load reports,
   * so that the control server's console shows the refused caller.
   */
  static <T> boolean deniedByMesh(ResponseInfo<T> info, T response) {
    return info.status(response) == 403 && "true".equals(info.header(response, WireNames.DENIED_HEADER));
  }

  private static InterruptedIOException timeout(RouteRule rule) {
    return new InterruptedIOException("route '" + rule.name() + "' timed out after "
        + rule.timeout().map(Duration::toMillis).orElse(0L) + " ms");
  }

  /** The last failure with every earlier one attached directly, oldest first (as OkHttp does). */
  private static IOException withSuppressed(IOException last, List<IOException> earlier) {
    if (earlier != null) {
      for (IOException e : earlier) {
        if (e != last) {
          last.addSuppressed(e);
        }
      }
    }
    return last;
  }

  /** Nanoseconds left until a deadline; compared by difference, as nanoTime values must be. */
  private long remainingNanos(long deadline) {
    return deadline == NO_DEADLINE ? Long.MAX_VALUE : deadline - nanoTime.getAsLong();
  }

  /** Whether Envoy's {@code retry_on} conditions allow a retry of this outcome. */
  static boolean retriable(RetryPolicy retry, Outcome outcome, int status) {
    return retriable(retry, outcome, status, -1);
  }

  /**
   * Whether Envoy's {@code retry_on} conditions allow a retry of this outcome.
   *
   * @param grpcStatus the response's {@code grpc-status} header, or -1: a response carrying one
   *     is retried under the gRPC condition of that name, as Envoy retries it
   */
  static boolean retriable(RetryPolicy retry, Outcome outcome, int status, int grpcStatus) {
    if (retry == null) {
      return false;
    }
    Set<RetryOn> on = retry.on();
    RetryOn grpcCondition = switch (grpcStatus) {
      case 1 -> RetryOn.CANCELLED;
      case 4 -> RetryOn.DEADLINE_EXCEEDED;
      case 8 -> RetryOn.RESOURCE_EXHAUSTED;
      case 13 -> RetryOn.INTERNAL;
      case 14 -> RetryOn.UNAVAILABLE;
      default -> null;
    };
    if (grpcCondition != null && on.contains(grpcCondition) && (outcome == Outcome.RESPONSE
        || outcome == Outcome.SERVER_ERROR || outcome == Outcome.GATEWAY_ERROR)) {
      return true;
    }
    return switch (outcome) {
      case RESPONSE -> (on.contains(RetryOn.RETRIABLE_4XX) && status == 409)
          || (on.contains(RetryOn.RETRIABLE_STATUS_CODES) && retry.retriableStatusCodes().contains(status));
      case SERVER_ERROR -> on.contains(RetryOn.FIVE_XX)
          || (on.contains(RetryOn.RETRIABLE_STATUS_CODES) && retry.retriableStatusCodes().contains(status));
      case GATEWAY_ERROR -> on.contains(RetryOn.FIVE_XX) || on.contains(RetryOn.GATEWAY_ERROR)
          || (on.contains(RetryOn.RETRIABLE_STATUS_CODES) && retry.retriableStatusCodes().contains(status));
      case CONNECT_FAILURE -> on.contains(RetryOn.CONNECT_FAILURE) || on.contains(RetryOn.RESET)
          || on.contains(RetryOn.FIVE_XX) || on.contains(RetryOn.GATEWAY_ERROR);
      case RESET, TIMEOUT -> on.contains(RetryOn.RESET) || on.contains(RetryOn.FIVE_XX)
          || on.contains(RetryOn.GATEWAY_ERROR);
      // Envoy retries any reset, refused streams included, under reset, 5xx and gateway-error.
      case REFUSED_STREAM -> on.contains(RetryOn.REFUSED_STREAM) || on.contains(RetryOn.RESET)
          || on.contains(RetryOn.FIVE_XX) || on.contains(RetryOn.GATEWAY_ERROR);
    };
  }

  /** A {@code grpc-status} header's code, or -1 when absent or not a number. */
  private static int grpcStatus(String header) {
    if (header == null || header.isEmpty() || header.length() > 2) {
      return -1;
    }
    try {
      return Integer.parseInt(header);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Envoy's fully jittered exponential backoff: random in [0, min(base * 2^(n-1), max)). */
  static long backoffNanos(RetryPolicy retry, int retryNumber) {
    // In nanoseconds: Envoy accepts intervals below the millisecond that Resilience4j refuses.
    return Backoff.fullJitter(retry.baseInterval().toNanos(), retry.maxInterval().toNanos(), retryNumber);
  }

  private static void sleep(long nanos) throws InterruptedIOException {
    if (nanos <= 0) {
      return;
    }
    try {
      Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted");
    }
  }

  /** The clusters in force now, for the load reports. */
  public java.util.Collection<ClusterRuntime> clusters() {
    return state.clusters().values();
  }

  /** For diagnostics: the runtime state of a cluster, if it exists. */
  public Optional<ClusterRuntime> cluster(String name) {
    return Optional.ofNullable(state.clusters().get(name));
  }
}
