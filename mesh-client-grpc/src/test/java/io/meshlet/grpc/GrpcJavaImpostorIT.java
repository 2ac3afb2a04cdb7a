package io.meshlet.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.XdsClients;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * grpc-java, bootstrapped by {@link MeshGrpc} with the real control server's trust bundle but
 * pointed at an impostor (a control server with a CA of its own), takes no config from it: every
 * call fails, and the backend the impostor would route to is never called. (The same bootstrap
 * against the real server works: {@code GrpcMtlsIT}.) Its own JVM: grpc-java reads its bootstrap
 * once per JVM.
 */
class GrpcJavaImpostorIT {

  @TempDir static Path dir;
  static ControlServer real;
  static ControlServer impostor;
  static EchoBackend trap;

  @BeforeAll
  static void start() throws Exception {
    trap = new EchoBackend("trap");
    Path mesh = Files.writeString(dir.resolve("mesh.yaml"), """
        services:
          catalog: { protocol: grpc, endpoints: [ { address: %s } ] }
        """.formatted(trap.address()));
    real = ControlServer.builder().configFile(mesh).xdsPort(0).adminPort(0).caDirectory(dir.resolve("real")).build().start();
    impostor = ControlServer.builder().configFile(mesh).xdsPort(0).adminPort(0).caDirectory(dir.resolve("impostor"))
        .build().start();
    MeshGrpc.bootstrap("frontend", List.of("127.0.0.1:" + impostor.xdsPort()))
        .controlServerTrust(real.trustBundleFile().orElseThrow()).nodeId("impostor-it").install();
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(real, impostor, trap);
  }

  @Test
  void anImpostorControlServerIsRefusedAndNoCallReachesWhereItRoutes() {
    ManagedChannel channel = MeshGrpc.channel("catalog");
    try {
      assertThatThrownBy(() -> XdsClients.call(channel, EchoBackend.WHO, null, 5_000))
          .isInstanceOf(StatusRuntimeException.class).hasMessageContaining("UNAVAILABLE");
    } finally {
      channel.shutdownNow();
    }
    assertThat(trap.calls()).isZero();
    assertThat(new AdminClient(impostor.adminPort()).json("/clients").path("clients")).isEmpty();
  }
}
