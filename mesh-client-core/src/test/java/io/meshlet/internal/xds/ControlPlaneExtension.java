package io.meshlet.internal.xds;

import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.DiscoveryServerCallbacks;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A stock xDS server for tests: java-control-plane's {@link V3DiscoveryServer} over a
 * {@link SimpleCache} on a loopback port, driven with {@link #setSnapshot}. Every node gets the
 * same snapshot. Started before each test, stopped after it.
 *
 * <pre>{@code
 * @RegisterExtension final ControlPlaneExtension server = new ControlPlaneExtension();
 * ...
 * server.setSnapshot(Snapshot.create(clusters, endpoints, listeners, routes, List.of(), "1"));
 * }</pre>
 */
final class ControlPlaneExtension implements BeforeEachCallback, AfterEachCallback {

  private static final String GROUP = "mesh";

  /** Every request the server received, in order: ACKs, NACKs and subscriptions. */
  final BlockingQueue<DiscoveryRequest> requests = new LinkedBlockingQueue<>();

  private SimpleCache<String> cache;
  private Server server;
  private int port;

  @Override
  public void beforeEach(ExtensionContext context) throws IOException {
    start(0);
  }

  @Override
  public void afterEach(ExtensionContext context) {
    stop();
  }

  private void start(int requestedPort) throws IOException {
    cache = new SimpleCache<>(node -> GROUP);
    DiscoveryServerCallbacks callbacks = new DiscoveryServerCallbacks() {
      @Override
      public void onV3StreamRequest(long streamId, DiscoveryRequest request) {
        requests.add(request);
      }

      @Override
      public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {}
    };
    V3DiscoveryServer discovery = new V3DiscoveryServer(callbacks, cache);
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", requestedPort))
        .addService(discovery.getAggregatedDiscoveryServiceImpl())
        .build()
        .start();
    port = server.getPort();
  }

  /** Serves a new snapshot to every client. */
  void setSnapshot(Snapshot snapshot) {
    cache.setSnapshot(GROUP, snapshot);
  }

  /** {@code 127.0.0.1:<port>}, as clients name the server. */
  String target() {
    return "127.0.0.1:" + port;
  }

  /** Stops the server, ending every stream; a no-op when stopped. */
  void stop() {
    if (server == null) {
      return;
    }
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    server = null;
  }

  /** Starts a new server process, as after a restart: same port, empty cache, then this snapshot. */
  void restart(Snapshot snapshot) {
    stop();
    try {
      start(port);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    setSnapshot(snapshot);
  }
}
