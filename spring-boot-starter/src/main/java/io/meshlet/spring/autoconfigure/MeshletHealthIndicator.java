package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.actuate.health.AbstractHealthIndicator;
import org.springframework.boot.actuate.health.Health;

/**
 * The {@code meshlet} health indicator:
 * <ul>
 *   <li>{@code OUT_OF_SERVICE} until the first config arrives: calls to mesh services cannot be
 *       routed yet;
 *   <li>{@code UP} once a config is in force, also while no control server is connected: the
 *       client keeps serving the last good config, and a control server restart must not take every
 *       instance out of its load balancer. {@code connected} in the details tells;
 *   <li>{@code DOWN} while no control server is connected, only with
 *       {@code meshlet.health.require-connection=true}.
 * </ul>
 * Details: the config version, whether and to which control server it is connected, the last
 * disconnect and the last refused config (a NACK does not change the status: the last good
 * config stays in force).
 */
public class MeshletHealthIndicator extends AbstractHealthIndicator {

  private final MeshClient mesh;
  private final List<String> controlServers;
  private final MeshletStatus status;
  private final boolean requireConnection;

  public MeshletHealthIndicator(MeshClient mesh, List<String> controlServers, MeshletStatus status,
      boolean requireConnection) {
    super("Meshlet health check failed");
    this.mesh = mesh;
    this.controlServers = List.copyOf(controlServers);
    this.status = status;
    this.requireConnection = requireConnection;
  }

  @Override
  protected void doHealthCheck(Health.Builder builder) throws Exception {
    boolean hasConfig = mesh.awaitConfig(Duration.ZERO);
    var connection = status.connection();
    builder.withDetail("service", mesh.serviceName())
        .withDetail("configVersion", mesh.snapshot().version())
        .withDetail("connected", connection.isPresent());
    connection.ifPresent(c -> builder.withDetail("controlServer", c.server()));
    status.lastDisconnect().ifPresent(d -> builder.withDetail("lastDisconnect",
        d.server() + " at " + d.at() + ": " + d.reason()));
    List<MeshletStatus.Nack> nacks = status.recentNacks();
    if (!nacks.isEmpty()) {
      MeshletStatus.Nack n = nacks.get(0);
      builder.withDetail("lastNack", n.type() + " version " + n.version() + " at " + n.at() + ": " + n.message());
    }
    if (!hasConfig) {
      builder.outOfService().withDetail("reason", "no mesh config yet from control servers " + controlServers);
    } else if (connection.isEmpty() && requireConnection) {
      builder.down().withDetail("reason", "no control server connected (serving the last good config)");
    } else {
      builder.up();
    }
  }
}
