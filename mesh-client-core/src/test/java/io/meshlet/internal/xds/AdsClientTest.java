package io.meshlet.internal.xds;

import static io.meshlet.internal.xds.XdsFixtures.assignment;
import static io.meshlet.internal.xds.XdsFixtures.cluster;
import static io.meshlet.internal.xds.XdsFixtures.filter;
import static io.meshlet.internal.xds.XdsFixtures.hcm;
import static io.meshlet.internal.xds.XdsFixtures.plainListener;
import static io.meshlet.internal.xds.XdsFixtures.prefix;
import static io.meshlet.internal.xds.XdsFixtures.route;
import static io.meshlet.internal.xds.XdsFixtures.routeConfiguration;
import static io.meshlet.internal.xds.XdsFixtures.router;
import static io.meshlet.internal.xds.XdsFixtures.toCluster;
import static io.meshlet.internal.xds.XdsFixtures.weighted;
import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.http.cors.v3.Cors;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.Status;
import io.meshlet.MeshClient;
import io.meshlet.MeshListener;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.MeshSnapshot;
import io.meshlet.config.RouteRule.WeightedCluster;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class AdsClientTest {

  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final Node NODE = Node.newBuilder().setId("frontend~test~1").setCluster("frontend").build();

  @RegisterExtension
  final ControlPlaneExtension server = new ControlPlaneExtension();
  @RegisterExtension
  final ControlPlaneExtension backup = new ControlPlaneExtension();

  /** A NACK as the handler reports it. */
  record Nack(String typeUrl, String version, String message) {}

  /** A lost stream as the handler reports it. */
  record Disconnect(String server, Status.Code code) {}

  private final BlockingQueue<MeshSnapshot> snapshots = new LinkedBlockingQueue<>();
  private final BlockingQueue<Nack> nacks = new LinkedBlockingQueue<>();
  private final BlockingQueue<String> connects = new LinkedBlockingQueue<>();
  private final BlockingQueue<Disconnect> disconnects = new LinkedBlockingQueue<>();
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void closeClients() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
  }

  private AdsClient client(String... servers) {
    ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor();
    AdsClient ads = new AdsClient(List.of(servers), NODE, new AdsClient.Handler() {
      @Override
      public void onSnapshot(MeshSnapshot snapshot) {
        snapshots.add(snapshot);
      }

      @Override
      public void onNack(String typeUrl, String version, String message) {
        nacks.add(new Nack(typeUrl, version, message));
      }

      @Override
      public void onConnected(String server) {
        connects.add(server);
      }

      @Override
      public void onDisconnected(String server, Status status, Duration retryIn) {
        disconnects.add(new Disconnect(server, status.getCode()));
      }
    }, executor, Clock.systemUTC(), Duration.ofMillis(10), Duration.ofMillis(50), io.grpc.InsecureChannelCredentials.create(), null);
    closeables.add(() -> {
      ads.close();
      executor.shutdown();
      assertThat(executor.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
    });
    ads.start();
    return ads;
  }

  private static <T> T next(BlockingQueue<T> queue, String what) throws InterruptedException {
    T item = queue.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(item).as("waited %s s for %s", WAIT.toSeconds(), what).isNotNull();
    return item;
  }

  private static <T> T next(BlockingQueue<T> queue, String what, Predicate<T> condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (true) {
      T item = queue.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
      assertThat(item).as("waited %s s for %s", WAIT.toSeconds(), what).isNotNull();
      if (condition.test(item)) {
        return item;
      }
    }
  }

  /** A loopback port nothing listens on. */
  private static String deadServer() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return "127.0.0.1:" + s.getLocalPort();
    }
  }

  // ---- the mesh the tests serve ----

  /** The resources of one version of a small mesh, each type with its own version. */
  record Mesh(List<Listener> listeners, String lv, List<RouteConfiguration> routes, String rv,
      List<Cluster> clusters, String cv, List<ClusterLoadAssignment> endpoints, String ev) {

    /** catalog: 90/10 between v1 and v2, one endpoint each. */
    static Mesh catalog(String version) {
      return new Mesh(
          List.of(plainListener("catalog")), version,
          List.of(routeConfiguration("catalog", route(prefix("/"), weighted("catalog/v1", 90, "catalog/v2", 10)))),
          version,
          List.of(cluster("catalog/v1").build(), cluster("catalog/v2").build()), version,
          List.of(assignment("catalog/v1", "10.0.0.1:9001"), assignment("catalog/v2", "10.0.0.2:9002")), version);
    }

    Mesh listeners(String version, Listener... ls) {
      return new Mesh(List.of(ls), version, routes, rv, clusters, cv, endpoints, ev);
    }

    Mesh routes(String version, RouteConfiguration... rs) {
      return new Mesh(listeners, lv, List.of(rs), version, clusters, cv, endpoints, ev);
    }

    Mesh clusters(String version, Cluster... cs) {
      return new Mesh(listeners, lv, routes, rv, List.of(cs), version, endpoints, ev);
    }

    Mesh endpoints(String version, ClusterLoadAssignment... es) {
      return new Mesh(listeners, lv, routes, rv, clusters, cv, List.of(es), version);
    }

    Snapshot snapshot() {
      return Snapshot.create(clusters, cv, endpoints, ev, listeners, lv, routes, rv, List.of(), "none");
    }

    String version() {
      return "L=" + lv + ",R=" + rv + ",C=" + cv + ",E=" + ev;
    }
  }

  private static EndpointConfig endpoint(String host, int port) {
    return new EndpointConfig(host, port, 1, Map.of());
  }

  // ---- first config, updates ----

  @Test
  void theFirstSnapshotHasTheServicesClustersAndEndpoints() throws Exception {
    server.setSnapshot(Mesh.catalog("1").snapshot());

    client(server.target());

    MeshSnapshot s = next(snapshots, "the first snapshot");
    assertThat(s.version()).isEqualTo("L=1,R=1,C=1,E=1");
    assertThat(s.services()).containsOnlyKeys("catalog");
    assertThat(s.services().get("catalog").rules()).singleElement().satisfies(r -> {
      assertThat(r.name()).isEqualTo("catalog#0");
      assertThat(r.clusters()).containsExactly(new WeightedCluster("catalog/v1", 90),
          new WeightedCluster("catalog/v2", 10));
    });
    assertThat(s.clusters()).containsOnlyKeys("catalog/v1", "catalog/v2");
    assertThat(s.clusters().get("catalog/v1").endpoints()).containsExactly(endpoint("10.0.0.1", 9001));
    assertThat(s.clusters().get("catalog/v2").endpoints()).containsExactly(endpoint("10.0.0.2", 9002));
    assertThat(s.danglingReferences()).isEmpty();
    assertThat(next(connects, "connected")).isEqualTo(server.target());
  }

  @Test
  void theClientSubscribesToEverythingAndAcksEachResponse() throws Exception {
    client(server.target());
    server.setSnapshot(Mesh.catalog("1").snapshot());
    next(snapshots, "the first snapshot");

    // Collect what the server received until it has an ACK of version 1 of each type.
    List<DiscoveryRequest> requests = new ArrayList<>();
    java.util.Set<String> acked = new java.util.HashSet<>();
    while (acked.size() < 4) {
      DiscoveryRequest r = next(server.requests, "ACKs of " + acked);
      requests.add(r);
      if (r.getVersionInfo().equals("1")) {
        acked.add(r.getTypeUrl());
      }
    }
    assertThat(requests).allSatisfy(r -> assertThat(r.getNode().getId()).isEqualTo(NODE.getId()));
    assertThat(requests).filteredOn(r -> r.getTypeUrl().equals(AdsClient.LDS) || r.getTypeUrl().equals(AdsClient.CDS))
        .as("listeners and clusters: wildcard").allSatisfy(r -> assertThat(r.getResourceNamesList()).isEmpty());
    assertThat(requests).filteredOn(r -> r.getTypeUrl().equals(AdsClient.RDS)).last()
        .satisfies(r -> assertThat(r.getResourceNamesList()).containsExactly("catalog"));
    assertThat(requests).filteredOn(r -> r.getTypeUrl().equals(AdsClient.EDS)).last()
        .satisfies(r -> assertThat(r.getResourceNamesList()).containsExactly("catalog/v1", "catalog/v2"));
    for (String type : List.of(AdsClient.LDS, AdsClient.RDS, AdsClient.CDS, AdsClient.EDS)) {
      assertThat(requests).filteredOn(r -> r.getTypeUrl().equals(type)).last()
          .as("ACK of %s", AdsClient.shortType(type))
          .satisfies(r -> {
            assertThat(r.getVersionInfo()).isEqualTo("1");
            assertThat(r.getResponseNonce()).isNotEmpty();
            assertThat(r.hasErrorDetail()).isFalse();
          });
    }
  }

  @Test
  void aNewVersionIsFollowed() throws Exception {
    server.setSnapshot(Mesh.catalog("1").snapshot());
    client(server.target());
    next(snapshots, "version 1");

    Mesh v2 = Mesh.catalog("2")
        .listeners("2", plainListener("catalog"), plainListener("billing"))
        .routes("2", routeConfiguration("catalog", route(prefix("/"), toCluster("catalog/v2"))),
            routeConfiguration("billing", route(prefix("/"), toCluster("billing"))))
        .clusters("2", cluster("catalog/v2").build(), cluster("billing").build())
        .endpoints("2", assignment("catalog/v2", "10.0.0.2:9002", "10.0.0.3:9002"),
            assignment("billing", "10.0.1.1:7000"));
    server.setSnapshot(v2.snapshot());

    MeshSnapshot s = next(snapshots, "version 2", x -> x.version().equals(v2.version()));
    assertThat(s.services()).containsOnlyKeys("catalog", "billing");
    assertThat(s.services().get("catalog").rules().get(0).clusters())
        .containsExactly(new WeightedCluster("catalog/v2", 1));
    assertThat(s.clusters()).containsOnlyKeys("catalog/v2", "billing");
    assertThat(s.clusters().get("catalog/v2").endpoints())
        .containsExactly(endpoint("10.0.0.2", 9002), endpoint("10.0.0.3", 9002));
    assertThat(s.clusters().get("billing").endpoints()).containsExactly(endpoint("10.0.1.1", 7000));
  }

  @Test
  void anEndpointOnlyChangeIsFollowed() throws Exception {
    Mesh v1 = Mesh.catalog("1");
    server.setSnapshot(v1.snapshot());
    client(server.target());
    next(snapshots, "version 1");

    Mesh v2 = v1.endpoints("2", assignment("catalog/v1", "10.0.0.9:9001"), XdsFixtures.noEndpoints("catalog/v2"));
    server.setSnapshot(v2.snapshot());

    MeshSnapshot s = next(snapshots, "new endpoints");
    assertThat(s.version()).isEqualTo("L=1,R=1,C=1,E=2");
    assertThat(s.clusters().get("catalog/v1").endpoints()).containsExactly(endpoint("10.0.0.9", 9001));
    assertThat(s.clusters().get("catalog/v2").endpoints()).isEmpty();
  }

  /**
   * A route configuration that did not change is not parsed again, but what a listener reads from it
   * depends on the listener too: a second service's listener reading the same, unchanged route
   * configuration gets routes of its own.
   */
  @Test
  void anUnchangedRouteConfigurationReadByANewListenerGivesThatServiceItsOwnRoutes() throws Exception {
    Mesh v1 = Mesh.catalog("1");
    server.setSnapshot(v1.snapshot());
    client(server.target());
    next(snapshots, "version 1");

    // The route configuration is sent again (a new version, the same bytes) after the listeners.
    Mesh v2 = v1.listeners("2", plainListener("catalog"), XdsFixtures.listener(hcm("catalog", router()).build(), "shop"))
        .routes("2", v1.routes().toArray(new RouteConfiguration[0]));
    server.setSnapshot(v2.snapshot());

    MeshSnapshot s = next(snapshots, "version 2", x -> x.version().equals(v2.version()));
    assertThat(s.services()).containsOnlyKeys("catalog", "shop");
    assertThat(s.services().get("shop").rules()).singleElement().satisfies(r -> {
      assertThat(r.name()).isEqualTo("shop#0");
      assertThat(r.clusters()).containsExactly(new WeightedCluster("catalog/v1", 90),
          new WeightedCluster("catalog/v2", 10));
    });
    assertThat(s.services().get("catalog").rules()).singleElement()
        .satisfies(r -> assertThat(r.name()).isEqualTo("catalog#0"));
  }

  // ---- what the client cannot apply is NACKed; the last good config stays ----

  /**
   * Per type: a version 2 the client must refuse, the NACK text, and a good version 3 that
   * changes only that type, so that exactly one snapshot follows it.
   */
  static Stream<Arguments> badUpdates() {
    Mesh v1 = Mesh.catalog("1");
    return Stream.of(
        Arguments.of("listener", AdsClient.LDS,
            v1.listeners("2", XdsFixtures.listener(hcm("catalog",
                filter("envoy.filters.http.cors", Cors.getDefaultInstance(), false), router()).build(), "catalog")),
            v1.listeners("3", v1.listeners().toArray(new Listener[0])),
            "listener 'catalog': api_listener.api_listener.http_filters[0].name: envoy.filters.http.cors "
                + "(type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors) (expected: one of "
                + "envoy.filters.http.router, envoy.filters.http.fault, envoy.filters.http.local_ratelimit, "
                + "or is_optional: true)"),
        Arguments.of("route", AdsClient.RDS,
            v1.routes("2", routeConfiguration("catalog", route(prefix("/"),
                toCluster("catalog/v1").setPrefixRewrite("/v2")))),
            v1.routes("3", v1.routes().toArray(new RouteConfiguration[0])),
            "route configuration 'catalog': virtual_hosts[0].routes[0].route.prefix_rewrite: set (expected: only "
                + "fields Meshlet implements: cluster, weighted_clusters, timeout, max_stream_duration, "
                + "retry_policy, hash_policy)"),
        Arguments.of("cluster", AdsClient.CDS,
            v1.clusters("2", cluster("catalog/v1").build(),
                cluster("catalog/v2").setType(Cluster.DiscoveryType.STATIC).build()),
            v1.clusters("3", v1.clusters().toArray(new Cluster[0])),
            "cluster 'catalog/v2': type: STATIC (expected: EDS)"),
        Arguments.of("endpoints", AdsClient.EDS,
            v1.endpoints("2", assignment("catalog/v1", "10.0.0.1:0"), assignment("catalog/v2", "10.0.0.2:9002")),
            v1.endpoints("3", v1.endpoints().toArray(new ClusterLoadAssignment[0])),
            "endpoint assignment 'catalog/v1': endpoints[0].lb_endpoints[0].endpoint.address.socket_address: "
                + "10.0.0.1:0 (expected: an address and a port in 1..65535)"));
  }

  @ParameterizedTest(name = "a bad {0}")
  @MethodSource("badUpdates")
  void aResourceTheClientCannotApplyIsNackedAndTheLastGoodSnapshotStays(String what, String type, Mesh bad,
      Mesh fixed, String message) throws Exception {
    Mesh v1 = Mesh.catalog("1");
    server.setSnapshot(v1.snapshot());
    client(server.target());
    MeshSnapshot good = next(snapshots, "version 1");

    server.setSnapshot(bad.snapshot());

    assertThat(next(nacks, "a NACK")).isEqualTo(new Nack(type, "2", message));
    DiscoveryRequest nack = next(server.requests, "the NACK on the wire", DiscoveryRequest::hasErrorDetail);
    assertThat(nack.getTypeUrl()).isEqualTo(type);
    assertThat(nack.getVersionInfo()).as("a NACK carries the last accepted version").isEqualTo("1");
    assertThat(nack.getErrorDetail().getMessage()).isEqualTo(message);
    assertThat(snapshots).as("nothing of version 2 was published").isEmpty();

    // A good version replaces the bad one; nothing was published in between.
    server.setSnapshot(fixed.snapshot());
    MeshSnapshot next = next(snapshots, "version 3");
    assertThat(next.version()).isEqualTo(fixed.version());
    assertThat(next.services()).isEqualTo(good.services());
    assertThat(next.clusters()).isEqualTo(good.clusters());
  }

  @Test
  void aRefusedVersionSentAgainIsRefusedAgainButReportedOnce() throws Exception {
    Mesh v1 = Mesh.catalog("1");
    server.setSnapshot(v1.snapshot());
    client(server.target());
    next(snapshots, "version 1");

    server.setSnapshot(v1.clusters("2", cluster("catalog/v1").build(),
        cluster("catalog/v2").setType(Cluster.DiscoveryType.STATIC).build()).snapshot());

    // java-control-plane answers every NACK by sending the refused version again; the client
    // refuses each (after a growing pause, not in a tight loop) but reports the refusal once.
    for (int i = 1; i <= 4; i++) {
      DiscoveryRequest nack = next(server.requests, "NACK " + i, DiscoveryRequest::hasErrorDetail);
      assertThat(nack.getTypeUrl()).isEqualTo(AdsClient.CDS);
      assertThat(nack.getVersionInfo()).isEqualTo("1");
    }
    assertThat(nacks).hasSize(1);

    server.setSnapshot(v1.clusters("3", v1.clusters().toArray(new Cluster[0])).snapshot());
    assertThat(next(snapshots, "version 3").version()).isEqualTo("L=1,R=1,C=3,E=1");
  }

  @Test
  void aMeshClientKeepsItsConfigWhenANackHappensAndTellsItsListener() throws Exception {
    server.setSnapshot(Mesh.catalog("1").snapshot());
    BlockingQueue<String> listenerNacks = new LinkedBlockingQueue<>();
    BlockingQueue<MeshSnapshot> configs = new LinkedBlockingQueue<>();
    MeshClient mesh = MeshClient.builder().xdsPlaintext()
        .serviceName("frontend")
        .controlServers(server.target())
        .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
        .listener(new MeshListener() {
          @Override
          public void onConfig(MeshSnapshot snapshot) {
            configs.add(snapshot);
          }

          @Override
          public void onNack(String resourceType, String version, String reason) {
            listenerNacks.add(resourceType + " " + version + ": " + reason);
          }
        })
        .build();
    closeables.add(mesh);
    mesh.start();
    assertThat(mesh.awaitConfig(WAIT)).isTrue();
    MeshSnapshot good = mesh.snapshot();
    assertThat(good.version()).isEqualTo("L=1,R=1,C=1,E=1");
    assertThat(mesh.calls().route("catalog", "/items", h -> null).clusterName()).isIn("catalog/v1", "catalog/v2");

    server.setSnapshot(Mesh.catalog("1").clusters("2", cluster("catalog/v1").build(),
        cluster("catalog/v2").setType(Cluster.DiscoveryType.STATIC).build()).snapshot());

    assertThat(next(listenerNacks, "the listener's NACK"))
        .isEqualTo("Cluster 2: cluster 'catalog/v2': type: STATIC (expected: EDS)");
    assertThat(mesh.snapshot()).isSameAs(good);
    assertThat(next(configs, "the first config")).isSameAs(good);
    assertThat(configs).isEmpty();
  }

  // ---- control servers going away ----

  @Test
  void whenTheServerStopsTheLastSnapshotStaysInForce() throws Exception {
    server.setSnapshot(Mesh.catalog("1").snapshot());
    MeshClient mesh = MeshClient.builder().xdsPlaintext()
        .serviceName("frontend")
        .controlServers(server.target())
        .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
        .listener(new MeshListener() {
          @Override
          public void onDisconnected(String s, String reason, Duration retryIn) {
            disconnects.add(new Disconnect(s, Status.Code.UNAVAILABLE));
          }
        })
        .build();
    closeables.add(mesh);
    mesh.start();
    assertThat(mesh.awaitConfig(WAIT)).isTrue();
    MeshSnapshot good = mesh.snapshot();

    server.stop();

    next(disconnects, "the first disconnect");
    next(disconnects, "a failed reconnect");
    assertThat(mesh.snapshot()).isSameAs(good);
    assertThat(mesh.calls().route("catalog", "/", h -> null).service()).isEqualTo("catalog");
  }

  @Test
  void whenTheFirstServerIsDownTheClientFailsOverToTheNext() throws Exception {
    String dead = deadServer();
    server.setSnapshot(Mesh.catalog("1").snapshot());

    client(dead, server.target());

    assertThat(next(disconnects, "the dead server failing").server()).isEqualTo(dead);
    assertThat(next(snapshots, "config from the second server").version()).isEqualTo("L=1,R=1,C=1,E=1");
    assertThat(next(connects, "connected")).isEqualTo(server.target());
  }

  @Test
  void whenTheConnectedServerStopsTheClientMovesToTheNextAndFollowsIt() throws Exception {
    server.setSnapshot(Mesh.catalog("1").snapshot());
    backup.setSnapshot(Mesh.catalog("1").snapshot());
    client(server.target(), backup.target());
    next(snapshots, "version 1");
    assertThat(next(connects, "connected")).isEqualTo(server.target());

    server.stop();
    Mesh v2 = Mesh.catalog("1").endpoints("2", assignment("catalog/v1", "10.0.0.7:9001"),
        assignment("catalog/v2", "10.0.0.8:9002"));
    backup.setSnapshot(v2.snapshot());

    assertThat(next(connects, "connected to the backup")).isEqualTo(backup.target());
    MeshSnapshot s = next(snapshots, "version 2 from the backup");
    assertThat(s.version()).isEqualTo(v2.version());
    assertThat(s.clusters().get("catalog/v1").endpoints()).containsExactly(endpoint("10.0.0.7", 9001));
  }

  @Test
  void afterARestartOnTheSamePortTheClientReconnectsAndTakesTheNewConfig() throws Exception {
    server.setSnapshot(Mesh.catalog("1").snapshot());
    client(server.target());
    next(snapshots, "version 1");
    next(connects, "connected");

    server.stop();
    next(disconnects, "the stream ending");
    next(disconnects, "a failed reconnect");
    Mesh v2 = Mesh.catalog("2").clusters("2", cluster("catalog/v1").build(), cluster("catalog/v2").build(),
            cluster("catalog/v3").build())
        .endpoints("2", assignment("catalog/v1", "10.0.0.1:9001"), assignment("catalog/v2", "10.0.0.2:9002"),
            assignment("catalog/v3", "10.0.0.3:9003"));
    server.restart(v2.snapshot());

    assertThat(next(connects, "reconnected")).isEqualTo(server.target());
    MeshSnapshot s = next(snapshots, "version 2", x -> x.version().equals(v2.version()));
    assertThat(s.version()).isEqualTo(v2.version());
    assertThat(s.clusters()).containsKey("catalog/v3");
  }

  @Test
  void aRemovedServiceAndClusterDisappear() throws Exception {
    Mesh two = Mesh.catalog("1")
        .listeners("1", plainListener("catalog"), plainListener("billing"))
        .routes("1", routeConfiguration("catalog", route(prefix("/"), toCluster("catalog/v1"))),
            routeConfiguration("billing", route(prefix("/"), toCluster("billing"))))
        .clusters("1", cluster("catalog/v1").build(), cluster("billing").build())
        .endpoints("1", assignment("catalog/v1", "10.0.0.1:9001"), assignment("billing", "10.0.1.1:7000"));
    server.setSnapshot(two.snapshot());
    client(server.target());
    assertThat(next(snapshots, "two services").services()).containsOnlyKeys("catalog", "billing");

    Mesh one = two.listeners("2", plainListener("catalog"))
        .routes("2", routeConfiguration("catalog", route(prefix("/"), toCluster("catalog/v1"))))
        .clusters("2", cluster("catalog/v1").build())
        .endpoints("2", assignment("catalog/v1", "10.0.0.1:9001"));
    server.setSnapshot(one.snapshot());

    MeshSnapshot s = next(snapshots, "one service", x -> x.version().equals(one.version()));
    assertThat(s.services()).containsOnlyKeys("catalog");
    assertThat(s.clusters()).containsOnlyKeys("catalog/v1");
    assertThat(s.clusters().values()).extracting(ClusterConfig::name).containsExactly("catalog/v1");
  }
}
