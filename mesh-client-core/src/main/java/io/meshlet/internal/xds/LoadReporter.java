package io.meshlet.internal.xds;

import io.meshlet.internal.policy.EndpointLoad;
import io.meshlet.internal.wire.LoadMetrics;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterStats;
import io.envoyproxy.envoy.config.endpoint.v3.EndpointLoadMetricStats;
import io.envoyproxy.envoy.config.endpoint.v3.UpstreamEndpointStats;
import io.envoyproxy.envoy.config.endpoint.v3.UpstreamLocalityStats;
import io.envoyproxy.envoy.service.load_stats.v3.LoadReportingServiceGrpc;
import io.envoyproxy.envoy.service.load_stats.v3.LoadStatsRequest;
import io.envoyproxy.envoy.service.load_stats.v3.LoadStatsResponse;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.meshlet.internal.policy.ClusterRuntime;
import io.meshlet.internal.policy.EndpointState;
import java.time.Duration;
import java.util.Collection;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reports the load a {@code MeshClient} sends to each cluster and endpoint to the control server
 * it is connected to, over Envoy's load reporting service (LRS), as grpc-java does for its
 * clusters: requests issued, succeeded, failed and in flight per endpoint (one locality per
 * cluster, as the control server assigns them), and latencies and tries refused by the called
 * service's authorization as {@link LoadMetrics}.
 *
 * <p>The server's first response says which clusters it wants (or all) and how often; the reporter
 * then sends one report per interval with what each endpoint's {@link EndpointLoad} counted since
 * the last. Counting is the engine's (lock-free adders on each try); reporting runs on the given
 * executor, the client's config thread. When the stream breaks it is opened again after
 * {@link #RETRY}, or at once on the next server the xDS stream connects to.
 */
public final class LoadReporter implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(LoadReporter.class);
  /** How long to wait before reopening a broken stream to the same server. */
  static final Duration RETRY = Duration.ofSeconds(5);
  /** Reports are sent no more often than this, whatever the server asks. */
  static final Duration MIN_INTERVAL = Duration.ofMillis(200);

  private final Node node;
  private final Supplier<Collection<ClusterRuntime>> clusters;
  private final ScheduledExecutorService executor;
  private final LongSupplier nanoTime;
  // Confined to the executor.
  private Channel channel;
  private Session session;
  private boolean closed;

  /**
   * @param node the node the reports name (its id and service)
   * @param clusters the clusters the engine runs now
   * @param executor where streams are opened and reports built; single-threaded
   */
  public LoadReporter(Node node, Supplier<Collection<ClusterRuntime>> clusters, ScheduledExecutorService executor,
      LongSupplier nanoTime) {
    this.node = node;
    this.clusters = clusters;
    this.executor = executor;
    this.nanoTime = nanoTime;
  }

  /** The xDS stream is up on this channel: load goes to the same server, from now on. */
  public void connected(Channel to) {
    post(() -> {
      if (closed || to == channel && session != null) {
        return;
      }
      channel = to;
      open();
    });
  }

  @Override
  public void close() {
    post(() -> {
      closed = true;
      if (session != null) {
        session.end();
        session = null;
      }
    });
  }

  private void post(Runnable r) {
    try {
      executor.execute(r);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // The client is closing.
    }
  }

  private void open() {
    if (session != null) {
      session.end();
    }
    session = new Session();
    session.requests = LoadReportingServiceGrpc.newStub(channel).streamLoadStats(session);
    session.requests.onNext(LoadStatsRequest.newBuilder().setNode(node).build());
    log.debug("[{}] load reporting stream opened", node.getId());
  }

  /** One LRS stream. */
  private final class Session implements StreamObserver<LoadStatsResponse> {
    StreamObserver<LoadStatsRequest> requests;
    ScheduledFuture<?> reports;
    boolean all;
    Set<String> wanted = Set.of();
    long lastReportNanos = nanoTime.getAsLong();
    boolean ended;

    @Override
    public void onNext(LoadStatsResponse response) {
      post(() -> {
        if (ended) {
          return;
        }
        all = response.getSendAllClusters();
        wanted = Set.copyOf(response.getClustersList());
        long interval = Math.max(MIN_INTERVAL.toNanos(), toNanos(response.getLoadReportingInterval()));
        if (reports != null) {
          reports.cancel(false);
        }
        log.debug("[{}] load reports every {} ms for {}", node.getId(), interval / 1_000_000,
            all ? "every cluster" : wanted);
        reports = executor.scheduleAtFixedRate(this::report, interval, interval, TimeUnit.NANOSECONDS);
      });
    }

    @Override
    public void onError(Throwable t) {
      post(() -> broken(Status.fromThrowable(t)));
    }

    @Override
    public void onCompleted() {
      post(() -> broken(Status.UNAVAILABLE.withDescription("server closed the load reporting stream")));
    }

    private void broken(Status status) {
      if (ended || session != this) {
        return;
      }
      end();
      session = null;
      log.debug("[{}] load reporting stream ended ({}); reopening in {} s", node.getId(), status, RETRY.toSeconds());
      Channel was = channel;
      executor.schedule(() -> {
        if (!closed && session == null && channel == was) {
          open();
        }
      }, RETRY.toMillis(), TimeUnit.MILLISECONDS);
    }

    void end() {
      ended = true;
      if (reports != null) {
        reports.cancel(false);
      }
      try {
        requests.onCompleted();
      } catch (RuntimeException e) {
        // already gone
      }
    }

    private void report() {
      if (ended) {
        return;
      }
      long now = nanoTime.getAsLong();
      com.google.protobuf.Duration interval = fromNanos(now - lastReportNanos);
      lastReportNanos = now;
      LoadStatsRequest.Builder request = LoadStatsRequest.newBuilder().setNode(node);
      for (ClusterRuntime cluster : clusters.get()) {
        if (!all && !wanted.contains(cluster.name())) {
          continue;
        }
        ClusterStats stats = clusterStats(cluster, interval);
        if (stats != null) {
          request.addClusterStats(stats);
        }
      }
      try {
        requests.onNext(request.build());
      } catch (RuntimeException e) {
        log.debug("[{}] could not send a load report: {}", node.getId(), e.toString());
      }
    }
  }

  /** One cluster's load since the last report, or null when nothing was sent or is in flight. */
  static ClusterStats clusterStats(ClusterRuntime cluster, com.google.protobuf.Duration interval) {
    UpstreamLocalityStats.Builder locality = UpstreamLocalityStats.newBuilder()
        .setLocality(Locality.getDefaultInstance());
    long issued = 0;
    long succeeded = 0;
    long failed = 0;
    long inFlight = 0;
    for (EndpointState e : cluster.endpoints()) {
      EndpointLoad.Counts c = e.load().drain();
      int active = e.activeRequests();
      if (c.isEmpty() && active == 0) {
        continue;
      }
      UpstreamEndpointStats.Builder es = UpstreamEndpointStats.newBuilder()
          .setAddress(Address.newBuilder().setSocketAddress(SocketAddress.newBuilder()
              .setAddress(e.config().host()).setPortValue(e.config().port())))
          .setTotalIssuedRequests(c.issued())
          .setTotalSuccessfulRequests(c.succeeded())
          .setTotalErrorRequests(c.failed())
          .setTotalRequestsInProgress(active);
      if (c.finished() > 0) {
        es.addLoadMetricStats(EndpointLoadMetricStats.newBuilder().setMetricName(LoadMetrics.LATENCY_MS)
            .setNumRequestsFinishedWithMetric(c.finished()).setTotalMetricValue(c.latencyMicros() / 1000.0));
        for (int i = 0; i < c.bucketCounts().length; i++) {
          if (c.bucketCounts()[i] > 0) {
            es.addLoadMetricStats(EndpointLoadMetricStats.newBuilder().setMetricName(LoadMetrics.bucketName(i))
                .setNumRequestsFinishedWithMetric(c.bucketCounts()[i])
                .setTotalMetricValue(c.bucketMicros()[i] / 1000.0));
          }
        }
      }
      if (c.denied() > 0) {
        es.addLoadMetricStats(EndpointLoadMetricStats.newBuilder().setMetricName(LoadMetrics.DENIED)
            .setNumRequestsFinishedWithMetric(c.denied()).setTotalMetricValue(c.denied()));
      }
      locality.addUpstreamEndpointStats(es);
      issued += c.issued();
      succeeded += c.succeeded();
      failed += c.failed();
      inFlight += active;
    }
    if (locality.getUpstreamEndpointStatsCount() == 0) {
      return null;
    }
    locality.setTotalIssuedRequests(issued).setTotalSuccessfulRequests(succeeded)
        .setTotalErrorRequests(failed).setTotalRequestsInProgress(inFlight);
    return ClusterStats.newBuilder().setClusterName(cluster.name())
        .addUpstreamLocalityStats(locality).setLoadReportInterval(interval).build();
  }

  static long toNanos(com.google.protobuf.Duration d) {
    return d.getSeconds() * 1_000_000_000L + d.getNanos();
  }

  static com.google.protobuf.Duration fromNanos(long nanos) {
    return com.google.protobuf.Duration.newBuilder().setSeconds(nanos / 1_000_000_000L)
        .setNanos((int) (nanos % 1_000_000_000L)).build();
  }
}
