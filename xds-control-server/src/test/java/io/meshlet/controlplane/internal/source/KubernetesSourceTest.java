package io.meshlet.controlplane.internal.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.meshlet.controlplane.MeshConfigParser;
import io.meshlet.controlplane.intent.EndpointSpec;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.internal.metrics.ServerMetrics;
import io.meshlet.controlplane.internal.serving.AdsService;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Kubernetes source against fabric8's mock API server in CRUD mode: a real HTTP server that
 * stores what it is sent and streams watch events, so the informers list and watch as they would
 * against a cluster.
 */
class KubernetesSourceTest {

  private static final String NS = "shop";

  private final KubernetesCrudDispatcher dispatcher = new KubernetesCrudDispatcher();
  private KubernetesMockServer server;
  private KubernetesClient admin;
  private KubernetesClient watcherClient;
  private KubernetesSource source;
  /** What the source says after each change: the test waits on these, never on a timer. */
  private final LinkedBlockingQueue<List<Registrations.Instance>> changes = new LinkedBlockingQueue<>();
  private final List<List<Registrations.Instance>> seen = new CopyOnWriteArrayList<>();

  @BeforeEach
  void startServer() {
    server = newServer();
    server.start();
    admin = server.createClient();
  }

  private KubernetesMockServer newServer() {
    // The dispatcher holds the stored objects: a second server on the same port with the same
    // dispatcher is the same API server come back.
    return new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
  }

  @AfterEach
  void stop() {
    if (source != null) {
      source.close();
    }
    if (watcherClient != null) {
      watcherClient.close();
    }
    admin.close();
    server.destroy();
  }

  private void startSource() {
    watcherClient = server.createClient();
    source = new KubernetesSource(watcherClient, List.of(NS), Clock.systemUTC());
    source.onChange(() -> {
      List<Registrations.Instance> now = source.instances().stream().map(KubernetesSource.KubeEndpoint::instance)
          .toList();
      seen.add(now);
      changes.add(now);
    });
    source.start(Duration.ofSeconds(10));
  }

  private List<Registrations.Instance> awaitInstances(Predicate<List<Registrations.Instance>> done)
      throws InterruptedException {
    List<Registrations.Instance> now = source.instances().stream().map(KubernetesSource.KubeEndpoint::instance)
        .toList();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (!done.test(now)) {
      List<Registrations.Instance> next = changes.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
      assertThat(next).as("a change before the deadline; last seen: %s", now).isNotNull();
      now = next;
    }
    return now;
  }

  private static List<String> addresses(List<Registrations.Instance> instances) {
    return instances.stream().map(Registrations.Instance::address).sorted().toList();
  }

  private static Service service(String name, Map<String, String> labels, Map<String, String> annotations) {
    return new ServiceBuilder().withNewMetadata().withName(name).withNamespace(NS).withLabels(labels)
        .withAnnotations(annotations).endMetadata()
        .withNewSpec().addNewPort().withName("http").withPort(80).endPort().endSpec().build();
  }

  private static Endpoint endpoint(String ip, String zone, boolean ready, boolean serving, boolean terminating) {
    return new EndpointBuilder().withAddresses(ip).withZone(zone)
        .withNewConditions().withReady(ready).withServing(serving).withTerminating(terminating).endConditions()
        .withNewTargetRef().withKind("Pod").withName("pod-" + ip.replace('.', '-')).endTargetRef()
        .build();
  }

  private static Endpoint ready(String ip, String zone) {
    return endpoint(ip, zone, true, true, false);
  }

  private static EndpointSlice slice(String name, String service, Endpoint... endpoints) {
    return new EndpointSliceBuilder().withNewMetadata().withName(name).withNamespace(NS)
        .addToLabels(KubernetesSource.SLICE_SERVICE_LABEL, service).endMetadata()
        .withAddressType("IPv4")
        .addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort()
        .withEndpoints(endpoints)
        .build();
  }

