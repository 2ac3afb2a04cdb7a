package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the {@code meshlet} health indicator reports, apart from Spring Boot's health types (which
 * Boot 4 moved to another package, so each Boot line's {@link MeshletHealthIndicator} maps this):
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
final class MeshletHealth {

  /** A status code ({@code UP}, {@code DOWN}, {@code OUT_OF_SERVICE}) and the details, in order. */
  record Report(String status, Map<String, Object> details) {}

  private final MeshClient mesh;
  private final List<String> controlServers;
  private final MeshletStatus status;
  private final boolean requireConnection;

  MeshletHealth(MeshClient mesh, List<String> controlServers, MeshletStatus status, boolean requireConnection) {
    this.mesh = mesh;
    this.controlServers = List.copyOf(controlServers);
    this.status = status;
    this.requireConnection = requireConnection;
  }

  Report check() throws InterruptedException {
    boolean hasConfig = mesh.awaitConfig(Duration.ZERO);
    var connection = status.connection();
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("service", mesh.serviceName());
    details.put("configVersion", mesh.snapshot().version());
    details.put("connected", connection.isPresent());
    connection.ifPresent(c -> details.put("controlServer", c.server()));
    status.lastDisconnect().ifPresent(d -> details.put("lastDisconnect", d.server() + " at " + d.at() + ": "
        + d.reason()));
    List<MeshletStatus.Nack> nacks = status.recentNacks();
    if (!nacks.isEmpty()) {
      MeshletStatus.Nack n = nacks.get(0);
      details.put("lastNack", n.type() + " version " + n.version() + " at " + n.at() + ": " + n.message());
    }
    if (!hasConfig) {
      details.put("reason", "no mesh config yet from control servers " + controlServers);
      return new Report("OUT_OF_SERVICE", details);
    }
    if (connection.isEmpty() && requireConnection) {
      details.put("reason", "no control server connected (serving the last good config)");
      return new Report("DOWN", details);
    }
    return new Report("UP", details);
  }
}
