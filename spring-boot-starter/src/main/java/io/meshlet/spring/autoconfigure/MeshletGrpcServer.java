package io.meshlet.spring.autoconfigure;

import io.grpc.BindableService;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.xds.XdsServerBuilder;
import io.grpc.xds.XdsServerCredentials;
import io.meshlet.MeshClient;
import io.meshlet.grpc.MeshGrpc;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * A gRPC server on {@code meshlet.grpc.server-port}: grpc-java's {@code XdsServerBuilder}, so the
 * control server's listener decides its mTLS (strict, permissive or off) and authorization, serving
 * every {@link BindableService} bean. Denied calls are logged and counted. It starts with the web
 * server and stops before it, giving calls in flight up to 10 s. Like an embedded web server, it
 * keeps the JVM alive while it runs (grpc-java's own threads are daemons), so an application
 * without a web server keeps serving.
 *
 * <p>With an identity, it starts once the first certificate is here (waiting up to the start
 * timeout): grpc-java's xDS stream, which registers this server's instance, presents the
 * certificate files only when it connects, and the control server accepts the registration only
 * from a stream presenting this service's SVID.
 */
public final class MeshletGrpcServer implements SmartLifecycle {

  private static final Logger log = LoggerFactory.getLogger(MeshletGrpcServer.class);

  private final int port;
  private final MeshClient mesh;
  private final MeshIdentity identity;
  private final List<BindableService> services;
  private volatile Server server;
  private Thread keepAlive;

  private final java.time.Duration startTimeout;
  /** Counted down once the first certificate is here and written to grpc-java's certificate files. */
  private final java.util.concurrent.CountDownLatch certificate = new java.util.concurrent.CountDownLatch(1);

  public MeshletGrpcServer(int port, MeshClient mesh, MeshIdentity identity, List<BindableService> services,
      java.time.Duration startTimeout) {
    this.startTimeout = startTimeout;
    this.port = port;
    this.mesh = mesh;
    this.identity = identity;
    this.services = List.copyOf(services);
    if (identity != null) {
      // Made after MeshGrpcChannels, whose listener writes the certificate files: this one runs after it.
      identity.addListener(i -> certificate.countDown());
      if (identity.get() != null) {
        certificate.countDown();
      }
    }
  }

  @Override
  public void start() {
    long deadline = System.nanoTime() + startTimeout.toNanos();
    if (identity != null) {
      try {
        if (!certificate.await(startTimeout.toNanos(), TimeUnit.NANOSECONDS)) {
          log.warn("gRPC server for service '{}' on port {} starts without a workload certificate after {}: its"
              + " xDS stream presents none, so the control server does not register its instance until that"
              + " stream reconnects", mesh.serviceName(), port, startTimeout);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    ServerCredentials credentials = identity != null
        ? MeshGrpc.serverCredentials(identity)
        : XdsServerCredentials.create(InsecureServerCredentials.create());
    XdsServerBuilder builder = XdsServerBuilder.forPort(port, credentials)
        .addStreamTracerFactory(MeshGrpc.deniedCallsTracer(mesh));
    services.forEach(builder::addService);
    Server built = builder.build();
    server = built;
    keepAlive = new Thread(() -> {
      try {
        built.awaitTermination();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "meshlet-grpc-server-" + port);
    keepAlive.setDaemon(false);
    keepAlive.start();
    // grpc-java's start() waits for the server's listener from the control server; do not hang
    // the application's start-up on it for longer than first-config-timeout.
    java.util.concurrent.CompletableFuture<Void> started = java.util.concurrent.CompletableFuture.runAsync(() -> {
      try {
        built.start();
      } catch (IOException e) {
        throw new UncheckedIOException("meshlet.grpc.server-port: cannot start the gRPC server on " + port, e);
      }
    }, r -> {
      Thread t = new Thread(r, "meshlet-grpc-server-start");
      t.setDaemon(true);
      t.start();
    });
    try {
      started.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      log.info("gRPC server for service '{}' on port {} with {} services", mesh.serviceName(), port, services.size());
    } catch (java.util.concurrent.TimeoutException e) {
      log.warn("gRPC server for service '{}' on port {} is still waiting for its listener from the control server "
          + "after {}; it serves once the listener arrives", mesh.serviceName(), port, startTimeout);
    } catch (java.util.concurrent.ExecutionException e) {
      server = null;
      built.shutdownNow();
      throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void stop() {
    Server s = server;
    if (s == null) {
      return;
    }
    s.shutdown();
    try {
      if (!s.awaitTermination(10, TimeUnit.SECONDS)) {
        s.shutdownNow();
      }
    } catch (InterruptedException e) {
      s.shutdownNow();
      Thread.currentThread().interrupt();
    }
    if (keepAlive != null) {
      keepAlive.interrupt();
    }
    server = null;
  }

  @Override
  public boolean isRunning() {
    return server != null;
  }

  @Override
  public int getPhase() {
    return MeshletRegistration.PHASE;
  }

  /** The port it listens on. */
  public int port() {
    return port;
  }
}
