package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import io.meshlet.config.MeshSnapshot;
import io.meshlet.identity.WorkloadIdentity;
import java.util.List;
import java.util.TreeSet;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;

/**
 * The actuator endpoint {@code /actuator/meshlet}: this service's view of the mesh. The config
 * version in force and when it arrived, the services it knows, the control server connection,
 * the last refused configs (NACKs) and the workload identity's SPIFFE ID and expiry. Keys and join
 * tokens are never shown.
 */
@Endpoint(id = "meshlet")
public class MeshletEndpoint {

  private final MeshClient mesh;
  private final List<String> controlServers;
  private final MeshletStatus status;
  private final MeshIdentity identity;

  /**
   * @param identity the workload identity, or null when there is none
   */
  public MeshletEndpoint(MeshClient mesh, List<String> controlServers, MeshletStatus status, MeshIdentity identity) {
    this.mesh = mesh;
    this.controlServers = List.copyOf(controlServers);
    this.status = status;
    this.identity = identity;
  }

  /** The endpoint's answer. Times are ISO-8601 strings; absent values are null. */
  public record Report(String service, String nodeId, List<String> controlServers, Connection connection,
      Config config, List<Nack> nacks, Identity identity) {}

  /** Whether a control server is connected; the last lost connection. */
  public record Connection(boolean connected, String server, String since, Disconnect lastDisconnect) {}

  public record Disconnect(String server, String reason, String at) {}

  /** The config in force: its version (empty before the first), when it arrived, the services it has. */
  public record Config(String version, String receivedAt, List<String> services) {}

  public record Nack(String type, String version, String message, String at) {}

  public record Identity(String spiffeId, String expiresAt) {}

  @ReadOperation
  public Report meshlet() {
    MeshSnapshot snapshot = mesh.snapshot();
    Connection connection = status.connection()
        .map(c -> new Connection(true, c.server(), c.since().toString(), disconnect()))
        .orElseGet(() -> new Connection(false, null, null, disconnect()));
    Config config = new Config(snapshot.version(),
        status.configReceivedAt().map(Object::toString).orElse(null),
        List.copyOf(new TreeSet<>(snapshot.services().keySet())));
    List<Nack> nacks = status.recentNacks().stream()
        .map(n -> new Nack(n.type(), n.version(), n.message(), n.at().toString()))
        .toList();
    WorkloadIdentity id = identity == null ? null : identity.get();
    return new Report(mesh.serviceName(), mesh.nodeId(), controlServers, connection, config, nacks,
        id == null ? null : new Identity(id.spiffeId(), id.expiresAt().toString()));
  }

  private Disconnect disconnect() {
    return status.lastDisconnect().map(d -> new Disconnect(d.server(), d.reason(), d.at().toString())).orElse(null);
  }
}
