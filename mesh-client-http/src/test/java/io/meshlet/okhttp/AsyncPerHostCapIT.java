package io.meshlet.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.Await;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Asynchronous calls to one mesh service are not held to OkHttp's five per host: every instance of
 * {@code catalog} shares the logical host {@code catalog}, which OkHttp's {@link Dispatcher} would cap
 * at {@code maxRequestsPerHost} (5) calls in flight for the whole service. Two held instances see
 * twelve calls in flight at once; an application's own per-host cap is kept.
 */
class AsyncPerHostCapIT {

  @TempDir static Path dir;
  static HeldHttpBackend a;
  static HeldHttpBackend b;
  static ControlServer server;
  static MeshClient mesh;

  @BeforeAll
  static void start() throws Exception {
    a = new HeldHttpBackend("a");
    b = new HeldHttpBackend("b");
    Path file = Files.writeString(dir.resolve("mesh.yaml"), """
        services:
          catalog:
            endpoints: [ { address: 127.0.0.1:%d }, { address: 127.0.0.1:%d } ]
            circuitBreaker: { maxRequests: 100, maxPendingRequests: 100 }
        """.formatted(a.port(), b.port()));
    server = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build().start();
    mesh = MeshClient.builder().xdsPlaintext().serviceName("frontend")
        .controlServers("127.0.0.1:" + server.xdsPort()).build().start();
    assertThat(mesh.awaitConfig(Duration.ofSeconds(20))).isTrue();
  }

  @AfterAll
  static void stop() {
    for (AutoCloseable c : new AutoCloseable[] {mesh, server, a, b}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing
      }
    }
  }

  @Test
  void twelveAsyncCallsToOneServiceAreInFlightAtOnce() throws Exception {
    OkHttpClient http = MeshOkHttp.client(mesh);
    int calls = 12;
    a.hold();
    b.hold();
    CountDownLatch done = new CountDownLatch(calls);
    ConcurrentLinkedQueue<String> answers = new ConcurrentLinkedQueue<>();
    try {
      for (int i = 0; i < calls; i++) {
        http.newCall(new Request.Builder().url("http://catalog/items").build()).enqueue(new Callback() {
          @Override
          public void onResponse(Call call, Response response) throws IOException {
            try (response) {
              answers.add(response.code() + " " + response.body().string());
            }
            done.countDown();
          }

          @Override
          public void onFailure(Call call, IOException e) {
            answers.add(e.toString());
            done.countDown();
          }
        });
      }
      Await.until("all " + calls + " calls to reach catalog's instances", Duration.ofSeconds(20),
          () -> a.inFlight() + b.inFlight() == calls);
      assertThat(http.dispatcher().runningCallsCount()).isEqualTo(calls);
      assertThat(http.dispatcher().queuedCallsCount()).isZero();
    } finally {
      a.release();
      b.release();
    }
    assertThat(done.await(20, TimeUnit.SECONDS)).isTrue();
    assertThat(answers).hasSize(calls).allMatch(s -> s.equals("200 a") || s.equals("200 b"));
    http.dispatcher().executorService().shutdown();
  }

  @Test
  void anApplicationsOwnPerHostCapIsKept() {
    Dispatcher own = new Dispatcher();
    own.setMaxRequestsPerHost(3);
    OkHttpClient http = MeshOkHttp.decorate(new OkHttpClient.Builder().dispatcher(own), mesh).build();
    assertThat(http.dispatcher().getMaxRequestsPerHost()).isEqualTo(3);
    assertThat(MeshOkHttp.client(mesh).dispatcher().getMaxRequestsPerHost())
        .isEqualTo(new Dispatcher().getMaxRequests());
    assertThat(List.of(MeshOkHttp.DEFAULT_MAX_REQUESTS_PER_HOST)).containsExactly(new Dispatcher().getMaxRequestsPerHost());
  }
}
