package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCalls;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.grpc.MeshGrpc;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * The auto-configured {@link MeshGrpcChannels} call a gRPC service by its mesh name through
 * grpc-java's own xDS client, bootstrapped from {@code meshlet.*} properties, over TLS to the control
 * server checked against its trust bundle (no workload identity here), and report Meshlet's metrics
 * and spans to the application's {@link OpenTelemetry} bean. Its own JVM (failsafe
 * forks per IT class): grpc-java reads the bootstrap once per JVM.
 */
class MeshletGrpcIT {

  @TempDir static Path dir;
  static EchoBackend catalog;
  static ControlServer server;

  @BeforeAll
  static void start() throws Exception {
    catalog = new EchoBackend("catalog-1");
    MeshFile file = new MeshFile(dir).write("""
        services:
          catalog:
            protocol: grpc
            endpoints: [ { address: %s } ]
        """.formatted(catalog.address()));
    server = ControlServer.builder().configFile(file.path()).xdsPort(0).adminPort(0).build().start();
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
    if (catalog != null) {
      catalog.close();
    }
  }

  @Test
  void channelsReachAServiceByItsMeshNameAndReportToTheApplicationsOpenTelemetry() {
    InMemoryMetricReader metrics = InMemoryMetricReader.create();
    InMemorySpanExporter spans = InMemorySpanExporter.create();
    OpenTelemetrySdk otel = OpenTelemetrySdk.builder()
        .setMeterProvider(SdkMeterProvider.builder().registerMetricReader(metrics).build())
        .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build())
        .build();
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withBean(OpenTelemetry.class, () -> otel)
        .withPropertyValues("meshlet.service-name=frontend", "meshlet.control-servers=127.0.0.1:" + server.xdsPort(),
            "meshlet.control-server-trust-bundle=" + server.trustBundleFile().orElseThrow())
        .run(context -> {
          assertThat(context).hasNotFailed();
          MeshGrpcChannels channels = context.getBean(MeshGrpcChannels.class);
          ManagedChannel channel = channels.channel("catalog");
          assertThat(channels.channel("catalog")).isSameAs(channel);
          String answer = ClientCalls.blockingUnaryCall(channel, EchoBackend.WHO,
              CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS).withWaitForReady(), "hi");
          assertThat(answer).isEqualTo("catalog-1");
          assertThat(catalog.calls()).isEqualTo(1);
          assertThat(metrics.collectAllMetrics()).filteredOn(m -> m.getName().equals("meshlet.client.request.duration"))
              .singleElement().satisfies(m -> assertThat(m.getHistogramData().getPoints()).singleElement()
                  .satisfies(p -> {
                    assertThat(p.getCount()).isEqualTo(1);
                    assertThat(p.getAttributes().get(AttributeKey.stringKey("meshlet.service"))).isEqualTo("catalog");
                    assertThat(p.getAttributes().get(AttributeKey.stringKey("meshlet.cluster"))).isEqualTo("catalog");
                    assertThat(p.getAttributes().get(AttributeKey.stringKey("meshlet.outcome"))).isEqualTo("response");
                  }));
          assertThat(spans.getFinishedSpanItems()).singleElement()
              .satisfies(span -> assertThat(span.getName()).isEqualTo("meshlet catalog"));
        });
    otel.close();
    // Closed with the context: channels shut down and the bootstrap property removed.
    assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY)).isNull();
  }
}
