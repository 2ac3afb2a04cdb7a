package io.meshlet.controlplane.internal.lrs;

import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterStats;
import io.envoyproxy.envoy.config.endpoint.v3.EndpointLoadMetricStats;
import io.envoyproxy.envoy.config.endpoint.v3.UpstreamEndpointStats;
import io.envoyproxy.envoy.config.endpoint.v3.UpstreamLocalityStats;
import io.meshlet.internal.wire.LoadMetrics;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The load clients reported over LRS, kept in memory for a bounded window: per service, route
 * target (the subset a cluster name {@code service/subset} names, or every endpoint) and instance,
 * in time buckets ({@link #DEFAULT_BUCKET} wide, {@link #DEFAULT_WINDOW} in all). Older buckets
 * are dropped; nothing is written anywhere.
 *
 * <p>What each client kind reports: Meshlet clients per endpoint, with latencies
 * ({@link LoadMetrics}); grpc-java and grpc-js per locality (one per cluster here), without
 * latency: their load shows under the instance {@link #ANY_INSTANCE}. With etcd replicas each
 * replica holds what its own clients reported.
 *
 * <p>Per caller too: the service of the node that sent a report (its xDS node's {@code cluster},
 * else its node id) is the caller of every cluster in it, so each service's figures are also kept
 * per calling service ({@link View#callers()}). Tries the called service's inbound authorization
 * refused are counted as denied when a Meshlet client reported them ({@link LoadMetrics#DENIED});
 * gRPC clients report a refusal ({@code PERMISSION_DENIED}) as an error like any other.
 *
 * <p>Thread-safe: reports arrive once per client per interval, so one lock is cheap.
 */
public final class LoadStore {

  /** Width of a time bucket. */
  public static final Duration DEFAULT_BUCKET = Duration.ofSeconds(10);
  /** How far back the store remembers. */
  public static final Duration DEFAULT_WINDOW = Duration.ofMinutes(5);
  /** The instance of load a client reported per locality only (grpc-java, grpc-js). */
  public static final String ANY_INSTANCE = "";

  /** At most this many service/target/instance keys per bucket. */
  static final int MAX_KEYS = 10_000;
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(LoadStore.class);
  private boolean overflowLogged;
  private boolean callerOverflowLogged;
  private long firstDataMillis = Long.MAX_VALUE;
  private final Clock clock;
  private final long bucketMillis;
  private final int maxBuckets;
  private final ArrayDeque<Bucket> buckets = new ArrayDeque<>();
  /** In flight now, per reporter, cluster and instance: the last report's figure. */
  private final Map<InFlightKey, InFlight> inFlight = new HashMap<>();
  private final Map<String, Reporter> reporters = new TreeMap<>();
  /** Since start, per service and target (never pruned: bounded by the mesh's clusters). */
  private final Map<Key, Tally> totals = new HashMap<>();
  /** Since start, per called service and caller (bounded like {@link #MAX_KEYS}). */
  private final Map<Caller, Tally> callerTotals = new HashMap<>();

  public LoadStore(Clock clock) {
    this(clock, DEFAULT_BUCKET, DEFAULT_WINDOW);
  }

  public LoadStore(Clock clock, Duration bucket, Duration window) {
    if (bucket.isZero() || bucket.isNegative() || window.compareTo(bucket) < 0) {
      throw new IllegalArgumentException("bucket: " + bucket + ", window: " + window
          + " (expected: a positive bucket no longer than the window)");
    }
    this.clock = clock;
    this.bucketMillis = bucket.toMillis();
    this.maxBuckets = (int) (window.toMillis() / bucketMillis);
  }

  /** Where load is counted: a service, the target of a route (a subset, or "" for all), an instance. */
  public record Key(String service, String target, String instance) {}

  /** A service and one service that calls it (the service of the client that reported the load). */
  public record Caller(String service, String caller) {}

  /** A client that reports load: its node id, service and agent, and when it last reported. */
  public record Reporter(String nodeId, String cluster, String agent, Instant lastReport, long reports) {}

  private record InFlightKey(String nodeId, String cluster, String instance) {}

  private record InFlight(long value, long atMillis) {}

  /** Counts of one key in one bucket. */
  static final class Tally {
    long issued;
    long succeeded;
    long errors;
    long denied;
    long latencyCount;
    double latencySumMillis;
    final long[] histogram = new long[LoadMetrics.buckets()];

    void add(Tally o) {
      issued += o.issued;
      succeeded += o.succeeded;
      errors += o.errors;
      denied += o.denied;
      latencyCount += o.latencyCount;
      latencySumMillis += o.latencySumMillis;
      for (int i = 0; i < histogram.length; i++) {
        histogram[i] += o.histogram[i];
      }
    }
  }

  private record Bucket(long startMillis, Map<Key, Tally> tallies, Map<Caller, Tally> callers) {}

  /** The service and target a cluster name stands for: {@code catalog/v2} is subset v2 of catalog. */
  public static Key key(String cluster, String instance) {
    int slash = cluster.indexOf('/');
    return slash < 0 ? new Key(cluster, "", instance)
        : new Key(cluster.substring(0, slash), cluster.substring(slash + 1), instance);
  }

  /** A client opened a load reporting stream. */
  public synchronized void opened(String nodeId, String cluster, String agent) {
    reporters.merge(nodeId, new Reporter(nodeId, cluster, agent, clock.instant(), 0),
        (old, now) -> new Reporter(nodeId, cluster, agent, old.lastReport(), old.reports()));
  }

  /** Adds one client's report of one cluster. */
  public synchronized void add(String nodeId, ClusterStats stats) {
    long now = clock.millis();
    Bucket bucket = bucket(now);
    String cluster = stats.getClusterName();
    // The first report covers the interval before it: rates count from its start.
    long covered = stats.getLoadReportInterval().getSeconds() * 1000 + stats.getLoadReportInterval().getNanos() / 1_000_000;
    firstDataMillis = Math.min(firstDataMillis, now - Math.min(covered, bucketMillis));
    Reporter reporter = reporters.get(nodeId);
    String caller = reporter == null || reporter.cluster().isEmpty() ? nodeId : reporter.cluster();
    for (UpstreamLocalityStats locality : stats.getUpstreamLocalityStatsList()) {
      if (locality.getUpstreamEndpointStatsCount() == 0) {
        count(bucket, nodeId, caller, cluster, ANY_INSTANCE, locality.getTotalIssuedRequests(),
            locality.getTotalSuccessfulRequests(), locality.getTotalErrorRequests(),
            locality.getTotalRequestsInProgress(), locality.getLoadMetricStatsList(), now);
        continue;
      }
      for (UpstreamEndpointStats e : locality.getUpstreamEndpointStatsList()) {
        count(bucket, nodeId, caller, cluster, address(e.getAddress()), e.getTotalIssuedRequests(),
            e.getTotalSuccessfulRequests(), e.getTotalErrorRequests(), e.getTotalRequestsInProgress(),
            e.getLoadMetricStatsList(), now);
      }
    }
  }

  private void count(Bucket bucket, String nodeId, String caller, String cluster, String instance, long issued,
      long succeeded, long errors, long inProgress, List<EndpointLoadMetricStats> metrics, long now) {
    Tally t = new Tally();
    t.issued = issued;
    t.succeeded = succeeded;
    t.errors = errors;
    addLoadMetrics(t, metrics);
    Key key = key(cluster, instance);
    if (bucket.tallies().size() >= MAX_KEYS && !bucket.tallies().containsKey(key)) {
      // Cluster names come from clients: a client naming endless ones must not grow the heap.
      if (!overflowLogged) {
        overflowLogged = true;
        log.warn("[{}] load report for '{}' {} dropped: already {} keys in this {} s bucket (expected: at most "
            + "{} clusters x instances)", nodeId, cluster, instance, MAX_KEYS, bucketMillis / 1000, MAX_KEYS);
      }
      return;
    }
    bucket.tallies().computeIfAbsent(key, k -> new Tally()).add(t);
    totals.computeIfAbsent(new Key(key.service(), key.target(), ""), k -> new Tally()).add(t);
    Caller c = new Caller(key.service(), caller);
    if (callerTotals.containsKey(c) || callerTotals.size() < MAX_KEYS) {
      bucket.callers().computeIfAbsent(c, k -> new Tally()).add(t);
      callerTotals.computeIfAbsent(c, k -> new Tally()).add(t);
    } else if (!callerOverflowLogged) {
      // Node clusters come from clients too: counted for the service, not kept per caller.
      callerOverflowLogged = true;
      log.warn("[{}] load of caller '{}' for '{}' not kept per caller: already {} service/caller pairs (expected: at "
          + "most {})", nodeId, caller, key.service(), MAX_KEYS, MAX_KEYS);
    }
    inFlight.put(new InFlightKey(nodeId, cluster, instance), new InFlight(inProgress, now));
  }

  /** Everything reported since the server started, per service and route target. */
  public record Total(Key key, long issued, long succeeded, long errors, long latencyCount,
      double latencySumMillis, long[] histogram) {}

  /** Everything one caller reported of one service since the server started. */
  public record CallerTotal(Caller caller, long issued, long succeeded, long errors, long denied) {}

  /** The totals since start, per called service and caller: Prometheus counters. */
  public synchronized List<CallerTotal> callerTotals() {
    List<CallerTotal> out = new ArrayList<>();
    callerTotals.forEach((c, t) -> out.add(new CallerTotal(c, t.issued, t.succeeded, t.errors, t.denied)));
    out.sort(Comparator.comparing((CallerTotal t) -> t.caller().service()).thenComparing(t -> t.caller().caller()));
    return out;
  }

  /** The totals since start, per service and target: Prometheus counters and histograms. */
  public synchronized List<Total> totals() {
    List<Total> out = new ArrayList<>();
    totals.forEach((k, t) -> out.add(new Total(k, t.issued, t.succeeded, t.errors, t.latencyCount,
        t.latencySumMillis, t.histogram.clone())));
    out.sort(Comparator.comparing((Total t) -> t.key().service()).thenComparing(t -> t.key().target()));
    return out;
  }

  /** Requests in flight now per service, from the last reports. */
  public synchronized Map<String, Long> inFlightByService() {
    long now = clock.millis();
    Map<String, Long> out = new TreeMap<>();
    inFlight.forEach((k, v) -> {
      if (now - v.atMillis() <= 3 * bucketMillis) {
        out.merge(key(k.cluster(), "").service(), v.value(), Long::sum);
      }
    });
    return out;
  }

  /** A client's report as a whole was received (after its clusters were {@link #add added}). */
  public synchronized void reported(String nodeId) {
    Reporter r = reporters.get(nodeId);
    reporters.put(nodeId, new Reporter(nodeId, r == null ? "" : r.cluster(), r == null ? "" : r.agent(),
        clock.instant(), r == null ? 1 : r.reports() + 1));
  }

  private static void addLoadMetrics(Tally t, List<EndpointLoadMetricStats> metrics) {
    for (EndpointLoadMetricStats m : metrics) {
      if (m.getMetricName().equals(LoadMetrics.DENIED)) {
        t.denied += m.getNumRequestsFinishedWithMetric();
      } else if (m.getMetricName().equals(LoadMetrics.LATENCY_MS)) {
        t.latencyCount += m.getNumRequestsFinishedWithMetric();
        t.latencySumMillis += m.getTotalMetricValue();
      } else {
        int b = LoadMetrics.bucketOf(m.getMetricName());
        if (b >= 0) {
          t.histogram[b] += m.getNumRequestsFinishedWithMetric();
        }
      }
    }
  }

  static String address(Address a) {
    if (!a.hasSocketAddress()) {
      return a.toString().strip();
    }
    String host = a.getSocketAddress().getAddress();
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getSocketAddress().getPortValue();
  }

  private Bucket bucket(long now) {
    long start = now - Math.floorMod(now, bucketMillis);
    Bucket last = buckets.peekLast();
    if (last == null || last.startMillis() < start) {
      last = new Bucket(start, new HashMap<>(), new HashMap<>());
      buckets.addLast(last);
    }
    prune(now);
    return last;
  }

  private void prune(long now) {
    long oldest = now - (long) maxBuckets * bucketMillis;
    while (!buckets.isEmpty() && buckets.peekFirst().startMillis() < oldest) {
      buckets.removeFirst();
    }
  }

  /**
   * Figures of one service, target, instance or caller over a window. {@code denied} tries were
   * refused by the service's inbound authorization (also among {@code succeeded} or {@code errors},
   * as their status says); {@code deniedRate} is their share of the tries that finished.
   */
  public record Figures(long issued, long succeeded, long errors, long denied, double requestsPerSecond,
      double errorRate, double deniedRate, long inFlight, Optional<Latency> latency) {}

  /** Latency of the tries a Meshlet client reported: mean and percentiles in milliseconds. */
  public record Latency(long count, double meanMillis, double p50Millis, double p90Millis, double p99Millis) {}

  /** One row of the traffic view. */
  public record Row(Key key, Figures figures) {}

  /** One caller of one service in the traffic view. */
  public record CallerRow(Caller caller, Figures figures) {}

  /**
   * The traffic over the last {@code window} (at most the store's), in rows per key, the
   * requests issued per bucket for each service, oldest first, and each service's figures per caller.
   */
  public record View(Instant at, Duration window, Duration bucket, List<Row> instances, List<Row> targets,
      List<Row> services, Map<String, List<Double>> serviceSeries, List<Reporter> reporters, List<CallerRow> callers) {}

  /** The traffic over the last {@code window}, capped at what the store keeps. */
  public synchronized View view(Duration window) {
    long now = clock.millis();
    prune(now);
    long windowMillis = Math.min(window.toMillis(), (long) maxBuckets * bucketMillis);
    long since = now - windowMillis;
    Map<Key, Tally> byInstance = new TreeMap<>(Comparator.comparing(Key::service).thenComparing(Key::target)
        .thenComparing(Key::instance));
    Map<String, List<Double>> series = new TreeMap<>();
    Map<Caller, Tally> byCaller = new TreeMap<>(Comparator.comparing(Caller::service).thenComparing(Caller::caller));
    int slots = (int) Math.max(1, windowMillis / bucketMillis);
    long firstSlot = now - Math.floorMod(now, bucketMillis) - (long) (slots - 1) * bucketMillis;
    for (Bucket b : buckets) {
      boolean inWindow = b.startMillis() + bucketMillis > since;
      int slot = (int) ((b.startMillis() - firstSlot) / bucketMillis);
      if (inWindow) {
        b.callers().forEach((c, t) -> byCaller.computeIfAbsent(c, k -> new Tally()).add(t));
      }
      for (Map.Entry<Key, Tally> e : b.tallies().entrySet()) {
        if (inWindow) {
          byInstance.computeIfAbsent(e.getKey(), k -> new Tally()).add(e.getValue());
        }
        if (slot >= 0 && slot < slots) {
          List<Double> s = series.computeIfAbsent(e.getKey().service(), k -> zeros(slots));
          s.set(slot, s.get(slot) + e.getValue().issued * 1000.0 / bucketMillis);
        }
      }
    }
    Map<Key, Long> inFlightNow = new HashMap<>();
    long staleAfter = 3 * bucketMillis;
    for (Iterator<Map.Entry<InFlightKey, InFlight>> it = inFlight.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<InFlightKey, InFlight> e = it.next();
      if (now - e.getValue().atMillis() > staleAfter) {
        it.remove();
        continue;
      }
      inFlightNow.merge(key(e.getKey().cluster(), e.getKey().instance()), e.getValue().value(), Long::sum);
    }
    // Data younger than the window: rates over what was seen, not over the empty start.
    long firstData = buckets.isEmpty() ? now : Math.max(firstDataMillis, buckets.peekFirst().startMillis());
    double seconds = Math.max(1, Math.min(windowMillis, now - Math.max(since, firstData))) / 1000.0;
    Map<Key, Tally> byTarget = new LinkedHashMap<>();
    Map<Key, Tally> byService = new LinkedHashMap<>();
    Map<Key, Long> targetInFlight = new HashMap<>();
    Map<Key, Long> serviceInFlight = new HashMap<>();
    inFlightNow.forEach((k, v) -> {
      byInstance.computeIfAbsent(k, x -> new Tally());
      targetInFlight.merge(new Key(k.service(), k.target(), ""), v, Long::sum);
      serviceInFlight.merge(new Key(k.service(), "", ""), v, Long::sum);
    });
    for (Map.Entry<Key, Tally> e : byInstance.entrySet()) {
      Key k = e.getKey();
      byTarget.computeIfAbsent(new Key(k.service(), k.target(), ""), x -> new Tally()).add(e.getValue());
      byService.computeIfAbsent(new Key(k.service(), "", ""), x -> new Tally()).add(e.getValue());
    }
    List<Row> instances = new ArrayList<>();
    byInstance.forEach((k, t) -> instances.add(new Row(k, figures(t, seconds, inFlightNow.getOrDefault(k, 0L)))));
    List<Row> targets = new ArrayList<>();
    byTarget.forEach((k, t) -> targets.add(new Row(k, figures(t, seconds, targetInFlight.getOrDefault(k, 0L)))));
    List<Row> services = new ArrayList<>();
    byService.forEach((k, t) -> services.add(new Row(k, figures(t, seconds, serviceInFlight.getOrDefault(k, 0L)))));
    List<CallerRow> callers = new ArrayList<>();
    byCaller.forEach((c, t) -> callers.add(new CallerRow(c, figures(t, seconds, 0))));
    return new View(clock.instant(), Duration.ofMillis(windowMillis), Duration.ofMillis(bucketMillis),
        instances, targets, services, series, List.copyOf(reporters.values()), callers);
  }

  private static List<Double> zeros(int n) {
    List<Double> l = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      l.add(0.0);
    }
    return l;
  }

  static Figures figures(Tally t, double seconds, long inFlight) {
    long finished = t.succeeded + t.errors;
    return new Figures(t.issued, t.succeeded, t.errors, t.denied, t.issued / seconds,
        finished == 0 ? 0 : (double) t.errors / finished, finished == 0 ? 0 : (double) t.denied / finished,
        inFlight, latency(t));
  }

  static Optional<Latency> latency(Tally t) {
    if (t.latencyCount == 0) {
      return Optional.empty();
    }
    return Optional.of(new Latency(t.latencyCount, t.latencySumMillis / t.latencyCount,
        percentile(t.histogram, 0.5), percentile(t.histogram, 0.9), percentile(t.histogram, 0.99)));
  }

  /**
   * A percentile from a histogram, interpolated linearly within its bucket (as Prometheus'
   * {@code histogram_quantile} does); the last, unbounded bucket answers its lower bound.
   */
  static double percentile(long[] histogram, double q) {
    long total = 0;
    for (long c : histogram) {
      total += c;
    }
    if (total == 0) {
      return 0;
    }
    double rank = q * total;
    long seen = 0;
    for (int i = 0; i < histogram.length; i++) {
      if (histogram[i] == 0) {
        continue;
      }
      if (seen + histogram[i] >= rank) {
        double lower = i == 0 ? 0 : LoadMetrics.upperBoundMillis(i - 1);
        double upper = LoadMetrics.upperBoundMillis(i);
        if (Double.isInfinite(upper)) {
          return lower;
        }
        return lower + (upper - lower) * (rank - seen) / histogram[i];
      }
      seen += histogram[i];
    }
    return LoadMetrics.upperBoundMillis(histogram.length - 2);
  }
}
