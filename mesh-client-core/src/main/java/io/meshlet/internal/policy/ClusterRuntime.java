package io.meshlet.internal.policy;

import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.OutlierPolicy;
import io.meshlet.internal.telemetry.ClusterEvents;
import io.meshlet.transport.Outcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * One cluster at runtime: its endpoints with their state, the load balancer, the concurrency
 * limits and outlier detection. Immutable config, thread-safe state, no locks on the pick path.
 */
public final class ClusterRuntime {

  /** How long a request may wait for a slot when {@code maxRequests} are in flight. */
  static final Duration PENDING_WAIT = Duration.ofSeconds(1);
  /** Envoy's and gRPC's default {@code max_ejection_time}; Meshlet refuses other values. */
  static final Duration MAX_EJECTION_TIME = Duration.ofSeconds(300);

  private final ClusterConfig config;
  private final List<EndpointState> endpoints;
  private final LongSupplier nanoTime;
  private final ClusterEvents events;
  private final AtomicLong roundRobin;
  private final Bulkhead requests;
  private final Bulkhead admitted;
  private final AtomicInteger activeRetries;
  private final AtomicLong nextEvaluationNanos = new AtomicLong();
  private final boolean weighted;
  private final long[] ringHashes;
  private final EndpointState[] ringEndpoints;
  /** The endpoints of priority 0 that EDS says are healthy; {@link #endpoints} when there is no other priority. */
  private final List<EndpointState> priority0;
  /** Every endpoint of priority 0, healthy or not: the healthy share's denominator. */
  private final int priority0Total;

  private ClusterRuntime(ClusterConfig config, List<EndpointState> endpoints, LongSupplier nanoTime,
      ClusterEvents events, AtomicLong roundRobin, Bulkhead requests, Bulkhead admitted, AtomicInteger activeRetries) {
    this.config = config;
    this.endpoints = List.copyOf(endpoints);
    List<EndpointState> p0 = this.endpoints.stream().filter(e -> e.config().priority() == 0).toList();
    this.priority0 = p0.size() == this.endpoints.size() ? this.endpoints : p0;
    this.priority0Total = (int) config.endpoints().stream().filter(e -> e.priority() == 0).count();
    this.nanoTime = nanoTime;
    this.events = events;
    this.roundRobin = roundRobin;
    this.requests = requests;
    this.admitted = admitted;
    this.activeRetries = activeRetries;
    this.weighted = endpoints.stream().mapToInt(e -> e.config().weight()).distinct().count() > 1;
    if (config.loadBalancing() == ClusterConfig.LoadBalancing.RING_HASH && !endpoints.isEmpty()) {
      long[][] ring = buildRing(this.endpoints.stream().map(EndpointState::config).toList(), config.ringSize());
      this.ringHashes = ring[0];
      this.ringEndpoints = new EndpointState[ring[1].length];
      for (int i = 0; i < ring[1].length; i++) {
        ringEndpoints[i] = this.endpoints.get((int) ring[1][i]);
      }
    } else {
      this.ringHashes = new long[0];
      this.ringEndpoints = new EndpointState[0];
    }
  }

  /**
   * The runtime for a new version of a cluster, keeping the state of endpoints and limits that
   * carry over from the previous version.
   */
  static ClusterRuntime create(ClusterConfig config, ClusterRuntime previous, LongSupplier nanoTime,
      ClusterEvents events) {
    if (previous != null && previous.events == events && previous.nanoTime == nanoTime && previous.config.equals(config)) {
      return previous;    // unchanged (a snapshot made for another service's sake): nothing to rebuild
    }
    List<EndpointState> states = new ArrayList<>();
    for (EndpointConfig e : config.endpoints()) {
      if (!e.healthy()) {
        continue;   // EDS says it takes no calls: never picked, only counted (priority0Total)
      }
      EndpointState kept = null;
      if (previous != null) {
        for (EndpointState p : previous.endpoints) {
          if (p.config().equals(e)) {
            kept = p;
            break;
          }
        }
      }
      states.add(kept != null ? kept : new EndpointState(e));
    }
    boolean sameLimits = previous != null && previous.config.limits().equals(config.limits());
    Bulkhead requests = sameLimits ? previous.requests : Bulkhead.of(config.name(), BulkheadConfig.custom()
        .maxConcurrentCalls(config.limits().maxRequests())
        .maxWaitDuration(config.limits().maxPendingRequests() > 0 ? PENDING_WAIT : Duration.ZERO)
        .build());
    Bulkhead admitted = sameLimits ? previous.admitted : Bulkhead.of(config.name() + "/admitted",
        BulkheadConfig.custom()
            .maxConcurrentCalls(config.limits().maxRequests() + config.limits().maxPendingRequests())
            .maxWaitDuration(Duration.ZERO)
            .build());
    return new ClusterRuntime(config, states, nanoTime, events,
        previous != null ? previous.roundRobin : new AtomicLong(),
        requests, admitted, previous != null ? previous.activeRetries : new AtomicInteger());
  }

