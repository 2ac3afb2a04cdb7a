package io.meshlet.okhttp;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.http.Fault;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.Await;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Meshlet's OkHttp client applies the resilience settings of mesh.yaml against WireMock upstreams
 * with faults: retries and their budget, per-try and route timeouts, outlier ejection and return,
 * circuit breaking, injected faults and rate limits.
 */
class OkHttpResilienceIT {

  @TempDir static Path dir;
  static final List<WireMockServer> upstreams = new ArrayList<>();
  static WireMockServer good;
  static WireMockServer bad;
  static WireMockServer resetting;
  static WireMockServer slow;
  static WireMockServer flaky;
  static WireMockServer steady;
  static ControlServer server;
  static MeshClient mesh;
  static OkHttpClient http;

  @BeforeAll
  static void start() throws Exception {
    good = upstream(aResponse().withStatus(200).withBody("good"));
    bad = upstream(aResponse().withStatus(503).withBody("bad"));
    resetting = upstream(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER));
    slow = upstream(aResponse().withStatus(200).withBody("slow").withFixedDelay(1500));
    flaky = upstream(aResponse().withStatus(200).withBody("flaky"));
    steady = upstream(aResponse().withStatus(200).withBody("steady"));
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, """
        services:
          retried:
            endpoints: [ { address: 127.0.0.1:%1$d }, { address: 127.0.0.1:%2$d }, { address: 127.0.0.1:%3$d } ]
            routes: [ { to: [ {} ], retries: { attempts: 2, on: [5xx, reset, connect-failure], backoff: { base: 1ms, max: 5ms } } } ]
          unretried:
            endpoints: [ { address: 127.0.0.1:%1$d }, { address: 127.0.0.1:%2$d } ]
          budget:
            endpoints: [ { address: 127.0.0.1:%2$d } ]
            circuitBreaker: { maxRetries: 0 }
            routes: [ { to: [ {} ], retries: { attempts: 3, on: [5xx] } } ]
          pertry:
            endpoints: [ { address: 127.0.0.1:%4$d }, { address: 127.0.0.1:%1$d } ]
            loadBalancing: round_robin
            routes: [ { to: [ {} ], timeout: 5s, retries: { attempts: 1, perTryTimeout: 200ms, on: [reset] } } ]
          budget-free:
            endpoints: [ { address: 127.0.0.1:%2$d } ]
            routes: [ { to: [ {} ], retries: { attempts: 2, on: [5xx], backoff: { base: 1ms } } } ]
          hashed:
            endpoints: [ { address: 127.0.0.1:%1$d }, { address: 127.0.0.1:%5$d }, { address: 127.0.0.1:%6$d } ]
            loadBalancing: ring_hash
            hashHeader: x-user
          timed:
            endpoints: [ { address: 127.0.0.1:%4$d } ]
            routes: [ { to: [ {} ], timeout: 300ms } ]
          ejecting:
            endpoints: [ { address: 127.0.0.1:%5$d }, { address: 127.0.0.1:%6$d } ]
            outlierDetection: { consecutive5xx: 3, interval: 1s, baseEjectionTime: 1s, maxEjectionPercent: 50 }
          limited:
            endpoints: [ { address: 127.0.0.1:%4$d } ]
            circuitBreaker: { maxRequests: 2, maxPendingRequests: 1 }
          aborted:
            endpoints: [ { address: 127.0.0.1:%1$d } ]
            routes: [ { to: [ {} ], faults: { abort: { percent: 30, httpStatus: 503 } } } ]
          throttled:
            endpoints: [ { address: 127.0.0.1:%1$d } ]
            routes: [ { to: [ {} ], rateLimit: { requestsPerSecond: 1, burst: 5 } } ]
        """.formatted(good.port(), bad.port(), resetting.port(), slow.port(), flaky.port(), steady.port()));
    server = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build().start();
    mesh = MeshClient.builder().xdsPlaintext().serviceName("resilience-it").controlServers("127.0.0.1:" + server.xdsPort())
        .build().start();
    http = MeshOkHttp.client(mesh);
  }

  static WireMockServer upstream(ResponseDefinitionBuilder answer) {
    WireMockServer w = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1")
        .containerThreads(20).jettyAcceptors(1));
    w.start();
    w.stubFor(any(anyUrl()).willReturn(answer));
    upstreams.add(w);
    return w;
  }

  @AfterAll
  static void stop() {
    if (mesh != null) {
      mesh.close();
    }
    if (server != null) {
      server.close();
    }
    upstreams.forEach(WireMockServer::stop);
  }

  @BeforeEach
  void resetCounts() {
    upstreams.forEach(WireMockServer::resetRequests);
  }

  record Result(int status, String body, Map<String, String> headers) {}

  static Result get(String service) throws IOException {
    try (Response r = http.newCall(new Request.Builder().url("http://" + service + "/items").build()).execute()) {
      Map<String, String> headers = new HashMap<>();
      r.headers().forEach(p -> headers.put(p.getFirst().toLowerCase(), p.getSecond()));
      return new Result(r.code(), r.body().string(), headers);
    }
  }

  static int requestsTo(WireMockServer w) {
    return w.countRequestsMatching(anyRequestedFor(anyUrl()).build()).getCount();
  }

  @Test
  void retriesRecoverFromFailingAndResettingInstances() throws Exception {
    for (int i = 0; i < 200; i++) {
      Result r = get("retried");
      assertThat(r.status()).as("call %d", i).isEqualTo(200);
      assertThat(r.body()).isEqualTo("good");
    }
    assertThat(requestsTo(bad)).isPositive();
    // Without a retry policy the failing instance shows.
    int failures = 0;
    for (int i = 0; i < 100; i++) {
      if (get("unretried").status() == 503) {
        failures++;
      }
    }
    assertThat(failures).isBetween(30, 70);
  }

  @Test
  void retriesStopAtTheBudget() throws Exception {
    Result r = get("budget");
    assertThat(r.status()).isEqualTo(503);
    assertThat(requestsTo(bad)).as("tries with a retry budget of 0").isEqualTo(1);
  }

  @Test
  void requestsThatAreNotIdempotentAreNotRetried() throws Exception {
    Request post = new Request.Builder().url("http://budget-free/items")
        .post(okhttp3.RequestBody.create("{}", okhttp3.MediaType.get("application/json"))).build();
    try (Response r = http.newCall(post).execute()) {
      assertThat(r.code()).isEqualTo(503);
    }
    assertThat(requestsTo(bad)).as("tries of a POST").isEqualTo(1);
    try (Response r = http.newCall(new Request.Builder().url("http://budget-free/items").build()).execute()) {
      assertThat(r.code()).isEqualTo(503);
    }
    assertThat(requestsTo(bad)).as("tries of the POST and then a GET with 2 retries").isEqualTo(4);
  }

  @Test
  void ringHashKeepsAKeyOnOneInstance() throws Exception {
    for (String user : List.of("alice", "bob", "carol", "dave")) {
      java.util.Set<String> seen = new java.util.HashSet<>();
      for (int i = 0; i < 10; i++) {
        try (Response r = http.newCall(new Request.Builder().url("http://hashed/items").header("x-user", user)
            .build()).execute()) {
          seen.add(r.body().string());
        }
      }
      assertThat(seen).as("instances seen by %s", user).hasSize(1);
    }
  }

  @Test
  void perTryTimeoutMovesOnToAnotherInstance() throws Exception {
    for (int i = 0; i < 6; i++) {
      Result r = get("pertry");
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("good");
    }
    assertThat(requestsTo(slow)).as("tries that timed out and were retried").isPositive();
  }

  @Test
  void routeTimeoutEndsTheCall() {
    Throwable t = catchThrowable(() -> get("timed"));
    assertThat(t).isInstanceOf(InterruptedIOException.class);
  }

  @Test
  void outlierDetectionEjectsAFailingInstanceAndTakesItBack() throws Exception {
    flaky.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(500).withBody("flaky-broken")));
    try {
      int failures = 0;
      for (int i = 0; i < 40; i++) {
        if (get("ejecting").status() == 500) {
          failures++;
        }
      }
      assertThat(failures).as("errors before the ejection").isEqualTo(3);
      flaky.resetRequests();
      for (int i = 0; i < 20; i++) {
        assertThat(get("ejecting").body()).isEqualTo("steady");
      }
      assertThat(requestsTo(flaky)).as("requests to the ejected instance").isZero();
      flaky.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("flaky")));
      Await.until("the instance to return after its ejection time", Duration.ofSeconds(10), () -> {
        try {
          return get("ejecting").body().equals("flaky");
        } catch (IOException e) {
          return false;
        }
      });
    } finally {
      flaky.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("flaky")));
    }
  }

  @Test
  void circuitBreakerAnswersOverloadedAboveItsLimits() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(6);
    try {
      List<Future<Result>> calls = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        calls.add(pool.submit(() -> get("limited")));
      }
      int ok = 0;
      int overloaded = 0;
      for (Future<Result> f : calls) {
        Result r = f.get();
        if (r.status() == 200) {
          ok++;
        } else {
          assertThat(r.status()).isEqualTo(503);
          assertThat(r.headers()).containsEntry("x-meshlet-overloaded", "true");
          overloaded++;
        }
      }
      // 2 in flight and 1 waiting (up to 1 s, less than the 1.5 s upstream) at once:
      // at most 3 get through, the rest are turned away.
      assertThat(ok).isBetween(2, 3);
      assertThat(overloaded).isEqualTo(6 - ok);
      assertThat(requestsTo(slow)).isEqualTo(ok);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void injectedAbortIsSeenAtItsPercentage() throws Exception {
    int aborted = 0;
    for (int i = 0; i < 1000; i++) {
      Result r = get("aborted");
      if (r.status() == 503) {
        assertThat(r.headers()).containsEntry("x-meshlet-fault", "true");
        aborted++;
      }
    }
    // 30% of 1000: mean 300, sd ~14.5.
    assertThat(aborted).isBetween(240, 360);
    assertThat(requestsTo(good)).isEqualTo(1000 - aborted);
  }

  @Test
  void rateLimitAnswers429AboveTheBurst() throws Exception {
    int ok = 0;
    int limited = 0;
    for (int i = 0; i < 20; i++) {
      Result r = get("throttled");
      if (r.status() == 429) {
        assertThat(r.headers()).containsEntry("x-meshlet-ratelimited", "true");
        limited++;
      } else {
        ok++;
      }
    }
    // A burst of 5 refilled at 1 per second is applied as 5 permits per 5 s window: 20 quick
    // calls get 5 through, or up to 10 if they straddle a window boundary.
    assertThat(ok).isBetween(5, 10);
    assertThat(limited).isEqualTo(20 - ok);
  }
}
