package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.BindableService;
import io.grpc.CallOptions;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.MeshFile;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * {@code meshlet.grpc.server-port} starts an xDS gRPC server serving the application's
 * {@link BindableService} beans, registered as an instance of its service with strict mTLS from
 * the control server's CA: grpc-java's xDS stream presents that SVID to the control server (TLS,
 * checked against its trust bundle), which is what the registration is bound to, and another
 * service's channel reaches it by name, over mTLS. Its own JVM.
 */
class MeshletGrpcServerIT {

  static final Map<String, String> TOKENS = Map.of("inventory", "inventory-token-0123456789");

  @TempDir static Path dir;
  static ControlServer server;

  @BeforeAll
  static void start() throws Exception {
    MeshFile file = new MeshFile(dir).write("""
        trustDomain: example.org
        mtls: { mode: strict }
        services:
          inventory: { protocol: grpc }
        """);
    server = ControlServer.builder().configFile(file.path()).xdsPort(0).adminPort(0).joinTokens(TOKENS).build()
        .start();
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** Answers Who with the caller's service, known from its mTLS certificate by the server. */
  static BindableService inventory() {
    return () -> ServerServiceDefinition.builder(EchoBackend.SERVICE)
        .addMethod(EchoBackend.WHO, ServerCalls.asyncUnaryCall((req, resp) -> {
          resp.onNext("inventory");
          resp.onCompleted();
        }))
        .build();
  }

  @Test
  void theGrpcServerRegistersAndServesOverMtls() throws Exception {
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withBean("inventoryService", BindableService.class, MeshletGrpcServerIT::inventory)
        .withPropertyValues("meshlet.service-name=inventory", "meshlet.control-servers=127.0.0.1:" + server.xdsPort(),
            "meshlet.control-server-trust-bundle=" + server.trustBundleFile().orElseThrow(),
            "meshlet.identity.source=ca", "meshlet.identity.join-token=" + TOKENS.get("inventory"),
            "meshlet.await-config-on-startup=true", "meshlet.grpc.server-port=" + port,
            "meshlet.instance.host=127.0.0.1", "meshlet.instance.labels.version=v1")
        .run(context -> {
          assertThat(context).hasNotFailed();
          var clients = new AdminClient(server.adminPort()).json("/clients").findValues("instance");
          assertThat(clients).extracting(i -> i.get("address").asText()).contains("127.0.0.1:" + port);
          var channel = context.getBean(MeshGrpcChannels.class).channel("inventory");
          String answer = ClientCalls.blockingUnaryCall(channel, EchoBackend.WHO,
              CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS).withWaitForReady(), "hi");
          assertThat(answer).isEqualTo("inventory");
        });
  }
}
