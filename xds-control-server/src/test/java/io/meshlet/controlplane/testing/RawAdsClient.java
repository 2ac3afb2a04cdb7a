package io.meshlet.controlplane.testing;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A bare ADS client on java-control-plane's generated stubs: it sends exactly the requests a
 * test writes (no automatic ACKs) and queues every response, so a test can play the xDS protocol
 * step by step, NACKs and reconnects included.
 *
 * <p>{@link #close()} ends every stream and shuts the channel down.
 */
public final class RawAdsClient implements AutoCloseable {

  public static final String LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener";
  public static final String ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
  public static final String CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
  public static final String ENDPOINTS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

  private final ManagedChannel channel;

  public RawAdsClient(int xdsPort) {
    this(xdsPort, InsecureChannelCredentials.create());
  }

  /** A client with these credentials, e.g. TLS to a control server, with or without an SVID. */
  public RawAdsClient(int xdsPort, io.grpc.ChannelCredentials credentials) {
    this.channel = Grpc.newChannelBuilderForAddress("127.0.0.1", xdsPort, credentials).build();
  }

  /** A node with the given id, in cluster {@code raw-ads-test}. */
  public static Node node(String id) {
    return Node.newBuilder().setId(id).setCluster("raw-ads-test").setUserAgentName("meshlet-raw-ads-test")
        .build();
  }

  /** Opens a state-of-the-world ADS stream. */
  public Stream<DiscoveryRequest, DiscoveryResponse> sotw() {
    Stream<DiscoveryRequest, DiscoveryResponse> stream = new Stream<>();
    stream.requests = AggregatedDiscoveryServiceGrpc.newStub(channel)
        .streamAggregatedResources(stream.observer());
    return stream;
  }

  /** Opens an incremental (delta) ADS stream. */
  public Stream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> delta() {
    Stream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> stream = new Stream<>();
    stream.requests = AggregatedDiscoveryServiceGrpc.newStub(channel)
        .deltaAggregatedResources(stream.observer());
    return stream;
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** One ADS stream: requests go out as written, responses queue up until taken. */
  public static final class Stream<Q, R> implements AutoCloseable {
    private final BlockingQueue<R> responses = new LinkedBlockingQueue<>();
    private volatile Throwable error;
    private volatile boolean completed;
    private StreamObserver<Q> requests;

    private StreamObserver<R> observer() {
      return new StreamObserver<>() {
        @Override
        public void onNext(R value) {
          responses.add(value);
        }

        @Override
        public void onError(Throwable t) {
          error = t;
        }

        @Override
        public void onCompleted() {
          completed = true;
        }
      };
    }

    public Stream<Q, R> send(Q request) {
      synchronized (this) {
        requests.onNext(request);
      }
      return this;
    }

    /** The next response; fails when none comes within the timeout. */
    public R next(Duration timeout) {
      R r = poll(timeout);
      if (r == null) {
        throw new AssertionError("no xDS response within " + timeout.toMillis() + " ms"
            + (error != null ? "; stream failed: " + error : completed ? "; stream completed" : ""));
      }
      return r;
    }

    /** The next response, or null when none comes within the timeout. */
    public R poll(Duration timeout) {
      try {
        return responses.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for an xDS response", e);
      }
    }

    /** The error the stream ended with, if it did. */
    public Throwable error() {
      return error;
    }

    @Override
    public void close() {
      synchronized (this) {
        try {
          requests.onCompleted();
        } catch (RuntimeException e) {
          // already closed
        }
      }
    }
  }
}
