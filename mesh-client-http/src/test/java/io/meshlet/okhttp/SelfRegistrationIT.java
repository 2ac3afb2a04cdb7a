package io.meshlet.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.meshlet.MeshClient;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.RawAdsClient;
import io.meshlet.internal.xds.XdsNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Workloads register their own instance over their xDS stream: it is an endpoint of their service
 * while they are connected, gone when they close or crash, and kept across a control server
 * restart with a state directory, with no failed request.
 */
class SelfRegistrationIT {

  @TempDir Path dir;
  final TestMesh mesh = new TestMesh();

  @AfterEach
  void stop() throws Exception {
    mesh.close();
  }

  ControlServer server(int xdsPort) throws Exception {
    ControlServer s = ControlServer.builder().xdsPlaintext(true).allowPlaintextRegistration(true).configFile(new MeshFile(dir).path()).xdsPort(xdsPort).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).stateDirectory(dir.resolve("state")).build();
    return mesh.closeLater(s).start();
  }

  void writeMesh() {
    new MeshFile(dir).write("""
        services:
          catalog:
            subsets: { v1: { version: v1 } }
            routes: [ { to: [ { subset: v1 } ], retries: { attempts: 3, on: [connect-failure, reset] } } ]
        """);
  }

  MeshClient instance(ControlServer server, String service, WireMockServer upstream, String version) {
    MeshClient m = MeshClient.builder().xdsPlaintext().serviceName(service).controlServers("127.0.0.1:" + server.xdsPort())
        .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(250))
        .instance("127.0.0.1:" + upstream.port(), Map.of("version", version)).build();
    return mesh.closeLater(m).start();
  }

  static List<String> endpoints(MeshClient client, String cluster) {
    return client.snapshot().cluster(cluster).map(ClusterConfig::endpoints).orElse(List.of()).stream()
        .map(EndpointConfig::address).toList();
  }

  @Test
  void aRegisteredInstanceServesItsServiceUntilItLeaves() throws Exception {
    writeMesh();
    ControlServer server = server(0);
    WireMockServer v1 = mesh.upstream("catalog-v1");
    WireMockServer inventory = mesh.upstream("inventory");
    MeshClient catalog = instance(server, "catalog", v1, "v1");
    instance(server, "inventory", inventory, "v7");
    MeshClient frontend = mesh.meshClient(server.xdsPort());
    OkHttpClient http = mesh.http(frontend);

    Await.until("catalog's instance in frontend's EDS", Duration.ofSeconds(10),
        () -> endpoints(frontend, "catalog/v1").contains("127.0.0.1:" + v1.port()));
    assertThat(TestMesh.get(http, "http://catalog/items").body()).isEqualTo("catalog-v1");
    // A service mesh.yaml does not declare comes into being with its first instance.
    Await.until("the inventory service", Duration.ofSeconds(10), () -> frontend.snapshot().service("inventory").isPresent());
    assertThat(TestMesh.get(http, "http://inventory/stock").body()).isEqualTo("inventory");

    AdminClient admin = new AdminClient(server.adminPort());
    JsonNode registered = admin.json("/config").get("registered");
    assertThat(registered).hasSize(2);
    assertThat(admin.json("/clients").findValues("instance")).anySatisfy(i -> {
      assertThat(i.get("service").asText()).isEqualTo("catalog");
      assertThat(i.get("address").asText()).isEqualTo("127.0.0.1:" + v1.port());
      assertThat(i.get("labels").get("version").asText()).isEqualTo("v1");
    });

    catalog.close();
    Await.until("catalog's instance to leave frontend's EDS", Duration.ofSeconds(10),
        () -> endpoints(frontend, "catalog/v1").isEmpty());
    assertThat(admin.json("/config").get("registered")).hasSize(1);
  }

  @Test
  void aCrashedInstanceIsRemoved() throws Exception {
    writeMesh();
    ControlServer server = server(0);
    MeshClient frontend = mesh.meshClient(server.xdsPort());
    String java = ProcessHandle.current().info().command().orElse("java");
    Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        RegisteringWorkload.class.getName(), "127.0.0.1:" + server.xdsPort(), "catalog", "127.0.0.1:9")
        .redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
    mesh.closeLater(child, () -> {
      child.destroyForcibly();
      child.waitFor(10, TimeUnit.SECONDS);
    });
    Await.until("the child's instance in EDS", Duration.ofSeconds(30),
        () -> endpoints(frontend, "catalog").contains("127.0.0.1:9"));

    child.destroyForcibly();     // SIGKILL: no goodbye, the OS closes its socket
    Duration took = Await.until("the crashed instance to leave EDS", Duration.ofSeconds(20),
        () -> !endpoints(frontend, "catalog").contains("127.0.0.1:9"));
    assertThat(took).isLessThan(Duration.ofSeconds(20));
  }

  @Test
  void aControlServerRestartKeepsRegisteredInstancesAndFailsNoRequest() throws Exception {
    writeMesh();
    ControlServer first = server(0);
    int xdsPort = first.xdsPort();
    WireMockServer v1 = mesh.upstream("catalog-v1");
    instance(first, "catalog", v1, "v1");
    MeshClient frontend = mesh.meshClient(xdsPort);
    OkHttpClient http = mesh.http(frontend);
    Await.until("catalog's instance in frontend's EDS", Duration.ofSeconds(10),
        () -> endpoints(frontend, "catalog/v1").contains("127.0.0.1:" + v1.port()));

    AtomicInteger ok = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicReference<String> firstFailure = new AtomicReference<>();
    java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
    Thread traffic = new Thread(() -> {
      while (running.get()) {
        try {
          if (TestMesh.get(http, "http://catalog/items").code() == 200) {
            ok.incrementAndGet();
          } else {
            failed.incrementAndGet();
          }
        } catch (Exception e) {
          failed.incrementAndGet();
          firstFailure.compareAndSet(null, e.toString());
        }
      }
    });
    traffic.start();
    try {
      Await.until("some traffic", Duration.ofSeconds(10), () -> ok.get() > 20);
      first.close();
      ControlServer second = server(xdsPort);
      // The restarted server serves the instance from its state file at once...
      assertThat(new AdminClient(second.adminPort()).json("/config").get("registered")).hasSize(1);
      // ...and the workload reconnects and confirms it; new clients see it.
      MeshClient late = mesh.closeLater(MeshClient.builder().xdsPlaintext().serviceName("late")
          .controlServers("127.0.0.1:" + xdsPort).build()).start();
      assertThat(late.awaitConfig(Duration.ofSeconds(10))).isTrue();
      assertThat(endpoints(late, "catalog/v1")).containsExactly("127.0.0.1:" + v1.port());
      Await.until("the workload to reconnect", Duration.ofSeconds(10),
          () -> new AdminClient(second.adminPort()).json("/clients").findValues("instance").size() == 1);
      int before = ok.get();
      Await.until("more traffic", Duration.ofSeconds(10), () -> ok.get() > before + 20);
    } finally {
      running.set(false);
      traffic.join(10_000);
    }
    assertThat(failed.get()).as("failed requests (first: %s)", firstFailure.get()).isZero();
  }

  @Test
  void aBadRegistrationIsRefusedWithItsReasonAndChangesNothing() throws Exception {
    writeMesh();
    ControlServer server = server(0);
    String before = new AdminClient(server.adminPort()).version();
    // A MeshClient refuses such an address itself (HostPort's rule); the server must refuse it from
    // any xDS client too, so the registration comes from a raw stream.
    assertThatThrownBy(() -> MeshClient.builder().instance("10.0.0.1:0", Map.of()))
        .hasMessage("instance address: '10.0.0.1:0' (expected: host:port)");
    try (RawAdsClient raw = new RawAdsClient(server.xdsPort());
        RawAdsClient.Stream<DiscoveryRequest, DiscoveryResponse> stream = raw.sotw()) {
      stream.send(DiscoveryRequest.newBuilder()
          .setNode(new XdsNode("catalog~bad", "catalog", "dev", "10.0.0.1:0", Map.of()).toProto())
          .setTypeUrl(RawAdsClient.LISTENER).build());
      stream.next(Duration.ofSeconds(10));

      JsonNode clients = new AdminClient(server.adminPort()).json("/clients");
      assertThat(clients.findValuesAsText("registrationRefused")).containsExactly(
          "node.metadata.meshlet.instance.address: '10.0.0.1:0' (expected: host:port that callers can reach, "
              + "with a port in 1..65535, e.g. 10.0.0.7:8080)");
    }
    assertThat(new AdminClient(server.adminPort()).version()).isEqualTo(before);
  }

  @Test
  void anInstanceCanRegisterAfterStartAndLeaveBeforeShutdown() throws Exception {
    writeMesh();
    ControlServer server = server(0);
    WireMockServer v1 = mesh.upstream("catalog-v1");
    MeshClient catalog = mesh.closeLater(MeshClient.builder().xdsPlaintext().serviceName("catalog")
        .controlServers("127.0.0.1:" + server.xdsPort()).build()).start();
    assertThat(catalog.awaitConfig(Duration.ofSeconds(10))).isTrue();
    MeshClient frontend = mesh.meshClient(server.xdsPort());
    assertThat(endpoints(frontend, "catalog/v1")).isEmpty();

    catalog.register("127.0.0.1:" + v1.port(), Map.of("version", "v1"));
    Await.until("the late registration in frontend's EDS", Duration.ofSeconds(10),
        () -> endpoints(frontend, "catalog/v1").contains("127.0.0.1:" + v1.port()));

    Await.until("catalog's own client to see itself", Duration.ofSeconds(10),
        () -> endpoints(catalog, "catalog/v1").contains("127.0.0.1:" + v1.port()));
    catalog.deregister();
    Await.until("the instance to leave frontend's EDS", Duration.ofSeconds(10),
        () -> endpoints(frontend, "catalog/v1").isEmpty());
    // Still connected: catalog's own client follows the change.
    Await.until("catalog's own client to follow", Duration.ofSeconds(10),
        () -> endpoints(catalog, "catalog/v1").isEmpty());
  }
}
