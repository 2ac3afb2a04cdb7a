package io.meshlet.controlplane.internal.serving;

import io.envoyproxy.envoy.service.load_stats.v3.LoadReportingServiceGrpc;
import io.envoyproxy.envoy.service.load_stats.v3.LoadStatsRequest;
import io.envoyproxy.envoy.service.load_stats.v3.LoadStatsResponse;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A load reporting (LRS) endpoint that accepts clients' load reports and counts them.
 *
 * <p>It exists because grpc-java enforces a cluster's {@code max_requests} circuit breaker only
 * when the cluster has an {@code lrs_server}: it counts requests in flight with the same stream
 * tracer that gathers load reports. Clusters with a circuit breaker therefore name this server
 * ({@code lrs_server: self}), and this sink answers the reports.
 */
public final class LoadReportSink extends LoadReportingServiceGrpc.LoadReportingServiceImplBase {

  private static final Logger log = LoggerFactory.getLogger(LoadReportSink.class);
  private final LongAdder reports = new LongAdder();

  /** Load reports received so far. */
  public long reports() {
    return reports.sum();
  }

  @Override
  public StreamObserver<LoadStatsRequest> streamLoadStats(StreamObserver<LoadStatsResponse> responses) {
    return new StreamObserver<>() {
      private boolean answered;

      @Override
      public void onNext(LoadStatsRequest request) {
        reports.increment();
        if (!answered) {
          answered = true;
          log.debug("[{}] load reporting stream opened", request.getNode().getId());
          responses.onNext(LoadStatsResponse.newBuilder()
              .setSendAllClusters(true)
              .setLoadReportingInterval(com.google.protobuf.Duration.newBuilder().setSeconds(10))
              .build());
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
