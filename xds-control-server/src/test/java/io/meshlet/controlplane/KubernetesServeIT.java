package io.meshlet.controlplane;

import static io.meshlet.controlplane.testing.RawAdsClient.ENDPOINTS;
import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.RawAdsClient;
import io.meshlet.internal.wire.WireNames;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve --kubernetes --kubeconfig FILE}, end to end: the control server reaches fabric8's
 * mock API server (CRUD mode) through a kubeconfig file and serves the EndpointSlices' endpoints
 * over EDS, following their changes, and keeps serving them while the API server is away.
 */
class KubernetesServeIT {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @TempDir
  Path dir;

  private KubernetesMockServer api;
  private KubernetesClient admin;
  private ControlServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
    if (admin != null) {
      admin.close();
    }
    if (api != null) {
      api.destroy();
    }
  }

  private static EndpointSlice slice(String... ips) {
    EndpointSliceBuilder b = new EndpointSliceBuilder().withNewMetadata().withName("catalog-abc").withNamespace("shop")
        .addToLabels("kubernetes.io/service-name", "catalog").endMetadata()
        .withAddressType("IPv4").addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort();
    for (String ip : ips) {
      b.addNewEndpoint().withAddresses(ip).withZone("zone-a").withNewConditions().withReady(true).endConditions()
          .endEndpoint();
    }
    return b.build();
  }

  private static List<String> addresses(DiscoveryResponse r) throws Exception {
    ClusterLoadAssignment cla = r.getResources(0).unpack(ClusterLoadAssignment.class);
    return cla.getEndpointsList().stream().map(LocalityLbEndpoints::getLbEndpointsList).flatMap(List::stream)
        .map(LbEndpoint::getEndpoint)
        .map(e -> e.getAddress().getSocketAddress().getAddress() + ":" + e.getAddress().getSocketAddress().getPortValue())
        .sorted().toList();
  }

  @Test
  void servesTheClustersEndpointsFollowsTheirChangesAndKeepsThemWhileTheApiServerIsAway() throws Exception {
    api = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), new KubernetesCrudDispatcher(),
        false);
    api.start();
    admin = api.createClient();
    admin.services().inNamespace("shop").resource(new ServiceBuilder().withNewMetadata().withName("catalog")
        .withNamespace("shop").addToLabels("version", "v1").endMetadata().build()).create();
    admin.discovery().v1().endpointSlices().inNamespace("shop").resource(slice("10.0.0.1", "10.0.0.2")).create();
    Path kubeconfig = Files.writeString(dir.resolve("kubeconfig"), """
        apiVersion: v1
        kind: Config
        clusters: [ { name: mock, cluster: { server: "%s" } } ]
        users: [ { name: meshlet, user: { token: not-checked-by-the-mock } } ]
        contexts: [ { name: mock, context: { cluster: mock, user: meshlet, namespace: shop } } ]
        current-context: mock
        """.formatted(api.url("/").replaceAll("/$", "")));
    MeshFile mesh = new MeshFile(dir).write("""
        services:
          catalog:
            protocol: http
        """);
    server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0)
        .kubernetes(List.of("shop")).kubeconfig(kubeconfig).build().start();
    AdminClient adminApi = new AdminClient(server.adminPort());

    try (RawAdsClient client = new RawAdsClient(server.xdsPort()); var stream = client.sotw()) {
      DiscoveryRequest eds = DiscoveryRequest.newBuilder().setNode(RawAdsClient.node("k8s-it")).setTypeUrl(ENDPOINTS)
          .addResourceNames(WireNames.cluster("catalog")).build();
      DiscoveryResponse first = stream.send(eds).next(TIMEOUT);
      assertThat(addresses(first)).containsExactly("10.0.0.1:8080", "10.0.0.2:8080");
      assertThat(adminApi.json("/healthz").path("kubernetes").asText())
          .isEqualTo("watching EndpointSlices and Services in namespaces shop (2 instances)");

      admin.discovery().v1().endpointSlices().inNamespace("shop").resource(slice("10.0.0.1", "10.0.0.3")).update();
      stream.send(eds.toBuilder().setVersionInfo(first.getVersionInfo()).setResponseNonce(first.getNonce()).build());
      DiscoveryResponse second = stream.next(TIMEOUT);
      assertThat(addresses(second)).containsExactly("10.0.0.1:8080", "10.0.0.3:8080");
      stream.send(eds.toBuilder().setVersionInfo(second.getVersionInfo()).setResponseNonce(second.getNonce()).build());

      api.shutdown();
      Await.until("/healthz to say the API server is away", TIMEOUT,
          () -> adminApi.json("/healthz").path("kubernetes").asText().startsWith("API server unreachable since "));
      assertThat(adminApi.get("/healthz").statusCode()).isEqualTo(200);
      assertThat(adminApi.json("/healthz").path("kubernetes").asText())
          .endsWith("; serving the last good endpoints (2 instances)");
      // Nothing new was pushed, and a new subscriber gets the last good endpoints.
      assertThat(stream.poll(Duration.ofMillis(300))).isNull();
      try (var another = client.sotw()) {
        assertThat(addresses(another.send(eds).next(TIMEOUT))).containsExactly("10.0.0.1:8080", "10.0.0.3:8080");
      }
    }
  }
}
