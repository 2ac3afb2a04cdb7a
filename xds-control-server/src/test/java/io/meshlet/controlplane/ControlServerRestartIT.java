package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.grpc.ManagedChannel;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.XdsClients;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control server stopped under traffic: grpc-java's xDS client keeps calling with the last
 * config, and follows the next change once a server is back on the same port. Versions are
 * content hashes, so the restarted server serves the same versions for the same file.
 */
class ControlServerRestartIT {

  @TempDir Path dir;

  static String yaml(String target) {
    return """
        services:
          svc:
            protocol: grpc
            endpoints:
              - { address: %s, labels: { name: a } }
              - { address: %s, labels: { name: b } }
            subsets: { a: { name: a }, b: { name: b } }
            routes: [ { to: [ { subset: %s } ] } ]
        """;
  }

  @Test
  void clientKeepsCallingWhileTheServerIsDownAndFollowsItsNextChange() throws Exception {
    try (EchoBackend a = new EchoBackend("a"); EchoBackend b = new EchoBackend("b")) {
      MeshFile mesh = new MeshFile(dir).write(yaml("").formatted(a.address(), b.address(), "a"));
      ControlServer first = ControlServer.builder().configFile(mesh.path()).xdsPort(0).adminPort(0).build().start();
      int xdsPort = first.xdsPort();
      JsonNode firstVersions = new AdminClient(first.adminPort()).json("/config").path("resourceVersions");
      XdsClients.bootstrap(xdsPort, "restart-it");
      ManagedChannel channel = XdsClients.channel("svc");
      AtomicBoolean running = new AtomicBoolean(true);
      AtomicInteger ok = new AtomicInteger();
      AtomicInteger failed = new AtomicInteger();
      AtomicReference<String> last = new AtomicReference<>();
      ConcurrentHashMap<String, Integer> seen = new ConcurrentHashMap<>();
      Thread traffic = new Thread(() -> {
        long stopAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (running.get() && System.nanoTime() < stopAt) {
          try {
            String who = XdsClients.who(channel);
            last.set(who);
            seen.merge(who, 1, Integer::sum);
            ok.incrementAndGet();
          } catch (RuntimeException e) {
            failed.incrementAndGet();
          }
        }
      }, "traffic");
      ControlServer second = null;
      try {
        assertThat(XdsClients.awaitFirstAnswer(channel, 20_000)).isEqualTo("a");
        traffic.start();
        Await.until("traffic to flow", Duration.ofSeconds(5), () -> ok.get() > 50);

        first.close();
        int before = ok.get();
        Await.until("calls to go on with the server down", Duration.ofSeconds(10), () -> ok.get() > before + 500);
        assertThat(failed.get()).as("failed calls while the control server is down").isZero();
        assertThat(last.get()).isEqualTo("a");

        // Edit while no server runs; the restarted one serves it and the client follows.
        mesh.write(yaml("").formatted(a.address(), b.address(), "b"));
        second = ControlServer.builder().configFile(mesh.path()).xdsPort(xdsPort).adminPort(0).build().start();
        Await.until("the client to follow the restarted server", Duration.ofSeconds(60),
            () -> "b".equals(last.get()));
        assertThat(failed.get()).as("failed calls across the restart").isZero();

        // The same file content gives the same versions, whichever server computes them.
        mesh.write(yaml("").formatted(a.address(), b.address(), "a"));
        AdminClient admin = new AdminClient(second.adminPort());
        Await.until("the original file to be served again", Duration.ofSeconds(5),
            () -> admin.json("/config").path("resourceVersions").equals(firstVersions));
      } finally {
        running.set(false);
        traffic.join(10_000);
        channel.shutdownNow();
        first.close();
        if (second != null) {
          second.close();
        }
      }
      assertThat(failed.get()).isZero();
      assertThat(seen).containsKeys("a", "b");
    }
  }
}
