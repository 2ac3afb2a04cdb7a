package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.XdsClients;
import io.meshlet.transport.MeshRoute;
import io.meshlet.transport.ResponseInfo;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Load reports from real clients reach {@code /traffic} and {@code /metrics} with the counts the
 * clients sent: a {@link MeshClient} calling an HTTP service (per instance, with latency) and
 * grpc-java's own xDS client calling a gRPC service (per locality), both over LRS to the control
 * server they get their config from.
 */
class LoadReportsIT {

  @TempDir static Path dir;
  static HttpServer v1;
  static HttpServer v2;
  static EchoBackend echo;
  static ControlServer server;
  static AdminClient admin;
  static MeshClient frontend;
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeAll
  static void start() throws Exception {
    v1 = upstream(200);
    v2 = upstream(503);
    echo = new EchoBackend("echo");
    MeshFile mesh = new MeshFile(dir).write("""
        services:
          catalog:
            protocol: http
            endpoints:
              - { address: 127.0.0.1:%d, labels: { version: v1 } }
              - { address: 127.0.0.1:%d, labels: { version: v2 } }
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            routes:
              - match: { pathPrefix: /v2 }
                to: [ { subset: v2, weight: 100 } ]
              - to: [ { subset: v1, weight: 100 } ]
          echo:
            protocol: grpc
            endpoints: [ { address: %s } ]
        """.formatted(v1.getAddress().getPort(), v2.getAddress().getPort(), echo.address()));
    server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0)
        .loadReportInterval(Duration.ofMillis(300)).build().start();
    admin = new AdminClient(server.adminPort());
    XdsClients.bootstrap(server.xdsPort(), "grpc-caller");
    frontend = MeshClient.builder().xdsPlaintext().serviceName("frontend").nodeId("frontend-1")
        .controlServers(java.util.List.of("127.0.0.1:" + server.xdsPort())).build().start();
    Await.until("the frontend to know catalog", Duration.ofSeconds(15), () -> frontend.snapshot().services().containsKey("catalog"));
  }

  static HttpServer upstream(int status) throws IOException {
    HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    s.createContext("/", ex -> {
      ex.getRequestBody().readAllBytes();
      ex.sendResponseHeaders(status, -1);
      ex.close();
    });
    s.start();
    return s;
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(frontend, server, echo);
    for (HttpServer s : new HttpServer[] {v1, v2}) {
      if (s != null) {
        s.stop(0);
      }
    }
  }

  /** One call through the frontend's mesh client; returns the status. */
  static int call(String path) throws IOException {
    MeshRoute route = frontend.calls().route("catalog", path, h -> null);
    HttpResponse<Void> r = frontend.calls().execute(route, null, true, t -> {
      try {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + t.endpoint().address() + path))
            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException();
      }
    }, new ResponseInfo<HttpResponse<Void>>() {
      @Override
      public int status(HttpResponse<Void> response) {
        return response.statusCode();
      }

      @Override
      public void discard(HttpResponse<Void> response) {}
    });
    return r.statusCode();
  }

  static JsonNode target(JsonNode traffic, String service, String target) {
    for (JsonNode s : traffic.path("services")) {
      if (s.path("service").asText().equals(service)) {
        for (JsonNode t : s.path("targets")) {
          if (t.path("target").asText().equals(target)) {
            return t;
          }
        }
      }
    }
    return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
  }

  @Test
  void meshClientAndGrpcJavaLoadShowsPerServiceTargetAndInstanceWithTheCountsSent() throws Exception {
    int ok = 120;
    int failing = 40;
    for (int i = 0; i < ok; i++) {
      assertThat(call("/items")).isEqualTo(200);
    }
    for (int i = 0; i < failing; i++) {
      assertThat(call("/v2/items")).isEqualTo(503);
    }
    ManagedChannel channel = XdsClients.channel("echo");
    int grpcCalls = 80;
    int grpcErrors = 10;
    try {
      XdsClients.awaitFirstAnswer(channel, 15_000);
      for (int i = 1; i < grpcCalls - grpcErrors; i++) {
        XdsClients.who(channel);
      }
      echo.failing(true);
      for (int i = 0; i < grpcErrors; i++) {
        try {
          XdsClients.who(channel);
        } catch (StatusRuntimeException expected) {
          // counted as an error by grpc-java's load report
        }
      }
      echo.failing(false);

      Await.until("the reports to add up to what was sent", Duration.ofSeconds(20), () -> {
        JsonNode t = admin.json("/traffic");
        return target(t, "catalog", "v1").path("issued").asLong() == ok
            && target(t, "catalog", "v2").path("issued").asLong() == failing
            && target(t, "echo", "").path("issued").asLong() == grpcCalls;
      });
    } finally {
      channel.shutdownNow();
    }
    JsonNode traffic = admin.json("/traffic");
    JsonNode catalogV1 = target(traffic, "catalog", "v1");
    assertThat(catalogV1.path("succeeded").asLong()).isEqualTo(ok);
    assertThat(catalogV1.path("errors").asLong()).isZero();
    // Meshlet clients report per instance, with latencies.
    assertThat(catalogV1.path("instances").get(0).path("instance").asText())
        .isEqualTo("127.0.0.1:" + v1.getAddress().getPort());
    assertThat(catalogV1.path("latencyMs").path("count").asLong()).isEqualTo(ok);
    assertThat(catalogV1.path("latencyMs").path("p99").asDouble()).isPositive();
    JsonNode catalogV2 = target(traffic, "catalog", "v2");
    assertThat(catalogV2.path("errors").asLong()).isEqualTo(failing);
    assertThat(catalogV2.path("errorRate").asDouble()).isEqualTo(1.0);
    // grpc-java reports per locality, without latency.
    JsonNode grpc = target(traffic, "echo", "");
    assertThat(grpc.path("errors").asLong()).isEqualTo(grpcErrors);
    assertThat(grpc.path("succeeded").asLong()).isEqualTo(grpcCalls - grpcErrors);
    assertThat(grpc.path("instances").get(0).path("instance").asText()).isEqualTo("(per locality)");
    assertThat(grpc.path("latencyMs").isNull()).isTrue();
    JsonNode catalog = traffic.path("services").get(0);
    assertThat(catalog.path("service").asText()).isEqualTo("catalog");
    assertThat(catalog.path("issued").asLong()).isEqualTo(ok + failing);
    assertThat(catalog.path("rps").asDouble()).isPositive();
    assertThat(traffic.path("reporters").findValuesAsText("nodeId")).contains("frontend-1", "grpc-caller");

    String metrics = admin.get("/metrics").body();
    assertThat(metrics)
        .contains("meshlet_load_requests_total{result=\"success\",service=\"catalog\",target=\"v1\"} " + ok + ".0")
        .contains("meshlet_load_requests_total{result=\"error\",service=\"catalog\",target=\"v2\"} " + failing + ".0")
        .contains("meshlet_load_requests_total{result=\"success\",service=\"echo\",target=\"\"} "
            + (grpcCalls - grpcErrors) + ".0")
        .contains("meshlet_load_latency_seconds_count{service=\"catalog\",target=\"v1\"} " + ok);
  }
}
