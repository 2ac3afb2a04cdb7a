package io.meshlet.okhttp;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.XdsClients;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * One intent, one meaning: each case is one piece of mesh.yaml, written once and applied to an
 * HTTP service (called through Meshlet's OkHttp client and policy engine) and to a gRPC service
 * (called through grpc-java's own xDS client), and both must show the same behaviour.
 *
 * <p>Where the transports name things differently the table says how they map: an HTTP 503 and
 * gRPC UNAVAILABLE are both "unavailable"; an HTTP timeout and gRPC DEADLINE_EXCEEDED are both
 * "timeout"; a retry condition is written {@code {retryOn}} and becomes {@code 5xx} for HTTP and
 * {@code unavailable} for gRPC, since Envoy's {@code retry_on} names HTTP and gRPC conditions
 * separately and a gRPC service refuses the HTTP ones (grpc-java retries on status codes only).
 */
class OneIntentBothTransportsIT {

  /** One row of the table: an intent and what a caller sees. */
  record Case(String name, String intent, Map<String, Double> expectedShares, int calls,
      String header) {
    @Override
    public String toString() {
      return name;
    }
  }

  static final List<Case> CASES = List.of(
      new Case("weighted split 80/20",
          "routes: [ { to: [ { subset: v1, weight: 80 }, { subset: v2, weight: 20 } ] } ]",
          Map.of("v1", 0.8, "v2", 0.2), 1000, null),
      new Case("header route to the canary",
          """
          routes:
                - { match: { headers: { x-canary: "true" } }, to: [ { subset: v2 } ] }
                - { to: [ { subset: v1 } ] }""",
          Map.of("v2", 1.0), 50, "x-canary"),
      new Case("retries hide a failing instance",
          """
          routes:
                - to: [ { subset: all } ]
                  retries: { attempts: 3, on: [{retryOn}] }""",
          Map.of("v2", 1.0), 100, null),
      new Case("no retries: the failing instance shows",
          "routes: [ { to: [ { subset: all } ] } ]",
          Map.of("v2", 0.5, "unavailable", 0.5), 100, null),
      new Case("route timeout",
          "routes: [ { to: [ { subset: slow } ], timeout: 200ms } ]",
          Map.of("timeout", 1.0), 5, null),
      new Case("injected abort 30%",
          "routes: [ { to: [ { subset: v2 } ], faults: { abort: { percent: 30, httpStatus: 503 } } } ]",
          Map.of("v2", 0.7, "unavailable", 0.3), 1000, null));

  @TempDir static Path dir;
  static final List<AutoCloseable> closeables = new ArrayList<>();
  static ControlServer server;
  static MeshClient mesh;
  static OkHttpClient http;

  @BeforeAll
  static void start() throws Exception {
    // HTTP instances: v1 fails with 503 ("broken"), v2 answers, slow answers after 2 s.
    WireMockServer v1 = wiremock(aResponse().withStatus(503).withBody("broken"));
    WireMockServer v2 = wiremock(aResponse().withStatus(200).withBody("v2"));
    WireMockServer slow = wiremock(aResponse().withStatus(200).withBody("slow").withFixedDelay(2000));
    WireMockServer v1ok = wiremock(aResponse().withStatus(200).withBody("v1"));
    // gRPC instances with the same behaviour.
    EchoBackend g1 = closing(new EchoBackend("broken").failing(true));
    EchoBackend g2 = closing(new EchoBackend("v2"));
    EchoBackend gslow = closing(new EchoBackend("slow").delay(2000));
    EchoBackend g1ok = closing(new EchoBackend("v1"));

    StringBuilder yaml = new StringBuilder("services:\n");
    for (int i = 0; i < CASES.size(); i++) {
      Case c = CASES.get(i);
      boolean splitCase = c.intent().contains("subset: v1");
      yaml.append(service("case" + i + "-http", "http", splitCase ? v1ok.port() : v1.port(), v2.port(),
          slow.port(), c.intent().replace("{retryOn}", "5xx")));
      yaml.append(service("case" + i + "-grpc", "grpc", splitCase ? g1ok.port() : g1.port(), g2.port(),
          gslow.port(), c.intent().replace("{retryOn}", "unavailable")));
    }
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, yaml.toString());
    server = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build().start();
    XdsClients.bootstrap(server.xdsPort(), "one-intent-it");
    mesh = MeshClient.builder().xdsPlaintext().serviceName("one-intent-it")
        .controlServers("127.0.0.1:" + server.xdsPort()).build().start();
    http = MeshOkHttp.decorate(new OkHttpClient.Builder().readTimeout(Duration.ofSeconds(10)), mesh).build();
  }

  private static String service(String name, String protocol, int v1, int v2, int slow, String intent) {
    return """
          %s:
            protocol: %s
            endpoints:
              - { address: 127.0.0.1:%d, labels: { version: v1, all: "yes" } }
              - { address: 127.0.0.1:%d, labels: { version: v2, all: "yes" } }
              - { address: 127.0.0.1:%d, labels: { version: slow } }
            subsets: { v1: { version: v1 }, v2: { version: v2 }, slow: { version: slow }, all: { all: "yes" } }
            %s
        """.formatted(name, protocol, v1, v2, slow, intent);
  }

  private static WireMockServer wiremock(com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder answer) {
    WireMockServer w = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    w.start();
    w.stubFor(any(anyUrl()).willReturn(answer));
    closeables.add(w::stop);
    return w;
  }

  private static <T extends AutoCloseable> T closing(T t) {
    closeables.add(t);
    return t;
  }

  @AfterAll
  static void stop() {
    if (mesh != null) {
      mesh.close();
    }
    if (server != null) {
      server.close();
    }
    for (AutoCloseable c : closeables) {
      try {
        c.close();
      } catch (Exception e) {
        // keep closing
      }
    }
  }

  static Stream<Arguments> table() {
    List<Arguments> rows = new ArrayList<>();
    for (int i = 0; i < CASES.size(); i++) {
      rows.add(Arguments.of(CASES.get(i), "http", i));
      rows.add(Arguments.of(CASES.get(i), "grpc", i));
    }
    return rows.stream();
  }

  @ParameterizedTest(name = "{0} over {1}")
  @MethodSource("table")
  void sameIntentSameBehaviour(Case c, String transport, int index) throws Exception {
    String service = "case" + index + "-" + transport;
    Map<String, Integer> seen = new HashMap<>();
    ManagedChannel channel = transport.equals("grpc") ? XdsClients.channel(service) : null;
    try {
      if (channel != null) {
        awaitReady(channel);
      }
      for (int i = 0; i < c.calls(); i++) {
        String result = transport.equals("http") ? httpCall(service, c.header()) : grpcCall(channel, c.header());
        seen.merge(result, 1, Integer::sum);
      }
    } finally {
      if (channel != null) {
        channel.shutdownNow();
      }
    }
    for (Map.Entry<String, Double> e : c.expectedShares().entrySet()) {
      double p = e.getValue();
      double mean = p * c.calls();
      // Four standard deviations of a binomial count, and never less than 2 calls.
      double tolerance = Math.max(2, 4 * Math.sqrt(c.calls() * p * (1 - p)));
      assertThat((double) seen.getOrDefault(e.getKey(), 0))
          .as("%s over %s: calls answered '%s' (all: %s)", c.name(), transport, e.getKey(), seen)
          .isBetween(mean - tolerance, mean + tolerance);
    }
    assertThat(seen.keySet()).as("%s over %s: nothing unexpected (all: %s)", c.name(), transport, seen)
        .isSubsetOf(c.expectedShares().keySet());
  }

  private static String httpCall(String service, String header) throws IOException {
    Request.Builder b = new Request.Builder().url("http://" + service + "/meshlet.test.Echo/Who");
    if (header != null) {
      b.header(header, "true");
    }
    try (Response r = http.newCall(b.build()).execute()) {
      if (r.code() == 503) {
        return "unavailable";
      }
      return r.body().string();
    } catch (InterruptedIOException e) {
      return "timeout";
    }
  }

  private static String grpcCall(ManagedChannel channel, String header) {
    try {
      return XdsClients.call(channel, EchoBackend.WHO, header == null ? null : XdsClients.header(header, "true"),
          10_000);
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.UNAVAILABLE) {
        return "unavailable";
      } else if (e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
        return "timeout";
      }
      return e.getStatus().getCode().name();
    }
  }

  private static void awaitReady(ManagedChannel channel) {
    // The first call on a fresh xds:/// channel waits for its config; a failure it sees then is
    // still an answer, so only wait until the channel has its config and a connection.
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      io.grpc.ConnectivityState state = channel.getState(true);
      if (state == io.grpc.ConnectivityState.READY) {
        return;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