  public ClusterConfig config() {
    return config;
  }

  public String name() {
    return config.name();
  }

  public List<EndpointState> endpoints() {
    return endpoints;
  }

  // ---- limits (Envoy circuit breakers) ----

  /**
   * Takes a request slot; may wait briefly when {@code maxRequests} are in flight and fewer than
   * {@code maxPendingRequests} wait. Every true must be paired with {@link #release()}.
   */
  boolean tryAcquire() {
    if (!admitted.tryAcquirePermission()) {
      return false;
    }
    if (!requests.tryAcquirePermission()) {
      admitted.onComplete();
      return false;
    }
    return true;
  }

  void release() {
    requests.onComplete();
    admitted.onComplete();
  }

  /** Takes a retry slot (the retry budget); every true must be paired with {@link #retryDone()}. */
  boolean tryRetry() {
    while (true) {
      int n = activeRetries.get();
      if (n >= config.limits().maxRetries()) {
        return false;
      }
      if (activeRetries.compareAndSet(n, n + 1)) {
        return true;
      }
    }
  }

  void retryDone() {
    activeRetries.decrementAndGet();
  }

  // ---- load balancing ----

  /**
   * Picks an endpoint for a new call, as the engine's first try would.
   *
   * @param hashKey the ring hash key, or null
   * @return the endpoint, or null when the cluster has none
   */
  public EndpointConfig pickEndpoint(String hashKey) {
    EndpointState e = pick(hashKey, Set.of());
    return e == null ? null : e.config();
  }

  /**
   * Picks an endpoint that is not ejected, preferring one not already tried.
   *
   * @param hashKey the ring hash key, or null for a random point on the ring
   * @param tried endpoints this call already tried
   * @return the endpoint, or null when the cluster has none
   */
  EndpointState pick(String hashKey, Set<EndpointState> tried) {
    if (endpoints.isEmpty()) {
      return null;
    }
    long now = nanoTime.getAsLong();
    maybeEvaluateFailurePercentage(now);
    List<EndpointState> pool = pool(now);
    if (pool != endpoints && !hasEligible(pool, tried, now)) {
      // Every endpoint of priority 0 was tried (or is ejected): a retry goes to another priority
      // (zone-aware routing: another zone) rather than again to one that just failed.
      pool = endpoints;
    }
    return pickFrom(pool, hashKey, tried, now);
  }

  /**
   * The endpoints a call may go to, by EDS priority (Envoy's priority levels, zone-aware routing's
   * "own zone first"): priority 0 while its available share (EDS-healthy and not ejected, over all
   * its endpoints) times the overprovisioning factor is at least 100%; below that, every endpoint
   * of every priority. Envoy would move only the missing part of the traffic to priority 1
   * (proportional spill); Meshlet spreads it all, the simplest rule that never overloads what is
   * left of priority 0.
   */
  List<EndpointState> pool(long now) {
    if (priority0 == endpoints) {
      return endpoints;
    }
    int available = 0;
    for (int i = 0; i < priority0.size(); i++) {
      if (!priority0.get(i).ejected(now)) {
        available++;
      }
    }
    return (long) available * config.overprovisioningFactor() >= 100L * priority0Total && available > 0
        ? priority0 : endpoints;
  }

