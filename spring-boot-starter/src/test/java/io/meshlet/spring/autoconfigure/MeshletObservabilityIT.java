package io.meshlet.spring.autoconfigure;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.MeshFile;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;

/**
 * Meshlet's metrics and spans in the application's own systems: a Boot application on Tomcat with
 * the actuator, Prometheus and Micrometer Tracing's OpenTelemetry bridge (the combination Boot
 * auto-configures) serves {@code /front}, which calls {@code http://catalog/items} through the mesh
 * with the auto-configured {@code RestClient.Builder}. Meshlet's client span is in the request's
 * trace, under the application's spans, and its own context is what the upstream receives as
 * {@code traceparent}; Meshlet's series are at {@code /actuator/prometheus} and
 * {@code /actuator/metrics} beside Boot's {@code http.client.requests}. Started as a whole
 * application ({@code SpringApplicationBuilder}), since a {@code @SpringBootTest} turns metrics
 * export and tracing off unless told otherwise.
 */
class MeshletObservabilityIT {

  @TempDir static Path dir;
  static WireMockServer catalog;
  static ControlServer server;
  static ConfigurableApplicationContext app;
  static final InMemorySpanExporter spans = InMemorySpanExporter.create();

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @RestController
  static class App {
    private final RestClient rest;

    App(RestClient.Builder rest) {
      this.rest = rest.build();
    }

    @Bean
    static BootTestLine.Tomcat tomcat() {
      return new BootTestLine.Tomcat();
    }

    /** Every span, exported as it ends. */
    @Bean
    static SpanProcessor testSpans() {
      return SimpleSpanProcessor.create(spans);
    }

    @GetMapping("/front")
    String front() {
      return "front:" + rest.get().uri("http://catalog/items").retrieve().body(String.class);
    }
  }

  @BeforeAll
  static void start() throws Exception {
    catalog = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    catalog.start();
    catalog.stubFor(get(urlEqualTo("/items")).willReturn(aResponse().withStatus(200).withBody("items")));
    MeshFile file = new MeshFile(dir).write("""
        trustDomain: example.org
        services:
          catalog:
            endpoints:
              - { address: 127.0.0.1:%d }
        """.formatted(catalog.port()));
    server = ControlServer.builder().configFile(file.path()).xdsPort(0).adminPort(0).xdsPlaintext(true)
        .pollInterval(Duration.ofMillis(100)).build().start();
    app = new SpringApplicationBuilder(App.class).properties(
        "spring.application.name=frontend",
        "server.address=127.0.0.1",
        "server.port=0",
        "spring.main.banner-mode=off",
        "meshlet.control-servers=127.0.0.1:" + server.xdsPort(),
        "meshlet.xds-plaintext=true",
        "meshlet.await-config-on-startup=true",
        "meshlet.grpc.enabled=false",
        "meshlet.instance.register=false",
        "meshlet.inbound.enabled=false",
        "management.tracing.sampling.probability=1.0",
        "management.endpoints.web.exposure.include=prometheus,metrics",
        "management.otlp.metrics.export.enabled=false").run();
  }

  @AfterAll
  static void stop() {
    if (app != null) {
      app.close();
    }
    if (server != null) {
      server.close();
    }
    if (catalog != null) {
      catalog.stop();
    }
  }

  static HttpResponse<String> call(String path) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + BootTestLine.port(app) + path)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void meshletsClientSpanIsInTheRequestsTraceUnderTheApplicationsSpansAndReachesTheUpstream() throws Exception {
    spans.reset();
    assertThat(call("/front").body()).isEqualTo("front:items");

    // The server span ends after the response is written.
    await().atMost(Duration.ofSeconds(10)).until(() -> spans.getFinishedSpanItems().stream()
        .anyMatch(s -> s.getKind() == SpanKind.SERVER));
    List<SpanData> all = spans.getFinishedSpanItems();
    SpanData mesh = all.stream().filter(s -> s.getName().equals("meshlet catalog")).findFirst().orElseThrow(
        () -> new AssertionError("no Meshlet span among " + all));
    SpanData serverSpan = all.stream().filter(s -> s.getKind() == SpanKind.SERVER).findFirst().orElseThrow();
    assertThat(mesh.getKind()).isEqualTo(SpanKind.CLIENT);
    assertThat(mesh.getTraceId()).isEqualTo(serverSpan.getTraceId());

    // Up the parent chain from Meshlet's span: the application's spans, ending at its server span.
    Map<String, SpanData> byId = all.stream().collect(Collectors.toMap(SpanData::getSpanId, Function.identity()));
    SpanData parent = byId.get(mesh.getParentSpanId());
    assertThat(parent).as("parent of Meshlet's span among %s", all).isNotNull();
    SpanData up = parent;
    while (up.getKind() != SpanKind.SERVER && byId.containsKey(up.getParentSpanId())) {
      up = byId.get(up.getParentSpanId());
    }
    assertThat(up.getSpanId()).isEqualTo(serverSpan.getSpanId());
    assertThat(parent.getSpanId()).isIn(serverSpan.getSpanId(),
        // RestClient's own observation (a CLIENT span "http get") is current while its request runs.
        all.stream().filter(s -> s.getKind() == SpanKind.CLIENT && s != mesh
            && s.getParentSpanId().equals(serverSpan.getSpanId())).map(SpanData::getSpanId).findFirst().orElse("none"));

    // The upstream is called in the same trace, as a child of Meshlet's span.
    String traceparent = catalog.getAllServeEvents().get(0).getRequest().getHeader("traceparent");
    assertThat(traceparent).startsWith("00-" + mesh.getTraceId() + "-" + mesh.getSpanId() + "-");
  }

  @Test
  void meshletsMetricsAreAtTheActuatorsPrometheusAndMetricsEndpoints() throws Exception {
    assertThat(call("/front").statusCode()).isEqualTo(200);

    String prometheus = call("/actuator/prometheus").body();
    assertThat(lines(prometheus, "meshlet_client_request_duration_seconds_count{"))
        .anySatisfy(l -> assertThat(l).contains("meshlet_service=\"catalog\"", "meshlet_outcome=\"response\""));
    assertThat(lines(prometheus, "http_client_requests_seconds_count{"))
        .anySatisfy(l -> assertThat(l).contains("client_name=\"catalog\""));

    HttpResponse<String> metric = call("/actuator/metrics/meshlet.client.request.duration");
    assertThat(metric.statusCode()).isEqualTo(200);
    assertThat(metric.body()).contains("\"meshlet.service\"", "catalog");
    assertThat(app.getBean(MeshClient.class).openTelemetry().toString()).contains("Micrometer");
  }

  static List<String> lines(String text, String prefix) {
    List<String> out = text.lines().filter(l -> l.startsWith(prefix)).toList();
    assertThat(out).as("lines starting with %s in\n%s", prefix, text).isNotEmpty();
    return out;
  }

}
