package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshListener;
import io.meshlet.config.MeshSnapshot;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Passes every event to each {@link MeshListener} bean in order; one that throws does not stop the rest. */
final class CompositeMeshListener implements MeshListener {

  private static final Logger log = LoggerFactory.getLogger(CompositeMeshListener.class);

  private final List<MeshListener> listeners;

  CompositeMeshListener(List<MeshListener> listeners) {
    this.listeners = List.copyOf(listeners);
  }

  @Override
  public void onConfig(MeshSnapshot snapshot) {
    each(l -> l.onConfig(snapshot));
  }

  @Override
  public void onNack(String resourceType, String version, String reason) {
    each(l -> l.onNack(resourceType, version, reason));
  }

  @Override
  public void onConnected(String server) {
    each(l -> l.onConnected(server));
  }

  @Override
  public void onDisconnected(String server, String reason, Duration retryIn) {
    each(l -> l.onDisconnected(server, reason, retryIn));
  }

  private void each(java.util.function.Consumer<MeshListener> event) {
    for (MeshListener l : listeners) {
      try {
        event.accept(l);
      } catch (RuntimeException e) {
        log.warn("MeshListener {} threw; ignored", l.getClass().getName(), e);
      }
    }
  }
}