  private void put(EndpointSlice slice) {
    admin.discovery().v1().endpointSlices().inNamespace(NS).resource(slice).createOr(r -> r.update());
  }

  @Test
  void readyEndpointsBecomeInstancesWithTheirZoneAndTheServicesLabels() throws Exception {
    admin.services().inNamespace(NS).resource(service("catalog", Map.of("version", "v1"), Map.of())).create();
    put(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-a")));
    startSource();

    put(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-a"), ready("10.0.0.2", "zone-b")));

    List<Registrations.Instance> now = awaitInstances(i -> i.size() == 2);
    assertThat(now).extracting(Registrations.Instance::service).containsOnly("catalog");
    assertThat(now.get(0).address()).isEqualTo("10.0.0.1:8080");
    assertThat(now.get(0).labels()).containsEntry("version", "v1")
        .containsEntry(KubernetesSource.ZONE_LABEL, "zone-a");
    assertThat(now.get(1).labels()).containsEntry(KubernetesSource.ZONE_LABEL, "zone-b");
    assertThat(now.get(0).nodeId()).isEqualTo("kubernetes:shop/pod-10-0-0-1");
    assertThat(source.health()).startsWith("watching EndpointSlices and Services in namespaces shop (2 instances)");
  }

  @Test
  void anEndpointThatStopsBeingReadyStaysAsUnhealthyAndIsHealthyWhenReadyAgain() throws Exception {
    put(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-a"), ready("10.0.0.2", "zone-a")));
    startSource();
    awaitEndpoints(e -> e.size() == 2 && e.stream().allMatch(KubernetesSource.KubeEndpoint::healthy));

    // Failing its readiness probe, not terminating: served as UNHEALTHY (no client picks it, but it
    // counts in zone-a's healthy share, which is what zone failover reads).
    put(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-a"),
        endpoint("10.0.0.2", "zone-a", false, false, false)));
    List<KubernetesSource.KubeEndpoint> now = awaitEndpoints(e -> e.stream().anyMatch(k -> !k.healthy()));
    assertThat(now).extracting(k -> k.instance().address(), KubernetesSource.KubeEndpoint::healthy)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("10.0.0.1:8080", true),
            org.assertj.core.groups.Tuple.tuple("10.0.0.2:8080", false));

    put(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-a"), ready("10.0.0.2", "zone-a")));
    awaitEndpoints(e -> e.size() == 2 && e.stream().allMatch(KubernetesSource.KubeEndpoint::healthy));
  }

  private List<KubernetesSource.KubeEndpoint> awaitEndpoints(Predicate<List<KubernetesSource.KubeEndpoint>> done)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    List<KubernetesSource.KubeEndpoint> now = source.instances();
    while (!done.test(now)) {
      assertThat(System.nanoTime()).as("endpoints as expected before the deadline; last seen: %s", now)
          .isLessThan(deadline);
      changes.poll(50, TimeUnit.MILLISECONDS);   // woken by the next change
      now = source.instances();
    }
    return now;
  }

  @Test
  void terminatingEndpointsTakeNoNewCallsWhileAPeerIsReadyAndAreKeptWhenNoneIs() throws Exception {
    put(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-a"), ready("10.0.0.2", "zone-a")));
    startSource();
    awaitInstances(i -> i.size() == 2);

    // A rolling update: .2 terminates (still serving its calls), .1 is ready.
    put(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-a"),
        endpoint("10.0.0.2", "zone-a", false, true, true)));
    assertThat(addresses(awaitInstances(i -> i.size() == 1))).containsExactly("10.0.0.1:8080");

    // Both terminate, both still serving: kube-proxy's fallback, keep them rather than none.
    put(slice("catalog-abc", "catalog", endpoint("10.0.0.1", "zone-a", false, true, true),
        endpoint("10.0.0.2", "zone-a", false, true, true)));
    assertThat(addresses(awaitInstances(i -> i.size() == 2))).containsExactly("10.0.0.1:8080", "10.0.0.2:8080");

    // .2 stops serving: gone; the slice deleted: the service has no endpoints from Kubernetes.
    put(slice("catalog-abc", "catalog", endpoint("10.0.0.1", "zone-a", false, true, true),
        endpoint("10.0.0.2", "zone-a", false, false, true)));
    assertThat(addresses(awaitInstances(i -> i.size() == 1))).containsExactly("10.0.0.1:8080");
    admin.discovery().v1().endpointSlices().inNamespace(NS).withName("catalog-abc").delete();
    awaitInstances(List::isEmpty);
  }

  @Test
  void anEndpointThatMovesZoneCarriesItsNewZone() throws Exception {
    put(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-a")));
    startSource();
    awaitInstances(i -> i.size() == 1);

    put(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-b")));

    List<Registrations.Instance> now =
        awaitInstances(i -> i.size() == 1 && "zone-b".equals(i.get(0).labels().get(KubernetesSource.ZONE_LABEL)));
    assertThat(now.get(0).address()).isEqualTo("10.0.0.1:8080");
  }

  @Test
  void whenTheApiServerIsDownTheLastEndpointsStayAndTheWatchResumesWhenItIsBack() throws Exception {
    put(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-a"), ready("10.0.0.2", "zone-b")));
    startSource();
    awaitInstances(i -> i.size() == 2);
    int port = server.getPort();

    server.shutdown();
    until(() -> {
      source.checkWatching();
      return source.unreachableSince().isPresent();
    });
    assertThat(source.health()).startsWith("API server unreachable since ")
        .contains("serving the last good endpoints (2 instances)");
    assertThat(addresses(source.instances().stream().map(KubernetesSource.KubeEndpoint::instance).toList()))
        .containsExactly("10.0.0.1:8080", "10.0.0.2:8080");

    // The same API server (same stored objects) comes back on the same port, with one change
    // made while the informer was away.
    server = newServer();
    server.start(port);
    admin.close();
    admin = server.createClient();
    put(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-a"), ready("10.0.0.2", "zone-b"),
        ready("10.0.0.3", "zone-b")));

    assertThat(addresses(awaitInstances(i -> i.size() == 3)))
        .containsExactly("10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080");
    until(() -> {
      source.checkWatching();
      return source.unreachableSince().isEmpty();
    });
    // Never, while the watch was down and resumed or relisted, did an endpoint drop.
    assertThat(seen).allSatisfy(list -> assertThat(addresses(list)).contains("10.0.0.1:8080", "10.0.0.2:8080"));
  }

  @Test
  void slicesWithNoPortToCallAreLeftOutWithTheReason() {
    EndpointSlice twoPorts = new EndpointSliceBuilder(slice("catalog-abc", "catalog", ready("10.0.0.1", "zone-a")))
        .withPorts(List.of()).addNewPort().withName("metrics").withPort(9090).endPort()
        .addNewPort().withName("admin").withPort(9091).endPort().build();
    List<String> problems = new ArrayList<>();

    assertThat(KubernetesSource.translate(List.of(twoPorts), List.of(), problems)).isEmpty();
    assertThat(problems).containsExactly("EndpointSlice shop/catalog-abc: no port to call, left out (expected: one "
        + "port, a port named grpc or http, or the annotation meshlet.io/port on Service shop/catalog naming one of "
        + "metrics (9090), admin (9091))");

    Service annotated = service("catalog", Map.of(), Map.of(KubernetesSource.PORT_ANNOTATION, "admin",
        KubernetesSource.SERVICE_ANNOTATION, "catalog", KubernetesSource.PROTOCOL_ANNOTATION, "grpc"));
    List<KubernetesSource.KubeEndpoint> out = KubernetesSource.translate(List.of(twoPorts), List.of(annotated),
        new ArrayList<>());
    assertThat(out).singleElement().satisfies(k -> {
      assertThat(k.instance().address()).isEqualTo("10.0.0.1:9091");
      assertThat(k.instance().protocol()).isEqualTo("grpc");
      assertThat(k.optedIn()).isTrue();
    });
  }

  @Test
  void severalServicesNamingOneMeshServiceMergeEachWithItsOwnLabels() {
    Service v1 = service("catalog-v1", Map.of("version", "v1"), Map.of(KubernetesSource.SERVICE_ANNOTATION, "catalog"));
    Service v2 = service("catalog-v2", Map.of("version", "v2"), Map.of(KubernetesSource.SERVICE_ANNOTATION, "catalog"));

    List<KubernetesSource.KubeEndpoint> out = KubernetesSource.translate(
        List.of(slice("v2-x", "catalog-v2", ready("10.0.0.2", "zone-a")),
            slice("v1-x", "catalog-v1", ready("10.0.0.1", "zone-a"))),
        List.of(v1, v2), new ArrayList<>());

    assertThat(out).extracting(k -> k.instance().service() + " " + k.instance().address() + " "
        + k.instance().labels().get("version"))
        .containsExactly("catalog 10.0.0.1:8080 v1", "catalog 10.0.0.2:8080 v2");
  }

  @Test
  void meshYamlsStaticEndpointsWinAndUndeclaredServicesJoinOnlyWhenTheyOptIn() throws Exception {
    MeshConfig config = MeshConfigParser.parse("""
        services:
          catalog:
            protocol: http
          payments:
            protocol: http
            endpoints:
              - { address: 127.0.0.1:9001 }
        """, "mesh.yaml");
    MeshState state = new MeshState(new AdsService(null), new ServerMetrics(), Clock.systemUTC(), List::of);
    Map<String, String> zone = Map.of(KubernetesSource.ZONE_LABEL, "zone-a");
    state.kubernetes(() -> List.of(
        new KubernetesSource.KubeEndpoint(new Registrations.Instance("catalog", "10.0.0.1", 8080, zone, "http",
            "kubernetes:shop/a"), false, true),
        new KubernetesSource.KubeEndpoint(new Registrations.Instance("catalog", "10.0.0.5", 8080, zone, "http",
            "kubernetes:shop/e"), false, false),
        new KubernetesSource.KubeEndpoint(new Registrations.Instance("payments", "10.0.0.2", 8080, zone, "http",
            "kubernetes:shop/b"), false, true),
        new KubernetesSource.KubeEndpoint(new Registrations.Instance("kube-dns", "10.0.0.3", 53, zone, "http",
            "kubernetes:kube-system/c"), false, true),
        new KubernetesSource.KubeEndpoint(new Registrations.Instance("reviews", "10.0.0.4", 8080, zone, "grpc",
            "kubernetes:shop/d"), true, true)));

    MeshConfig effective = state.withRegistrations(config);

    assertThat(effective.services().get("catalog").endpoints()).extracting(EndpointSpec::address, EndpointSpec::healthy)
        .as("a Kubernetes endpoint not ready is served as unhealthy")
        .containsExactly(org.assertj.core.groups.Tuple.tuple("10.0.0.1:8080", true),
            org.assertj.core.groups.Tuple.tuple("10.0.0.5:8080", false));
    assertThat(effective.services().get("payments").endpoints()).extracting(EndpointSpec::address)
        .containsExactly("127.0.0.1:9001");
    assertThat(effective.services()).doesNotContainKey("kube-dns");
    assertThat(effective.services().get("reviews").protocol().name()).isEqualTo("GRPC");
    assertThat(state.kubernetesIgnored())
        .containsExactly("service 'payments': mesh.yaml lists its endpoints, Kubernetes' are ignored");
  }

  /** Waits for a condition the informers reach on their own threads (a watch closing). */
  private static void until(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("condition reached within 15 s").isLessThan(deadline);
      Thread.sleep(20);
    }
  }
}
