package io.meshlet;

import io.meshlet.config.MeshSnapshot;
import java.time.Duration;

/**
 * Hears what happens between a {@link MeshClient} and its control servers. Methods run on the
 * client's config thread: they must be fast and must not throw. All do nothing by default.
 */
public interface MeshListener {

  /** A new config is in force. */
  default void onConfig(MeshSnapshot snapshot) {}

  /** A config was refused; the last good one stays in force. */
  default void onNack(String resourceType, String version, String reason) {}

  /** Connected to a control server. */
  default void onConnected(String server) {}

  /** Lost a control server; the client keeps its config and reconnects after {@code retryIn}. */
  default void onDisconnected(String server, String reason, Duration retryIn) {}
}
