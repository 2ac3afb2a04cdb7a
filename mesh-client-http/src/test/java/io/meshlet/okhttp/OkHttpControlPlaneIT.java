package io.meshlet.okhttp;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.meshlet.MeshClient;
import io.meshlet.MeshListener;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.MeshConfigParser;
import io.meshlet.controlplane.internal.translate.XdsResources;
import io.meshlet.controlplane.internal.translate.XdsTranslator;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.MeshFile;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OkHttp client and the control plane: edits followed, resources it cannot apply NACKed
 * while the old config keeps serving, a control server restart under load with no failed
 * request, and hosts outside the mesh left alone.
 */
class OkHttpControlPlaneIT {

  @TempDir Path dir;
  static WireMockServer a;
  static WireMockServer b;

  @BeforeAll
  static void start() {
    a = wiremock("a");
    b = wiremock("b");
  }

  @AfterAll
  static void stop() {
    a.stop();
    b.stop();
  }

  static WireMockServer wiremock(String body) {
    WireMockServer w = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    w.start();
    w.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withBody(body)));
    return w;
  }

  static String yaml(WireMockServer target) {
    return """
        services:
          svc:
            endpoints: [ { address: 127.0.0.1:%d } ]
            routes: [ { to: [ {} ], retries: { attempts: 2, on: [5xx, connect-failure, reset] } } ]
        """.formatted(target.port());
  }

  static String subsets(String subset) {
    return """
        services:
          svc:
            endpoints: [ { address: 127.0.0.1:%d, labels: { v: a } }, { address: 127.0.0.1:%d, labels: { v: b } } ]
            subsets: { a: { v: a }, b: { v: b } }
            routes: [ { to: [ { subset: %s } ] } ]
        """.formatted(a.port(), b.port(), subset);
  }

  static String call(OkHttpClient http, String url) throws IOException {
    try (Response r = http.newCall(new Request.Builder().url(url).build()).execute()) {
      return r.code() == 200 ? r.body().string() : "status " + r.code();
    }
  }

  @Test
  void followsAnEditOfTheFile() throws Exception {
    MeshFile mesh = new MeshFile(dir).write(yaml(a));
    try (ControlServer server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0)
            .pollInterval(Duration.ofMillis(100)).build().start();
        MeshClient client = MeshClient.builder().xdsPlaintext().serviceName("edit-it")
            .controlServers("127.0.0.1:" + server.xdsPort()).build().start()) {
      OkHttpClient http = MeshOkHttp.client(client);
      assertThat(call(http, "http://svc/x")).isEqualTo("a");
      long start = System.nanoTime();
      mesh.write(yaml(b));
      Await.until("the edit to reach the client", Duration.ofSeconds(10), () -> {
        try {
          return call(http, "http://svc/x").equals("b");
        } catch (IOException e) {
          return false;
        }
      });
      System.err.printf("edit followed after %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }
  }

  @Test
  void nacksWhatItCannotApplyAndKeepsServingTheLastGoodConfig() throws Exception {
    SimpleCache<String> cache = new SimpleCache<>(node -> "all");
    Server xds = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new V3DiscoveryServer(cache).getAggregatedDiscoveryServiceImpl()).build().start();
    BlockingQueue<String> nacks = new LinkedBlockingQueue<>();
    try (MeshClient client = MeshClient.builder().xdsPlaintext().serviceName("nack-it")
        .controlServers("127.0.0.1:" + xds.getPort())
        .listener(new MeshListener() {
          @Override
          public void onNack(String type, String version, String reason) {
            nacks.add(type + " " + version + ": " + reason);
          }
        })
        .build().start()) {
      XdsResources first = XdsTranslator.translate(MeshConfigParser.parse(subsets("a"), "mesh.yaml"));
      cache.setSnapshot("all", Snapshot.create(first.clusters(), first.endpoints(), first.listeners(),
          first.routes(), List.of(), "good-1"));
      OkHttpClient http = MeshOkHttp.client(client);
      assertThat(call(http, "http://svc/x")).isEqualTo("a");

      // Version 2 routes svc to subset b but also asks for a prefix rewrite, which Meshlet does not do.
      XdsResources next = XdsTranslator.translate(MeshConfigParser.parse(subsets("b"), "mesh.yaml"));
      RouteConfiguration rewritten = next.routes().get(0).toBuilder()
          .setVirtualHosts(0, next.routes().get(0).getVirtualHosts(0).toBuilder()
              .setRoutes(0, next.routes().get(0).getVirtualHosts(0).getRoutes(0).toBuilder()
                  .setRoute(next.routes().get(0).getVirtualHosts(0).getRoutes(0).getRoute().toBuilder()
                      .setPrefixRewrite("/v2/"))))
          .build();
      cache.setSnapshot("all", Snapshot.create(next.clusters(), next.endpoints(), next.listeners(),
          List.of(rewritten), List.of(), "bad-2"));
      String nack = nacks.poll(10, TimeUnit.SECONDS);
      assertThat(nack).isEqualTo("RouteConfiguration bad-2: route configuration 'svc': "
          + "virtual_hosts[0].routes[0].route.prefix_rewrite: set (expected: only fields Meshlet implements: "
          + "cluster, weighted_clusters, timeout, max_stream_duration, retry_policy, hash_policy)");
      // The route that would have moved svc to b was refused: the last good one still sends it to a.
      for (int i = 0; i < 20; i++) {
        assertThat(call(http, "http://svc/x")).isEqualTo("a");
      }
    } finally {
      xds.shutdownNow();
    }
  }

  @Test
  void controlServerRestartUnderLoadFailsNoRequest() throws Exception {
    MeshFile mesh = new MeshFile(dir).write(yaml(a));
    ControlServer first = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0).build().start();
    int port = first.xdsPort();
    ControlServer second = null;
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicReference<String> last = new AtomicReference<>();
    try (MeshClient client = MeshClient.builder().xdsPlaintext().serviceName("restart-it").controlServers("127.0.0.1:" + port)
        .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500)).build().start()) {
      OkHttpClient http = MeshOkHttp.client(client);
      assertThat(call(http, "http://svc/x")).isEqualTo("a");
      Thread[] load = new Thread[4];
      for (int t = 0; t < load.length; t++) {
        load[t] = new Thread(() -> {
          long stopAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
          while (running.get() && System.nanoTime() < stopAt) {
            try {
              String body = call(http, "http://svc/x");
              if (body.startsWith("status")) {
                failed.incrementAndGet();
              } else {
                last.set(body);
                ok.incrementAndGet();
              }
            } catch (IOException e) {
              failed.incrementAndGet();
            }
          }
        });
        load[t].start();
      }
      Await.until("load to flow", Duration.ofSeconds(5), () -> ok.get() > 100);
      first.close();
      int during = ok.get();
      Await.until("calls to go on with the control server down", Duration.ofSeconds(10),
          () -> ok.get() > during + 1000);
      mesh.write(yaml(b));
      second = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(port).adminPort(0).build().start();
      Await.until("the client to follow the restarted server", Duration.ofSeconds(30), () -> "b".equals(last.get()));
      running.set(false);
      for (Thread t : load) {
        t.join(10_000);
      }
      System.err.printf("restart under load: %d calls, %d failed%n", ok.get(), failed.get());
      assertThat(failed.get()).as("failed requests across the restart").isZero();
    } finally {
      running.set(false);
      first.close();
      if (second != null) {
        second.close();
      }
    }
  }

  @Test
  void failsOverToTheNextControlServer() throws Exception {
    MeshFile mesh = new MeshFile(dir).write(yaml(a));
    int deadPort;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      deadPort = s.getLocalPort();
    }
    try (ControlServer server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0).build().start();
        MeshClient client = MeshClient.builder().xdsPlaintext().serviceName("failover-it")
            .controlServers("127.0.0.1:" + deadPort, "127.0.0.1:" + server.xdsPort())
            .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build().start()) {
      assertThat(client.awaitConfig(Duration.ofSeconds(20))).as("config from the second server").isTrue();
      assertThat(call(MeshOkHttp.client(client), "http://svc/x")).isEqualTo("a");
    }
  }

  @Test
  void aCallBeforeAnyConfigWaitsOnlyAsLongAsConfigured() throws Exception {
    int deadPort;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      deadPort = s.getLocalPort();
    }
    try (MeshClient client = MeshClient.builder().xdsPlaintext().serviceName("no-config-it")
        .controlServers("127.0.0.1:" + deadPort).firstConfigTimeout(Duration.ofMillis(300)).build().start()) {
      Throwable t = org.assertj.core.api.Assertions.catchThrowable(
          () -> call(MeshOkHttp.client(client), "http://svc/x"));
      assertThat(t).isInstanceOf(InterruptedIOException.class)
          .hasMessage("no mesh config from control servers [127.0.0.1:" + deadPort + "] within 300 ms (node "
              + client.nodeId() + ")");
    }
  }

  @Test
  void hostsOutsideTheMeshAreLeftAlone() throws Exception {
    MeshFile mesh = new MeshFile(dir).write(yaml(a));
    try (ControlServer server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0).build().start();
        MeshClient client = MeshClient.builder().xdsPlaintext().serviceName("outside-it")
            .controlServers("127.0.0.1:" + server.xdsPort()).build().start()) {
      OkHttpClient http = MeshOkHttp.client(client);
      assertThat(call(http, "http://svc/x")).isEqualTo("a");
      // An IP address and localhost go straight to where they point.
      assertThat(call(http, "http://127.0.0.1:" + b.port() + "/x")).isEqualTo("b");
      assertThat(call(http, "http://localhost:" + b.port() + "/x")).isEqualTo("b");
    }
  }
}
