package io.meshlet.spring.autoconfigure;

import io.grpc.ManagedChannel;
import io.meshlet.MeshClient;
import io.meshlet.grpc.MeshGrpc;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * gRPC channels to mesh services, one {@code xds:///<service>} channel per service, made on first
 * use and kept: routing, load balancing, retries, timeouts and mTLS come from the mesh config
 * through grpc-java's own xDS client; the auto-configured bean's calls report the same metrics and
 * spans as HTTP calls. The auto-configuration installs the xDS bootstrap before it makes this bean. {@link #close()} shuts every channel down.
 *
 * <pre>{@code
 * CatalogGrpc.CatalogBlockingStub catalog = CatalogGrpc.newBlockingStub(channels.channel("catalog"));
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class MeshGrpcChannels implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(MeshGrpcChannels.class);

  private final Function<String, ManagedChannel> factory;
  private final Runnable onClose;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /**
   * Channels made by {@link MeshGrpc#channel(String)}, without Meshlet's telemetry; the bootstrap
   * must be installed already.
   */
  public MeshGrpcChannels() {
    this(MeshGrpc::channel, () -> { });
  }

  /**
   * Channels made by {@link MeshGrpc#channel(String, MeshClient)}: their calls report the metrics
   * and spans HTTP calls report, through the mesh client's OpenTelemetry. The bootstrap must be
   * installed already.
   */
  public MeshGrpcChannels(MeshClient mesh) {
    this(service -> MeshGrpc.channel(service, mesh), () -> { });
  }

  MeshGrpcChannels(Function<String, ManagedChannel> factory, Runnable onClose) {
    this.factory = Objects.requireNonNull(factory, "factory");
    this.onClose = Objects.requireNonNull(onClose, "onClose");
  }

  /** The channel to a mesh service; the same one on every call for the same service. */
  public ManagedChannel channel(String service) {
    Objects.requireNonNull(service, "service");
    if (closed) {
      throw new IllegalStateException("closed: no channel to service '" + service + "'");
    }
    return channels.computeIfAbsent(service, factory);
  }

  /** Shuts every channel down, waiting briefly for calls in flight. */
  @Override
  public void close() {
    closed = true;
    for (ManagedChannel c : channels.values()) {
      c.shutdown();
    }
    for (Map.Entry<String, ManagedChannel> e : channels.entrySet()) {
      try {
        if (!e.getValue().awaitTermination(5, TimeUnit.SECONDS)) {
          log.warn("gRPC channel to '{}' still busy after 5 s; shutting it down now", e.getKey());
          e.getValue().shutdownNow();
        }
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        e.getValue().shutdownNow();
      }
    }
    channels.clear();
    onClose.run();
  }
}
