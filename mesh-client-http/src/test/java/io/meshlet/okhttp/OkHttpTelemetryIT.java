package io.meshlet.okhttp;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Calls through the mesh are measured and traced through the OpenTelemetry API. */
class OkHttpTelemetryIT {

  @TempDir Path dir;

  static int freePort() throws java.io.IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Test
  void recordsDurationsRetriesAndSpansAndPropagatesTraceContext() throws Exception {
    WireMockServer up = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    WireMockServer down = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    up.start();
    down.start();
    up.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("ok")));
    down.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(503)));
    InMemoryMetricReader metrics = InMemoryMetricReader.create();
    InMemorySpanExporter spans = InMemorySpanExporter.create();
    OpenTelemetrySdk otel = OpenTelemetrySdk.builder()
        .setMeterProvider(SdkMeterProvider.builder().registerMetricReader(metrics).build())
        .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build())
        .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
        .build();
    Path file = Files.writeString(dir.resolve("mesh.yaml"), """
        services:
          svc:
            endpoints: [ { address: 127.0.0.1:%d }, { address: 127.0.0.1:%d } ]
            routes: [ { to: [ {} ], retries: { attempts: 1, on: [5xx], backoff: { base: 1ms } } } ]
          gone:
            endpoints: [ { address: 127.0.0.1:%d } ]
            routes: [ { to: [ {} ], retries: { attempts: 0 } } ]
        """.formatted(down.port(), up.port(), freePort()));
    try (ControlServer server = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build().start();
        MeshClient mesh = MeshClient.builder().xdsPlaintext().serviceName("otel-it").controlServers("127.0.0.1:" + server.xdsPort())
            .openTelemetry(otel).build().start()) {
      OkHttpClient http = MeshOkHttp.client(mesh);
      for (int i = 0; i < 10; i++) {
        try (Response r = http.newCall(new Request.Builder().url("http://svc/x").build()).execute()) {
          assertThat(r.code()).isEqualTo(200);
        }
      }
      // A call no endpoint answers is counted with its failure's outcome, as gRPC calls are.
      org.assertj.core.api.Assertions.assertThatThrownBy(
          () -> http.newCall(new Request.Builder().url("http://gone/x").build()).execute())
          .isInstanceOf(java.io.IOException.class);
      Collection<MetricData> data = metrics.collectAllMetrics();
      MetricData duration = data.stream().filter(m -> m.getName().equals("meshlet.client.request.duration"))
          .findFirst().orElseThrow();
      assertThat(duration.getHistogramData().getPoints()).anySatisfy(p -> {
        assertThat(p.getAttributes().get(AttributeKey.stringKey("meshlet.service"))).isEqualTo("gone");
        assertThat(p.getAttributes().get(AttributeKey.stringKey("meshlet.outcome"))).isEqualTo("connect_failure");
        assertThat(p.getCount()).isEqualTo(1);
      });
      var point = duration.getHistogramData().getPoints().stream()
          .filter(p -> "svc".equals(p.getAttributes().get(AttributeKey.stringKey("meshlet.service")))).findFirst().orElseThrow();
      assertThat(point.getCount()).isEqualTo(10);
      assertThat(point.getAttributes().get(AttributeKey.stringKey("meshlet.service"))).isEqualTo("svc");
      assertThat(point.getAttributes().get(AttributeKey.stringKey("meshlet.cluster"))).isEqualTo("svc");
      assertThat(point.getAttributes().get(AttributeKey.stringKey("meshlet.outcome"))).isEqualTo("response");
      long retries = data.stream().filter(m -> m.getName().equals("meshlet.client.retries"))
          .flatMap(m -> m.getLongSumData().getPoints().stream()).mapToLong(p -> p.getValue()).sum();
      // Round robin advances once for the first try and once for the retry, so with two
      // endpoints every call starts at the failing one and is retried once.
      assertThat(retries).isEqualTo(10);

      List<SpanData> finished = spans.getFinishedSpanItems().stream().filter(s -> s.getName().equals("meshlet svc")).toList();
      assertThat(finished).hasSize(10).allSatisfy(s -> {
        assertThat(s.getName()).isEqualTo("meshlet svc");
        assertThat(s.getAttributes().get(AttributeKey.longKey("http.response.status_code"))).isEqualTo(200L);
      });
      // Each try carries the call's trace context: its span's trace and span ids.
      java.util.Set<String> spanIds = new java.util.HashSet<>();
      finished.forEach(s -> spanIds.add(s.getTraceId() + "-" + s.getSpanId()));
      up.getAllServeEvents().forEach(e -> {
        String traceparent = e.getRequest().getHeader("traceparent");
        assertThat(traceparent).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}");
        assertThat(spanIds).contains(traceparent.substring(3, 52));
      });
      assertThat(up.countRequestsMatching(anyRequestedFor(anyUrl()).build()).getCount()).isEqualTo(10);
    } finally {
      up.stop();
      down.stop();
      otel.close();
    }
  }
}
