package io.meshlet.internal.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.baggage.propagation.W3CBaggagePropagator;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The trace headers of a call ({@link Telemetry.Call#headers}), written from the span's context
 * directly when the propagator is W3C trace context alone, are what the SDK's own propagator
 * writes, and it reads them back as the call's span: the callee continues the trace.
 */
class TraceHeadersTest {

  private static final TextMapGetter<Map<String, String>> GETTER = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(Map<String, String> carrier) {
      return carrier.keySet();
    }

    @Override
    public String get(Map<String, String> carrier, String key) {
      return carrier == null ? null : carrier.get(key);
    }
  };

  private OpenTelemetrySdk otel;

  @AfterEach
  void close() {
    if (otel != null) {
      otel.close();
    }
  }

  private Telemetry telemetry(Sampler sampler, TextMapPropagator propagator) {
    otel = OpenTelemetrySdk.builder()
        // A span processor: without one the SDK's tracer (1.67) makes no spans, not even unsampled ones.
        .setTracerProvider(SdkTracerProvider.builder().setSampler(sampler)
            .addSpanProcessor(SimpleSpanProcessor.create(InMemorySpanExporter.create())).build())
        .setPropagators(ContextPropagators.create(propagator))
        .build();
    return Telemetry.of(otel);
  }

  /** What the propagator itself writes for the call's span in the current context. */
  private static Map<String, String> injected(TextMapPropagator propagator, Span span) {
    Map<String, String> out = new HashMap<>();
    propagator.inject(Context.current().with(span), out, Map::put);
    return out;
  }

  private static SpanContext read(Map<String, String> headers) {
    return Span.fromContext(W3CTraceContextPropagator.getInstance().extract(Context.root(), headers, GETTER))
        .getSpanContext();
  }

  private static void assertSameSpan(SpanContext read, SpanContext span) {
    assertThat(read.isValid()).isTrue();
    assertThat(read.isRemote()).isTrue();
    assertThat(read.getTraceId()).isEqualTo(span.getTraceId());
    assertThat(read.getSpanId()).isEqualTo(span.getSpanId());
    assertThat(read.getTraceFlags()).isEqualTo(span.getTraceFlags());
    assertThat(read.getTraceState()).isEqualTo(span.getTraceState());
  }

  @Test
  void sampledRootSpanIsWrittenAsThePropagatorWritesIt() {
    TextMapPropagator w3c = W3CTraceContextPropagator.getInstance();
    Telemetry.Call call = telemetry(Sampler.alwaysOn(), w3c).start("svc", "r", "c");
    Map<String, String> headers = call.headers();
    assertThat(headers).isEqualTo(injected(w3c, call.span())).containsOnlyKeys("traceparent");
    assertThat(call.span().getSpanContext().isSampled()).isTrue();
    assertSameSpan(read(headers), call.span().getSpanContext());
    // One span per call: every try sends the same context, made once.
    assertThat(call.headers()).isSameAs(headers);
  }

  @Test
  void unsampledSpansArePropagatedUnsampled() {
    TextMapPropagator w3c = W3CTraceContextPropagator.getInstance();
    Telemetry telemetry = telemetry(Sampler.alwaysOff(), w3c);
    Telemetry.Call root = telemetry.start("svc", "r", "c");
    assertThat(root.headers()).isEqualTo(injected(w3c, root.span()));
    // Not sampled; other flags (the SDK sets W3C level 2's random-trace-id flag, 02) pass as they are.
    assertThat(read(root.headers()).isSampled()).isFalse();
    assertThat(root.headers().get("traceparent")).endsWith("-" + root.span().getSpanContext().getTraceFlags().asHex());
    assertSameSpan(read(root.headers()), root.span().getSpanContext());

    // Under a sampled parent that the always-off sampler still drops: the parent's trace, a new span.
    SpanContext parent = SpanContext.createFromRemoteParent("0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331", TraceFlags.getSampled(), TraceState.getDefault());
    try (Scope s = Context.root().with(Span.wrap(parent)).makeCurrent()) {
      Telemetry.Call child = telemetry.start("svc", "r", "c");
      assertThat(child.headers()).isEqualTo(injected(w3c, child.span()));
      SpanContext read = read(child.headers());
      assertSameSpan(read, child.span().getSpanContext());
      assertThat(read.getTraceId()).isEqualTo(parent.getTraceId());
      assertThat(read.getSpanId()).isNotEqualTo(parent.getSpanId());
    }
  }

  @Test
  void aTraceStateGoesThroughThePropagator() {
    TextMapPropagator w3c = W3CTraceContextPropagator.getInstance();
    Telemetry telemetry = telemetry(Sampler.parentBased(Sampler.alwaysOn()), w3c);
    SpanContext parent = SpanContext.createFromRemoteParent("0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331", TraceFlags.getSampled(), TraceState.builder().put("vendor", "x1").build());
    try (Scope s = Context.root().with(Span.wrap(parent)).makeCurrent()) {
      Telemetry.Call call = telemetry.start("svc", "r", "c");
      assertThat(call.headers()).isEqualTo(injected(w3c, call.span()))
          .containsEntry("tracestate", "vendor=x1");
      assertSameSpan(read(call.headers()), call.span().getSpanContext());
    }
  }

  @Test
  void anotherPropagatorWritesItsOwnHeaders() {
    TextMapPropagator both = TextMapPropagator.composite(W3CTraceContextPropagator.getInstance(),
        W3CBaggagePropagator.getInstance());
    Telemetry telemetry = telemetry(Sampler.alwaysOn(), both);
    try (Scope s = Baggage.builder().put("tenant", "t1").build().makeCurrent()) {
      Telemetry.Call call = telemetry.start("svc", "r", "c");
      assertThat(call.headers()).isEqualTo(injected(both, call.span())).containsEntry("baggage", "tenant=t1");
      assertSameSpan(read(call.headers()), call.span().getSpanContext());
    }
  }

  @Test
  void noSdkWritesNothing() {
    assertThat(Telemetry.noop().start("svc", "r", "c").headers()).isEmpty();
  }
}