  private static boolean hasEligible(List<EndpointState> pool, Set<EndpointState> tried, long now) {
    for (int i = 0; i < pool.size(); i++) {
      EndpointState e = pool.get(i);
      if (!e.ejected(now) && !tried.contains(e)) {
        return true;
      }
    }
    return false;
  }

  private EndpointState pickFrom(List<EndpointState> pool, String hashKey, Set<EndpointState> tried, long now) {
    int n = pool.size();
    int eligible = 0;
    for (int i = 0; i < n; i++) {
      EndpointState e = pool.get(i);
      if (!e.ejected(now) && !tried.contains(e)) {
        eligible++;
      }
    }
    if (eligible == n) {
      // The common case: every endpoint may be picked; choose without copying.
      return switch (config.loadBalancing()) {
        case ROUND_ROBIN -> weighted ? weightedRandom(pool, n)
            : pool.get((int) Math.floorMod(roundRobin.getAndIncrement(), (long) n));
        case RANDOM -> weighted ? weightedRandom(pool, n)
            : pool.get(ThreadLocalRandom.current().nextInt(n));
        case LEAST_REQUEST -> leastRequest(pool, n);
        case RING_HASH -> ring(hashKey, pool, n);
      };
    }
    List<EndpointState> candidates = new ArrayList<>(n);
    for (EndpointState e : pool) {
      if (!e.ejected(now) && !tried.contains(e)) {
        candidates.add(e);
      }
    }
    if (candidates.isEmpty()) {
      for (EndpointState e : pool) {
        if (!e.ejected(now)) {
          candidates.add(e);
        }
      }
    }
    if (candidates.isEmpty()) {
      // Everything is ejected: Envoy then balances over all endpoints (panic mode).
      candidates.addAll(pool);
    }
    int count = candidates.size();
    return switch (config.loadBalancing()) {
      case ROUND_ROBIN -> weighted ? weightedRandom(candidates, count)
          : candidates.get((int) Math.floorMod(roundRobin.getAndIncrement(), (long) count));
      case RANDOM -> weighted ? weightedRandom(candidates, count)
          : candidates.get(ThreadLocalRandom.current().nextInt(count));
      case LEAST_REQUEST -> leastRequest(candidates, count);
      case RING_HASH -> ring(hashKey, candidates, count);
    };
  }

  private static EndpointState weightedRandom(List<EndpointState> c, int count) {
    long total = 0;
    for (int i = 0; i < count; i++) {
      total += c.get(i).config().weight();
    }
    long r = ThreadLocalRandom.current().nextLong(total);
    for (int i = 0; i < count; i++) {
      r -= c.get(i).config().weight();
      if (r < 0) {
        return c.get(i);
      }
    }
    return c.get(count - 1);
  }

  private static EndpointState leastRequest(List<EndpointState> c, int count) {
    if (count == 1) {
      return c.get(0);
    }
    ThreadLocalRandom random = ThreadLocalRandom.current();
    EndpointState a = c.get(random.nextInt(count));
    EndpointState b = c.get(random.nextInt(count));
    return b.active.get() < a.active.get() ? b : a;
  }

  private EndpointState ring(String key, List<EndpointState> candidates, int count) {
    long hash = key == null ? ThreadLocalRandom.current().nextLong() : requestHash(key);
    int start = ringIndex(ringHashes, hash);
    for (int k = 0; k < ringHashes.length; k++) {
      EndpointState e = ringEndpoints[(start + k) % ringHashes.length];
      if (candidates == endpoints || candidates.contains(e)) {
        return e;
      }
    }
    return candidates.get(0);
  }

  /** The hash of a request's key (the hash header's values joined by ','), as grpc-java computes it. */
  static long requestHash(String key) {
    return XxHash64.hashAscii(key);
  }

