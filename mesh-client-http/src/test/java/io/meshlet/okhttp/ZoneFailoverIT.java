package io.meshlet.okhttp;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.XdsClients;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Zone-aware routing end to end: a real control server serving a {@code preferLocal} HTTP service
 * (WireMock instances) and a {@code preferLocal} gRPC service (real gRPC servers), two instances
 * of each in zone {@code a} and one in zone {@code b}; a {@link MeshClient} with OkHttp and a
 * grpc-java {@code xds:///} channel, both in zone {@code a}. Calls stay in a; with a's instances
 * stopped they go to b with no failed call (the routes retry: HTTP on connect-failure, gRPC on
 * unavailable, which is what carries the calls that meet a stopped instance); with a's instances
 * back on their ports, calls return to a. A client in no zone, as a control, spreads over both.
 *
 * <p>What moves each transport: the HTTP engine leaves zone a when less than 70% of its
 * instances are available (outlier ejection on connect failures, EDS health) and comes back as
 * ejections end; grpc-java leaves priority 0 when every subchannel of it is in TRANSIENT_FAILURE,
 * and comes back when one is READY again.
 */
class ZoneFailoverIT {

  private static final String ZONE = "topology.kubernetes.io/zone";

  @TempDir Path dir;
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      try {
        open.get(i).close();
      } catch (Exception ignored) {
        // closing what may already be closed
      }
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    }
  }

  private WireMockServer http(String name, int port) {
    WireMockServer w = new WireMockServer(options().bindAddress("127.0.0.1").port(port));
    w.start();
    w.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withBody(name)));
    open.add(w::stop);
    return w;
  }

  private Server grpc(String name, int port) {
    ServerServiceDefinition echo = ServerServiceDefinition.builder(EchoBackend.SERVICE)
        .addMethod(EchoBackend.WHO, ServerCalls.asyncUnaryCall((req, out) -> {
          out.onNext(name);
          out.onCompleted();
        }))
        .build();
    try {
      Server s = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port)).addService(echo).build().start();
      open.add(s::shutdownNow);
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Who answered each of {@code n} calls, counted; a failed call counts as "FAILED: ...". */
  private static Map<String, Integer> answers(int n, Supplier<String> call) {
    Map<String, Integer> seen = new TreeMap<>();
    for (int i = 0; i < n; i++) {
      seen.merge(call.get(), 1, Integer::sum);
    }
    return seen;
  }

  private static String httpCall(OkHttpClient client) {
    try (Response r = client.newCall(new Request.Builder().url("http://shop/").build()).execute()) {
      return r.code() == 200 ? r.body().string() : "FAILED: HTTP " + r.code();
    } catch (IOException e) {
      return "FAILED: " + e;
    }
  }

  private static String grpcCall(ManagedChannel channel) {
    try {
      return XdsClients.call(channel, EchoBackend.WHO, null, 10_000);
    } catch (StatusRuntimeException e) {
      return "FAILED: " + e.getStatus();
    }
  }

  /**
   * Calls until {@code n} in a row are answered in {@code zone}, up to {@code timeout}, failing at
   * the first failed call; returns every answer seen.
   */
  private static Map<String, Integer> callUntilIn(String zone, int n, Duration timeout, Supplier<String> call) {
    Map<String, Integer> seen = new TreeMap<>();
    int[] inARow = {0};
    Await.until(n + " calls in a row answered in zone " + zone, timeout, () -> {
      String who = call.get();
      seen.merge(who, 1, Integer::sum);
      assertThat(who).as("every call answered (all answers so far: %s)", seen).doesNotStartWith("FAILED");
      inARow[0] = who.startsWith(zone) ? inARow[0] + 1 : 0;
      return inARow[0] >= n;
    });
    return seen;
  }

  @Test
  void callsStayInTheirZoneFailOverWhenItsInstancesStopAndComeBack() throws Exception {
    int[] ports = {freePort(), freePort(), freePort(), freePort()};
    WireMockServer a1 = http("a1", ports[0]);
    WireMockServer a2 = http("a2", ports[1]);
    WireMockServer b1 = http("b1", 0);
    Server ga1 = grpc("a1", ports[2]);
    Server ga2 = grpc("a2", ports[3]);
    Server gb1 = grpc("b1", 0);
    new MeshFile(dir).write("""
        services:
          shop:
            endpoints:
              - { address: 127.0.0.1:%d, labels: { %s: a } }
              - { address: 127.0.0.1:%d, labels: { %s: a } }
              - { address: 127.0.0.1:%d, labels: { %s: b } }
            locality: { preferLocal: true, failoverThreshold: 70%% }
            outlierDetection: { consecutive5xx: 1, interval: 1s, baseEjectionTime: 1s, maxEjectionPercent: 100 }
            routes:
              - to: [ {} ]
                retries: { attempts: 3, on: [ connect-failure, reset ], backoff: { base: 10ms, max: 50ms } }
          echo:
            protocol: grpc
            endpoints:
              - { address: 127.0.0.1:%d, labels: { %s: a } }
              - { address: 127.0.0.1:%d, labels: { %s: a } }
              - { address: 127.0.0.1:%d, labels: { %s: b } }
            locality: { preferLocal: true }
            routes:
              - to: [ {} ]
                retries: { attempts: 4, on: [ unavailable ], backoff: { base: 50ms, max: 500ms } }
        """.formatted(a1.port(), ZONE, a2.port(), ZONE, b1.port(), ZONE,
            ga1.getPort(), ZONE, ga2.getPort(), ZONE, gb1.getPort(), ZONE));
    ControlServer server = ControlServer.builder().xdsPlaintext(true).configFile(new MeshFile(dir).path())
        .xdsPort(0).adminPort(0).pollInterval(Duration.ofMillis(100)).build().start();
    open.add(server);
    System.setProperty("io.grpc.xds.bootstrapConfig", """
        {
          "xds_servers": [ { "server_uri": "127.0.0.1:%d", "channel_creds": [ { "type": "insecure" } ],
                             "server_features": [ "xds_v3" ] } ],
          "node": { "id": "zone-it-grpc", "cluster": "caller", "locality": { "zone": "a" } }
        }
        """.formatted(server.xdsPort()));
    MeshClient inA = MeshClient.builder().xdsPlaintext().serviceName("caller").zone("a").firstConfigTimeout(Duration.ofSeconds(30))
        .controlServers("127.0.0.1:" + server.xdsPort()).build().start();
    open.add(inA);
    MeshClient nowhere = MeshClient.builder().xdsPlaintext().serviceName("caller").nodeId("caller~nowhere").firstConfigTimeout(Duration.ofSeconds(30))
        .controlServers("127.0.0.1:" + server.xdsPort()).build().start();
    open.add(nowhere);
    OkHttpClient http = MeshOkHttp.client(inA);
    ManagedChannel channel = XdsClients.channel("echo");
    open.add(channel::shutdownNow);
    // Bounded waits are generous: they end at the event, and a loaded machine takes seconds to connect.
    XdsClients.awaitFirstAnswer(channel, 30_000);

    // In zone a, both transports stay there; a caller in no zone spreads over both zones.
    assertThat(answers(30, () -> grpcCall(channel))).containsOnlyKeys("a1", "a2");
    assertThat(answers(30, () -> httpCall(http))).containsOnlyKeys("a1", "a2");
    assertThat(answers(30, () -> httpCall(MeshOkHttp.client(nowhere)))).containsOnlyKeys("a1", "a2", "b1");

    // Zone a's instances stop: calls go to b, none fails.
    a1.stop();
    a2.stop();
    ga1.shutdown();
    ga2.shutdown();
    Map<String, Integer> grpcDuring = callUntilIn("b", 20, Duration.ofSeconds(30), () -> grpcCall(channel));
    Map<String, Integer> httpDuring = callUntilIn("b", 20, Duration.ofSeconds(30), () -> httpCall(http));
    assertThat(httpDuring.keySet()).allMatch(k -> !k.startsWith("FAILED"));
    assertThat(grpcDuring.keySet()).allMatch(k -> !k.startsWith("FAILED"));

    // They come back on their ports: calls return to a, none fails on the way.
    http("a1", ports[0]);
    http("a2", ports[1]);
    grpc("a1", ports[2]);
    grpc("a2", ports[3]);
    callUntilIn("a", 20, Duration.ofSeconds(30), () -> httpCall(http));
    callUntilIn("a", 20, Duration.ofSeconds(30), () -> grpcCall(channel));
  }
}
