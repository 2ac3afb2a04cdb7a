package io.meshlet.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.Await;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.BufferedSink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pooled connection the upstream closed for idling (its keep-alive timeout) is not a failure
 * the caller sees: the try that went out on it is sent again on a new connection, transparently,
 * on a route without retries and whatever the retry budget; not with a one-shot body, and not
 * when a new connection fails. Real sockets on loopback; the test waits for the server to have
 * closed the connection, no sleeps.
 */
class StaleConnectionIT {

  private static final Duration IDLE = Duration.ofMillis(300);

  @TempDir static Path dir;
  static final TestMesh t = new TestMesh();
  static final InMemoryMetricReader metrics = InMemoryMetricReader.create();
  static final InMemorySpanExporter spans = InMemorySpanExporter.create();
  static KeepAliveBackend idle;
  static KeepAliveBackend budgeted;
  static KeepAliveBackend oneShot;
  static KeepAliveBackend resetting;
  static MeshClient mesh;

  @BeforeAll
  static void start() throws Exception {
    idle = t.closeLater(KeepAliveBackend.closingIdleAfter(IDLE));
    budgeted = t.closeLater(KeepAliveBackend.closingIdleAfter(IDLE));
    oneShot = t.closeLater(KeepAliveBackend.closingIdleAfter(IDLE));
    resetting = t.closeLater(KeepAliveBackend.resettingEveryConnection());
    Path file = Files.writeString(dir.resolve("mesh.yaml"), """
        services:
          idle:
            endpoints: [ { address: 127.0.0.1:%d } ]
          budgeted:
            endpoints: [ { address: 127.0.0.1:%d } ]
            circuitBreaker: { maxRetries: 0 }
            routes: [ { to: [ {} ], retries: { attempts: 2, on: [reset], backoff: { base: 1ms } } } ]
          oneshot:
            endpoints: [ { address: 127.0.0.1:%d } ]
          resetting:
            endpoints: [ { address: 127.0.0.1:%d } ]
        """.formatted(idle.port(), budgeted.port(), oneShot.port(), resetting.port()));
    ControlServer server = t.controlServer(file);
    OpenTelemetrySdk otel = OpenTelemetrySdk.builder()
        .setMeterProvider(SdkMeterProvider.builder().registerMetricReader(metrics).build())
        .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build())
        .build();
    mesh = t.closeLater(MeshClient.builder().xdsPlaintext().serviceName("frontend")
        .controlServers("127.0.0.1:" + server.xdsPort()).openTelemetry(otel).build());
    mesh.start();
    assertThat(mesh.awaitConfig(Duration.ofSeconds(10))).isTrue();
  }

  @AfterAll
  static void stop() throws Exception {
    t.close();
  }

  @Test
  void callsAfterTheUpstreamClosedAnIdlePooledConnectionSucceedWithoutRetries() throws Exception {
    OkHttpClient http = t.http(mesh);
    assertThat(TestMesh.get(http, "http://idle/warm").code()).isEqualTo(200);
    for (int round = 1; round <= 2; round++) {
      int closed = round;
      Await.until("the upstream to close the idle pooled connection", Duration.ofSeconds(10),
          () -> idle.idleClosed() >= closed);
      for (int i = 0; i < 3; i++) {
        assertThat(TestMesh.get(http, "http://idle/after-idle").body()).isEqualTo("ok");
      }
    }
    // One new connection per idle period; the request written into the dead one never reached the
    // server, so it got each request once.
    assertThat(idle.connections()).isEqualTo(3);
    assertThat(idle.requests()).isEqualTo(7);
    assertThat(counter("meshlet.client.transparent_retries", "idle")).isEqualTo(2);
    assertThat(counter("meshlet.client.retries", "idle")).isZero();
    List<EventData> tries = spans.getFinishedSpanItems().stream()
        .filter(s -> "idle".equals(s.getAttributes().get(AttributeKey.stringKey("meshlet.service"))))
        .flatMap(s -> s.getEvents().stream()).toList();
    assertThat(tries).filteredOn(e -> Boolean.TRUE.equals(e.getAttributes().get(AttributeKey.booleanKey("meshlet.transparent"))))
        .hasSize(2)
        .allSatisfy(e -> assertThat(e.getAttributes().get(AttributeKey.stringKey("meshlet.outcome"))).isEqualTo("reset"));
  }

  @Test
  void theTransparentSendTakesNothingFromTheRetryBudget() throws Exception {
    OkHttpClient http = t.http(mesh);
    assertThat(TestMesh.get(http, "http://budgeted/warm").code()).isEqualTo(200);
    Await.until("the upstream to close the idle pooled connection", Duration.ofSeconds(10),
        () -> budgeted.idleClosed() >= 1);
    // The route's budget allows no retry at all (maxRetries: 0): had the resend been a retry, it
    // would have been refused and counted as such.
    assertThat(TestMesh.get(http, "http://budgeted/after-idle").body()).isEqualTo("ok");
    assertThat(budgeted.requests()).isEqualTo(2);
    assertThat(counter("meshlet.client.transparent_retries", "budgeted")).isEqualTo(1);
    assertThat(counter("meshlet.client.retries", "budgeted")).isZero();
    assertThat(counter("meshlet.client.retry_budget_exhausted", "budgeted")).isZero();
  }

  @Test
  void aOneShotBodyIsNotSentAgain() throws Exception {
    OkHttpClient http = t.http(mesh);
    assertThat(TestMesh.get(http, "http://oneshot/warm").code()).isEqualTo(200);
    Await.until("the upstream to close the idle pooled connection", Duration.ofSeconds(10),
        () -> oneShot.idleClosed() >= 1);
    RequestBody body = new RequestBody() {
      @Override
      public MediaType contentType() {
        return MediaType.get("text/plain");
      }

      @Override
      public long contentLength() {
        return 4;
      }

      @Override
      public boolean isOneShot() {
        return true;
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        sink.writeUtf8("once");
      }
    };
    Throwable failure = catchThrowable(() -> {
      try (Response r = http.newCall(new Request.Builder().url("http://oneshot/put").put(body).build()).execute()) {
        r.body().string();
      }
    });
    assertThat(failure).isInstanceOf(IOException.class);
    assertThat(oneShot.connections()).isEqualTo(1);
    assertThat(oneShot.requests()).isEqualTo(1);
    assertThat(counter("meshlet.client.transparent_retries", "oneshot")).isZero();
  }

  @Test
  void aFailureOnANewConnectionIsNotSentAgain() {
    OkHttpClient http = t.http(mesh);
    Throwable failure = catchThrowable(() -> TestMesh.get(http, "http://resetting/x"));
    assertThat(failure).isInstanceOf(IOException.class);
    assertThat(resetting.connections()).isEqualTo(1);
    assertThat(resetting.requests()).isEqualTo(1);
    assertThat(counter("meshlet.client.transparent_retries", "resetting")).isZero();
  }

  /** A counter's total for one service (0 when never recorded). */
  private static long counter(String name, String service) {
    return metrics.collectAllMetrics().stream().filter(m -> m.getName().equals(name))
        .flatMap(m -> m.getLongSumData().getPoints().stream())
        .filter(p -> service.equals(p.getAttributes().get(AttributeKey.stringKey("meshlet.service"))))
        .mapToLong(p -> p.getValue()).sum();
  }
}
