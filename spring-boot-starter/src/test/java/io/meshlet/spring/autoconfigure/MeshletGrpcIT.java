package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCalls;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.grpc.MeshGrpc;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * The auto-configured {@link MeshGrpcChannels} call a gRPC service by its mesh name through
 * grpc-java's own xDS client, bootstrapped from {@code meshlet.*} properties, over TLS to the control
 * server checked against its trust bundle (no workload identity here). Its own JVM (failsafe
 * forks per IT class): grpc-java reads the bootstrap once per JVM.
 */
class MeshletGrpcIT {

  @TempDir static Path dir;
  static EchoBackend catalog;
  static ControlServer server;

  @BeforeAll
  static void start() throws Exception {
    catalog = new EchoBackend("catalog-1");
    MeshFile file = new MeshFile(dir).write("""
        services:
          catalog:
            protocol: grpc
            endpoints: [ { address: %s } ]
        """.formatted(catalog.address()));
    server = ControlServer.builder().configFile(file.path()).xdsPort(0).adminPort(0).build().start();
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
    if (catalog != null) {
      catalog.close();
    }
  }

  @Test
  void channelsReachAServiceByItsMeshName() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.service-name=frontend", "meshlet.control-servers=127.0.0.1:" + server.xdsPort(),
            "meshlet.control-server-trust-bundle=" + server.trustBundleFile().orElseThrow())
        .run(context -> {
          assertThat(context).hasNotFailed();
          MeshGrpcChannels channels = context.getBean(MeshGrpcChannels.class);
          ManagedChannel channel = channels.channel("catalog");
          assertThat(channels.channel("catalog")).isSameAs(channel);
          String answer = ClientCalls.blockingUnaryCall(channel, EchoBackend.WHO,
              CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS).withWaitForReady(), "hi");
          assertThat(answer).isEqualTo("catalog-1");
          assertThat(catalog.calls()).isEqualTo(1);
        });
    // Closed with the context: channels shut down and the bootstrap property removed.
    assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY)).isNull();
  }
}
