package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * What start-up does about the first config once the context is refreshed: with
 * {@code meshlet.await-config-on-startup}, waits for it (and the first certificate) up to
 * {@code meshlet.first-config-timeout} and fails start-up without it; otherwise returns at once and
 * logs a warning if the config has not arrived by then.
 */
final class MeshletStartup implements SmartLifecycle {

  private static final Logger log = LoggerFactory.getLogger(MeshletStartup.class);

  private final MeshClient mesh;
  private final MeshIdentity identity;
  private final List<String> controlServers;
  private final Duration timeout;
  private final boolean await;
  private volatile boolean running;

  MeshletStartup(MeshClient mesh, MeshIdentity identity, List<String> controlServers, Duration timeout,
      boolean await) {
    this.mesh = mesh;
    this.identity = identity;
    this.controlServers = List.copyOf(controlServers);
    this.timeout = timeout;
    this.await = await;
  }

  @Override
  public void start() {
    running = true;
    if (await) {
      long deadline = System.nanoTime() + timeout.toNanos();
      try {
        if (!mesh.awaitConfig(timeout)) {
          throw new IllegalStateException("Meshlet: no mesh config from control servers " + controlServers
              + " within meshlet.first-config-timeout (" + timeout.toMillis() + " ms); start-up fails because"
              + " meshlet.await-config-on-startup=true");
        }
        Duration left = Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
        if (identity != null && !identity.await(left)) {
          throw new IllegalStateException("Meshlet: no workload certificate within meshlet.first-config-timeout ("
              + timeout.toMillis() + " ms); start-up fails because meshlet.await-config-on-startup=true");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("Meshlet: interrupted waiting for the first mesh config", e);
      }
      return;
    }
    CompletableFuture.runAsync(this::warnIfNoConfig,
        CompletableFuture.delayedExecutor(timeout.toMillis(), TimeUnit.MILLISECONDS));
  }

  private void warnIfNoConfig() {
    try {
      if (running && !mesh.awaitConfig(Duration.ZERO)) {
        log.warn("[{}] no mesh config from control servers {} after {} ms; calls to mesh services fail until"
            + " it arrives, health is OUT_OF_SERVICE", mesh.nodeId(), controlServers, timeout.toMillis());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void stop() {
    running = false;
  }

  @Override
  public boolean isRunning() {
    return running;
  }
}
