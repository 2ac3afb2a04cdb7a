package io.meshlet.controlplane.internal.serving;

import io.envoyproxy.envoy.service.load_stats.v3.LoadReportingServiceGrpc;
import io.envoyproxy.envoy.service.load_stats.v3.LoadStatsRequest;
import io.envoyproxy.envoy.service.load_stats.v3.LoadStatsResponse;
import io.grpc.stub.StreamObserver;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterStats;
import io.meshlet.controlplane.internal.lrs.LoadStore;
import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The load reporting service (LRS): clients' load reports go into a {@link LoadStore}.
 *
 * <p>Every cluster names this server ({@code lrs_server: self}), so grpc-java and grpc-js report
 * the load of every cluster (grpc-java also enforces a {@code max_requests} circuit breaker only
 * then: it counts requests in flight with the tracer that gathers load reports); Meshlet clients
 * report over the same stream type. Each client is asked for every cluster
 * ({@code send_all_clusters}) at the store's interval.
 */
public final class LoadReportSink extends LoadReportingServiceGrpc.LoadReportingServiceImplBase {

  private static final Logger log = LoggerFactory.getLogger(LoadReportSink.class);
  private final LongAdder reports = new LongAdder();
  private final LoadStore store;
  private final Duration interval;

  /**
   * @param store where the reports go
   * @param interval how often clients are asked to report ({@code load_reporting_interval})
   */
  public LoadReportSink(LoadStore store, Duration interval) {
    this.store = store;
    this.interval = interval;
  }

  /** Load reports received so far. */
  public long reports() {
    return reports.sum();
  }

  @Override
  public StreamObserver<LoadStatsRequest> streamLoadStats(StreamObserver<LoadStatsResponse> responses) {
    return new StreamObserver<>() {
      private boolean answered;
      /** The node id: only the first request must carry the node (grpc-java sends it on each). */
      private String nodeId = "";

      @Override
      public void onNext(LoadStatsRequest request) {
        reports.increment();
        if (!answered) {
          answered = true;
          nodeId = request.getNode().getId();
          String agent = request.getNode().getUserAgentName() + " " + request.getNode().getUserAgentVersion();
          store.opened(nodeId, request.getNode().getCluster(), agent.strip());
          log.debug("[{}] load reporting stream opened", nodeId);
          responses.onNext(LoadStatsResponse.newBuilder()
              .setSendAllClusters(true)
              .setLoadReportingInterval(com.google.protobuf.Duration.newBuilder()
                  .setSeconds(interval.getSeconds()).setNanos(interval.getNano()))
              .build());
        }
        for (ClusterStats stats : request.getClusterStatsList()) {
          store.add(nodeId, stats);
        }
        if (request.getClusterStatsCount() > 0) {
          store.reported(nodeId);
        }
      }

      @Override
      public void onError(Throwable t) {
        // The client went away; nothing to clean up.
      }

      @Override
      public void onCompleted() {
        responses.onCompleted();
      }
    };
  }
}
