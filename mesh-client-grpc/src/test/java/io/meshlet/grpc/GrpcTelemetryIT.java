package io.meshlet.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCalls;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.EchoBackend;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gRPC calls on {@code xds:///} channels from {@link MeshGrpc#channel(String, MeshClient)} report the
 * metric, counter and span names and attributes that calls through Meshlet's HTTP engine report
 * (OkHttpTelemetryIT), through the mesh client's OpenTelemetry, with W3C trace context in the call's
 * metadata; grpc-java's own gRFC A66 metrics come along.
 */
class GrpcTelemetryIT {

  static final AttributeKey<String> SERVICE = AttributeKey.stringKey("meshlet.service");
  static final AttributeKey<String> ROUTE = AttributeKey.stringKey("meshlet.route");
  static final AttributeKey<String> CLUSTER = AttributeKey.stringKey("meshlet.cluster");
  static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("meshlet.outcome");
  static final Metadata.Key<String> TRACEPARENT = Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> CANARY = Metadata.Key.of("x-canary", Metadata.ASCII_STRING_MARSHALLER);

  @TempDir static Path dir;
  static ControlServer server;
  static MeshClient mesh;
  static Server v1;
  static Server v2;
  static Server failing;
  static final Queue<String> traceparents = new ConcurrentLinkedQueue<>();
  static InMemoryMetricReader metrics;
  static InMemorySpanExporter spans;
  static OpenTelemetrySdk otel;

  @BeforeAll
  static void start() throws Exception {
    v1 = backend("v1", null);
    v2 = backend("v2", null);
    failing = backend("failing", Status.UNAVAILABLE.withDescription("failing on purpose"));
    int nobody = GrpcMtlsIT.freePort();
    Path file = Files.writeString(dir.resolve("mesh.yaml"), """
        services:
          catalog:
            protocol: grpc
            endpoints: [ { address: 127.0.0.1:%d, labels: { version: v1 } }, { address: 127.0.0.1:%d, labels: { version: v2 } } ]
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            routes:
              - { match: { headers: { x-canary: "true" } }, to: [ { subset: v2 } ] }
              - { to: [ { subset: v1 } ] }
          ledger:
            protocol: grpc
            endpoints: [ { address: 127.0.0.1:%d } ]
            routes: [ { to: [ {} ], retries: { attempts: 1, on: [unavailable], backoff: { base: 1ms } } } ]
          gone:
            protocol: grpc
            endpoints: [ { address: 127.0.0.1:%d } ]
        """.formatted(v1.getPort(), v2.getPort(), failing.getPort(), nobody));
    metrics = InMemoryMetricReader.create();
    spans = InMemorySpanExporter.create();
    otel = OpenTelemetrySdk.builder()
        .setMeterProvider(SdkMeterProvider.builder().registerMetricReader(metrics).build())
        .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build())
        .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
        .build();
    server = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build().start();
    String cs = "127.0.0.1:" + server.xdsPort();
    mesh = MeshClient.builder().xdsPlaintext().serviceName("frontend").controlServers(cs).openTelemetry(otel)
        .build().start();
    assertThat(mesh.awaitConfig(Duration.ofSeconds(20))).isTrue();
    MeshGrpc.bootstrap("frontend", List.of(cs)).xdsPlaintext().nodeId("grpc-telemetry-it").install();
  }

  /** A server answering Echo/Who with its name, or failing with {@code failure}, remembering each call's traceparent. */
  static Server backend(String name, Status failure) throws Exception {
    ServerServiceDefinition echo = ServerServiceDefinition.builder(EchoBackend.SERVICE)
        .addMethod(EchoBackend.WHO, ServerCalls.asyncUnaryCall((req, resp) -> {
          if (failure != null) {
            resp.onError(failure.asRuntimeException());
          } else {
            resp.onNext(name);
            resp.onCompleted();
          }
        }))
        .build();
    ServerInterceptor capture = new ServerInterceptor() {
      @Override
      public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call, Metadata headers,
          io.grpc.ServerCallHandler<Q, R> next) {
        String tp = headers.get(TRACEPARENT);
        if (tp != null && failure == null) {
          traceparents.add(tp);
        }
        return next.startCall(call, headers);
      }
    };
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(echo, capture)).build().start();
  }

  @AfterAll
  static void stop() throws Exception {
    for (Server s : new Server[] {v1, v2, failing}) {
      if (s != null) {
        s.shutdownNow();
      }
    }
    if (mesh != null) {
      mesh.close();
    }
    if (server != null) {
      server.close();
    }
    if (otel != null) {
      otel.close();
    }
  }

  static String who(ManagedChannel channel, boolean canary) {
    Metadata headers = new Metadata();
    if (canary) {
      headers.put(CANARY, "true");
    }
    return ClientCalls.blockingUnaryCall(
        io.grpc.ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers)),
        EchoBackend.WHO, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), "hi");
  }

  @Test
  void recordsTheHttpSidesMetricsAndSpansForGrpcCallsAndPropagatesTraceContext() {
    ManagedChannel catalog = MeshGrpc.channel("catalog", mesh);
    ManagedChannel ledger = MeshGrpc.channel("ledger", mesh);
    ManagedChannel gone = MeshGrpc.channel("gone", mesh);
    Span parent = otel.getTracer("test").spanBuilder("parent").startSpan();
    try (Scope ignored = parent.makeCurrent()) {
      for (int i = 0; i < 4; i++) {
        assertThat(who(catalog, false)).isEqualTo("v1");
      }
      for (int i = 0; i < 2; i++) {
        assertThat(who(catalog, true)).isEqualTo("v2");
      }
      for (int i = 0; i < 3; i++) {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> who(ledger, false));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(e.getStatus().getDescription()).isEqualTo("failing on purpose");
      }
      StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> who(gone, false));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    } finally {
      parent.end();
      catalog.shutdownNow();
      ledger.shutdownNow();
      gone.shutdownNow();
    }

    Collection<MetricData> data = metrics.collectAllMetrics();
    // The HTTP side's duration histogram: one point per service, route, cluster and outcome; its count is the calls.
    MetricData duration = metric(data, "meshlet.client.request.duration");
    assertThat(duration.getUnit()).isEqualTo("s");
    Map<Attributes, Long> calls = duration.getHistogramData().getPoints().stream()
        .collect(Collectors.toMap(HistogramPointData::getAttributes, HistogramPointData::getCount));
    assertThat(calls).containsOnly(
        Map.entry(attrs("catalog", "catalog#1", "catalog/v1", "response"), 4L),
        Map.entry(attrs("catalog", "catalog#0", "catalog/v2", "response"), 2L),
        Map.entry(attrs("ledger", "ledger#0", "ledger", "gateway_error"), 3L),
        Map.entry(attrs("gone", "gone#0", "gone", "connect_failure"), 1L));
    // grpc-java's retry policy retried each ledger call once, counted as the engine counts its retries.
    List<LongPointData> retries = List.copyOf(metric(data, "meshlet.client.retries").getLongSumData().getPoints());
    assertThat(retries).singleElement().satisfies(p -> {
      assertThat(p.getValue()).isEqualTo(3);
      assertThat(p.getAttributes()).isEqualTo(Attributes.of(SERVICE, "ledger", ROUTE, "ledger#0"));
    });
    // grpc-java's own per-attempt metrics (gRFC A66), with the cluster as grpc.lb.backend_service.
    assertThat(metric(data, "grpc.client.attempt.duration").getHistogramData().getPoints())
        .anySatisfy(p -> {
          assertThat(p.getAttributes().get(AttributeKey.stringKey("grpc.lb.backend_service"))).isEqualTo("catalog/v1");
          assertThat(p.getAttributes().get(AttributeKey.stringKey("grpc.status"))).isEqualTo("OK");
          assertThat(p.getCount()).isEqualTo(4);
        });
    assertThat(metric(data, "grpc.client.call.duration").getHistogramData().getPoints())
        .anySatisfy(p -> {
          assertThat(p.getAttributes().get(AttributeKey.stringKey("grpc.status"))).isEqualTo("UNAVAILABLE");
          assertThat(p.getAttributes().get(AttributeKey.stringKey("grpc.target"))).isEqualTo("xds:///ledger");
          assertThat(p.getCount()).isEqualTo(3);
        });

    // One CLIENT span per call, named as the HTTP side names it, under the caller's span.
    List<SpanData> finished = spans.getFinishedSpanItems().stream().filter(s -> s.getName().startsWith("meshlet "))
        .toList();
    assertThat(finished).hasSize(10).allSatisfy(s -> {
      assertThat(s.getKind()).isEqualTo(SpanKind.CLIENT);
      assertThat(s.getTraceId()).isEqualTo(parent.getSpanContext().getTraceId());
      assertThat(s.getParentSpanId()).isEqualTo(parent.getSpanContext().getSpanId());
      assertThat(s.getAttributes().get(AttributeKey.stringKey("rpc.system"))).isEqualTo("grpc");
      assertThat(s.getAttributes().get(AttributeKey.stringKey("rpc.service"))).isEqualTo(EchoBackend.SERVICE);
      assertThat(s.getAttributes().get(AttributeKey.stringKey("rpc.method"))).isEqualTo("Who");
    });
    List<SpanData> catalogSpans = finished.stream().filter(s -> s.getName().equals("meshlet catalog")).toList();
    assertThat(catalogSpans).hasSize(6).allSatisfy(s -> {
      assertThat(s.getAttributes().get(SERVICE)).isEqualTo("catalog");
      assertThat(s.getAttributes().get(CLUSTER)).isIn("catalog/v1", "catalog/v2");
      assertThat(s.getAttributes().get(AttributeKey.longKey("meshlet.tries"))).isEqualTo(1L);
      assertThat(s.getAttributes().get(AttributeKey.longKey("rpc.grpc.status_code"))).isEqualTo(0L);
      assertThat(s.getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET);
      assertThat(s.getEvents()).singleElement().satisfies(ev -> {
        assertThat(ev.getName()).isEqualTo("try");
        assertThat(ev.getAttributes().get(AttributeKey.stringKey("meshlet.endpoint")))
            .isIn("127.0.0.1:" + v1.getPort(), "127.0.0.1:" + v2.getPort());
        assertThat(ev.getAttributes().get(OUTCOME)).isEqualTo("response");
      });
    });
    assertThat(finished.stream().filter(s -> s.getName().equals("meshlet ledger"))).hasSize(3).allSatisfy(s -> {
      assertThat(s.getAttributes().get(CLUSTER)).isEqualTo("ledger");
      assertThat(s.getAttributes().get(AttributeKey.longKey("meshlet.tries"))).isEqualTo(2L);
      assertThat(s.getAttributes().get(AttributeKey.longKey("rpc.grpc.status_code"))).isEqualTo(14L);
      assertThat(s.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
      assertThat(s.getStatus().getDescription()).isEqualTo("gateway_error");
      assertThat(s.getEvents()).hasSize(2)
          .allSatisfy(ev -> assertThat(ev.getAttributes().get(OUTCOME)).isEqualTo("gateway_error"));
    });
    assertThat(finished.stream().filter(s -> s.getName().equals("meshlet gone"))).singleElement().satisfies(s -> {
      assertThat(s.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
      assertThat(s.getStatus().getDescription()).isEqualTo("connect_failure");
    });

    // Each call's W3C trace context reached the server: the call's own span, in the caller's trace.
    assertThat(traceparents).hasSize(6);
    List<String> sent = catalogSpans.stream().map(s -> "00-" + s.getTraceId() + "-" + s.getSpanId() + "-" + s.getSpanContext().getTraceFlags().asHex()).toList();
    assertThat(traceparents).containsExactlyInAnyOrderElementsOf(sent);
  }

  static Attributes attrs(String service, String route, String cluster, String outcome) {
    return Attributes.of(SERVICE, service, ROUTE, route, CLUSTER, cluster, OUTCOME, outcome);
  }

  static MetricData metric(Collection<MetricData> data, String name) {
    return data.stream().filter(m -> m.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no metric " + name + " in "
            + data.stream().map(MetricData::getName).sorted().toList()));
  }
}
