package io.meshlet.okhttp;

import io.meshlet.MeshClient;
import java.util.Map;

/**
 * A workload in its own JVM that registers an instance and waits to be killed: how
 * {@link SelfRegistrationIT} shows a crashed instance leaving the mesh.
 * Arguments: control server ({@code host:port}), service, instance address.
 */
public final class RegisteringWorkload {
  private RegisteringWorkload() {}

  public static void main(String[] args) throws Exception {
    MeshClient mesh = MeshClient.builder().xdsPlaintext().serviceName(args[1]).controlServers(args[0])
        .instance(args[2], Map.of("version", "crashy")).build().start();
    mesh.awaitConfig(java.time.Duration.ofSeconds(30));
    Thread.sleep(Long.MAX_VALUE);
  }
}
