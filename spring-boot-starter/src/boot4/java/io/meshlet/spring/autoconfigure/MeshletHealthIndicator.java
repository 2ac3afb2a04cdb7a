package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import java.util.List;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/** The {@code meshlet} health indicator (Spring Boot 4): what {@link MeshletHealth} reports. */
public class MeshletHealthIndicator extends AbstractHealthIndicator {

  private final MeshletHealth health;

  public MeshletHealthIndicator(MeshClient mesh, List<String> controlServers, MeshletStatus status,
      boolean requireConnection) {
    super("Meshlet health check failed");
    this.health = new MeshletHealth(mesh, controlServers, status, requireConnection);
  }

  @Override
  protected void doHealthCheck(Health.Builder builder) throws Exception {
    MeshletHealth.Report r = health.check();
    builder.status(r.status()).withDetails(r.details());
  }
}