  /**
   * The ring entry a request hash lands on, as grpc-java's {@code RingHashPicker.getTargetIndex}
   * finds it: the first entry whose hash is at or above the request's, in signed order; a hash
   * above every entry takes the last entry. (Envoy orders the ring unsigned and wraps to the first
   * entry; grpc-java is the client this must agree with, and {@code ClusterRuntimeTest} checks
   * this against a copy of grpc-java's search.)
   */
  static int ringIndex(long[] ring, long hash) {
    int low = 0;
    int high = ring.length;
    while (low < high) {
      int mid = (low + high) >>> 1;
      if (ring[mid] < hash) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    return Math.min(low, ring.length - 1);
  }

  /**
   * The key an endpoint is placed on the ring by, as grpc-java writes its address
   * ({@code InetSocketAddress.toString()} of an IP: {@code /127.0.0.1:9001},
   * {@code /0:0:0:0:0:0:0:1:9001}). grpc-java takes IP addresses only; a host name keeps
   * {@code host:port}.
   */
  static String ringKey(EndpointConfig e) {
    String host = e.host();
    boolean literal = host.indexOf(':') >= 0 || host.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'));
    if (literal) {
      try {
        // A literal is parsed, never looked up.
        return "/" + java.net.InetAddress.getByName(host).getHostAddress() + ":" + e.port();
      } catch (java.net.UnknownHostException ex) {
        // not a literal after all: fall through
      }
    }
    return host + ":" + e.port();
  }

  /**
   * Builds the ring as grpc-java's {@code RingHashLoadBalancer} does (gRFC A42, Envoy's ring):
   * the scale gives the least-weighted endpoint {@code ceil(min_ring_size * its share)} entries,
   * capped so the ring has at most {@code max_ring_size}; each endpoint then takes entries up to
   * its cumulative share of the scale, each the xxHash64 of {@code "<address>_<n>"}; the ring is
   * sorted by hash (signed, as grpc-java sorts it).
   *
   * <p>With equal weights, as Meshlet's control server sends, every endpoint gets the same count
   * whatever the order; with unequal weights grpc-java's order is that of a hash map, so counts
   * may differ by one entry between the two.
   */
  static long[][] buildRing(List<EndpointConfig> endpoints, ClusterConfig.RingSize size) {
    long totalWeight = 0;
    long minWeight = Long.MAX_VALUE;
    for (EndpointConfig e : endpoints) {
      totalWeight += e.weight();
      minWeight = Math.min(minWeight, e.weight());
    }
    double normalizedMinWeight = (double) minWeight / totalWeight;
    double scale = Math.min(Math.ceil(normalizedMinWeight * size.min()) / normalizedMinWeight, (double) size.max());
    List<long[]> points = new ArrayList<>();
    double currentHashes = 0;
    double targetHashes = 0;
    StringBuilder sb = new StringBuilder();
    for (int idx = 0; idx < endpoints.size(); idx++) {
      EndpointConfig e = endpoints.get(idx);
      sb.setLength(0);
      sb.append(ringKey(e)).append('_');
      int prefix = sb.length();
      targetHashes += scale * ((double) e.weight() / totalWeight);
      for (long i = 0; currentHashes < targetHashes; i++, currentHashes++) {
        sb.append(i);
        points.add(new long[] {XxHash64.hashAscii(sb), idx});
        sb.setLength(prefix);
      }
    }
    points.sort((x, y) -> Long.compare(x[0], y[0]));
    long[] hashes = new long[points.size()];
    long[] owners = new long[points.size()];
    for (int i = 0; i < points.size(); i++) {
      hashes[i] = points.get(i)[0];
      owners[i] = points.get(i)[1];
    }
    return new long[][] {hashes, owners};
  }

  // ---- outlier detection ----

  /** Reports how a try to an endpoint ended. */
  void record(EndpointState e, Outcome outcome) {
    OutlierPolicy policy = config.outlierDetection().orElse(null);
    if (policy == null) {
      return;
    }
    e.intervalRequests.increment();
    if (outcome.isFailure()) {
      e.intervalFailures.increment();
    }
    if (!outcome.isFailure() && e.consecutive5xx == 0 && e.consecutiveGateway == 0) {
      // Nothing to reset: no lock on the common path (every try of every call to the endpoint
      // would take it). A failure racing with this success orders after it, as it could anyway.
      return;
    }
    String why = null;
    synchronized (e) {
      if (!outcome.isFailure()) {
        e.consecutive5xx = 0;
        e.consecutiveGateway = 0;
        return;
      }
      e.consecutive5xx++;
      if (outcome.isGatewayFailure()) {
        e.consecutiveGateway++;
      } else {
        e.consecutiveGateway = 0;
      }
      if (policy.consecutive5xx() > 0 && e.consecutive5xx >= policy.consecutive5xx()) {
        why = e.consecutive5xx + " consecutive errors";
      } else if (policy.consecutiveGatewayFailure() > 0 && e.consecutiveGateway >= policy.consecutiveGatewayFailure()) {
        why = e.consecutiveGateway + " consecutive gateway failures";
      }
    }
    if (why != null) {
      eject(e, policy, why);
    }
  }

  private void eject(EndpointState e, OutlierPolicy policy, String why) {
    long now = nanoTime.getAsLong();
    Duration time;
    synchronized (this) {
      if (e.ejected(now) || !ejectionAllowed(policy, now)) {
        return;
      }
      synchronized (e) {
        long intervals = e.lastEjectionEndNanos == 0 ? 0
            : Math.max(0, (now - e.lastEjectionEndNanos) / Math.max(1, policy.interval().toNanos()));
        e.ejections = (int) Math.max(0, e.ejections - intervals) + 1;
        time = ejectionTime(policy, e.ejections);
        e.ejectedUntilNanos = now + time.toNanos();
        e.lastEjectionEndNanos = e.ejectedUntilNanos;
        e.consecutive5xx = 0;
        e.consecutiveGateway = 0;
      }
    }
    events.ejected(config.name(), e.config(), time, why);
  }

  /**
   * The base ejection time times the ejection count, capped as Envoy and gRPC cap it when
   * {@code max_ejection_time} is unset: at 300 s, or at the base time when that is longer.
   */
  static Duration ejectionTime(OutlierPolicy policy, int ejections) {
    Duration base = policy.baseEjectionTime();
    Duration cap = base.compareTo(MAX_EJECTION_TIME) > 0 ? base : MAX_EJECTION_TIME;
    long n = Math.max(1, ejections);
    return base.toNanos() > cap.toNanos() / n ? cap : base.multipliedBy(n);
  }

  private boolean ejectionAllowed(OutlierPolicy policy, long now) {
    if (policy.maxEjectionPercent() == 0) {
      return false;
    }
    int ejected = 0;
    for (EndpointState x : endpoints) {
      if (x.ejected(now)) {
        ejected++;
      }
    }
    return ejected == 0 || (ejected + 1) * 100L <= (long) policy.maxEjectionPercent() * endpoints.size();
  }

  private void maybeEvaluateFailurePercentage(long now) {
    OutlierPolicy policy = config.outlierDetection().orElse(null);
    if (policy == null || policy.failurePercentage().isEmpty()) {
      return;
    }
    long next = nextEvaluationNanos.get();
    if (next == 0) {
      nextEvaluationNanos.compareAndSet(0, now + policy.interval().toNanos());
      return;
    }
    if (now - next < 0 || !nextEvaluationNanos.compareAndSet(next, now + policy.interval().toNanos())) {
      return;
    }
    OutlierPolicy.FailurePercentage fp = policy.failurePercentage().get();
    List<EndpointState> judged = new ArrayList<>();
    Map<EndpointState, long[]> counts = new java.util.HashMap<>();
    for (EndpointState e : endpoints) {
      long requests = e.intervalRequests.sumThenReset();
      long failures = e.intervalFailures.sumThenReset();
      if (requests >= fp.requestVolume()) {
        judged.add(e);
        counts.put(e, new long[] {requests, failures});
      }
    }
    if (judged.size() < fp.minimumHosts()) {
      return;
    }
    for (EndpointState e : judged) {
      long[] c = counts.get(e);
      long percent = 100 * c[1] / c[0];
      if (percent >= fp.threshold()) {
        eject(e, policy, percent + "% of " + c[0] + " requests failed");
      }
    }
  }
}
