package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshListener;
import io.meshlet.config.MeshSnapshot;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;

/**
 * What the mesh client has been through, as the actuator endpoint and health indicator report it:
 * the control server it is connected to, the last disconnect, when the config in force arrived, and
 * the last {@value #MAX_NACKS} refused configs. A {@link MeshListener}: the auto-configured
 * {@code MeshClient} registers it; a {@code MeshClient} of your own should add it with
 * {@code builder.listener(status)} (or a listener that calls it).
 *
 * <p>Thread-safe; events arrive on the client's config thread and are cheap to record.
 */
public final class MeshletStatus implements MeshListener {

  /** How many refused configs are kept. */
  public static final int MAX_NACKS = 20;

  private final Clock clock;
  private final Deque<Nack> nacks = new ArrayDeque<>();
  private volatile Connection connection;
  private volatile Disconnect lastDisconnect;
  private volatile Instant configReceivedAt;

  public MeshletStatus(Clock clock) {
    this.clock = clock;
  }

  /** A control server connection: which server, and since when. */
  public record Connection(String server, Instant since) {}

  /** A lost (or failed) connection to a control server and the reason. */
  public record Disconnect(String server, String reason, Instant at) {}

  /** A refused config: resource type (e.g. {@code Cluster}), its version, why, and when. */
  public record Nack(String type, String version, String message, Instant at) {}

  @Override
  public void onConnected(String server) {
    connection = new Connection(server, clock.instant());
  }

  @Override
  public void onDisconnected(String server, String reason, Duration retryIn) {
    Connection c = connection;
    if (c != null && c.server().equals(server)) {
      connection = null;
    }
    lastDisconnect = new Disconnect(server, reason, clock.instant());
  }

  @Override
  public void onConfig(MeshSnapshot snapshot) {
    configReceivedAt = clock.instant();
  }

  @Override
  public void onNack(String resourceType, String version, String reason) {
    Nack n = new Nack(resourceType, version, reason, clock.instant());
    synchronized (nacks) {
      nacks.addFirst(n);
      while (nacks.size() > MAX_NACKS) {
        nacks.removeLast();
      }
    }
  }

  /** The control server connected now, if any. */
  public Optional<Connection> connection() {
    return Optional.ofNullable(connection);
  }

  /** The last lost or failed connection, if any. */
  public Optional<Disconnect> lastDisconnect() {
    return Optional.ofNullable(lastDisconnect);
  }

  /** When the config in force arrived; empty before the first one. */
  public Optional<Instant> configReceivedAt() {
    return Optional.ofNullable(configReceivedAt);
  }

  /** The most recent refused configs, newest first, at most {@value #MAX_NACKS}. */
  public List<Nack> recentNacks() {
    synchronized (nacks) {
      return List.copyOf(new ArrayList<>(nacks));
    }
  }
}
