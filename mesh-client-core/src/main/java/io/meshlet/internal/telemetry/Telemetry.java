package io.meshlet.internal.telemetry;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.meshlet.MeshRejection;
import io.meshlet.config.EndpointConfig;
import io.meshlet.transport.Outcome;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Meshlet's metrics and spans, through the OpenTelemetry API only: with no SDK or agent
 * installed every instrument is a no-op.
 *
 * <p>Metrics (instrumentation scope {@code io.meshlet}): {@code meshlet.client.request.duration}
 * (histogram, seconds, by service, route, cluster and outcome; its count is the request count),
 * {@code meshlet.client.retries}, {@code meshlet.client.transparent_retries} (a try sent again
 * because the pooled connection it went out on was dead), {@code meshlet.client.ejections},
 * {@code meshlet.client.rejected} (by reason: fault, ratelimited, overloaded, no-endpoints) and
 * {@code meshlet.client.retry_budget_exhausted}. One CLIENT span per call carries the decisions.
 * Calls that a transport routes itself (gRPC through grpc-java's xDS) report the same names and
 * attributes through {@link #startRouted}.
 *
 * <p>Thread-safe; handlers never throw.
 */
public final class Telemetry implements ClusterEvents {

  private static final Logger log = LoggerFactory.getLogger(Telemetry.class);
  static final AttributeKey<String> SERVICE = AttributeKey.stringKey("meshlet.service");
  static final AttributeKey<String> ROUTE = AttributeKey.stringKey("meshlet.route");
  static final AttributeKey<String> CLUSTER = AttributeKey.stringKey("meshlet.cluster");
  static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("meshlet.outcome");
  static final AttributeKey<String> REASON = AttributeKey.stringKey("meshlet.reason");
  static final AttributeKey<String> ENDPOINT = AttributeKey.stringKey("meshlet.endpoint");
  static final AttributeKey<Long> STATUS = AttributeKey.longKey("http.response.status_code");
  static final AttributeKey<Long> TRIES = AttributeKey.longKey("meshlet.tries");
  static final AttributeKey<Boolean> TRANSPARENT = AttributeKey.booleanKey("meshlet.transparent");

  /** {@link Outcome} names as attribute values ({@code server_error}), by ordinal: made once, not per call. */
  private static final String[] OUTCOME_NAMES = java.util.Arrays.stream(Outcome.values())
      .map(o -> o.name().toLowerCase(Locale.ROOT)).toArray(String[]::new);

  private final Tracer tracer;
  private final TextMapPropagator propagator;
  private final boolean tracing;
  /** Whether the propagator is W3C trace context alone, so that {@link #traceparent} is all it would write. */
  private final boolean w3cOnly;
  private final DoubleHistogram duration;
  private final LongCounter retries;
  private final LongCounter transparentRetries;
  private final LongCounter ejections;
  private final LongCounter rejected;
  private final LongCounter budgetExhausted;
  private final LongCounter denied;
  private final Cache<String, Attributes> attributes = Caffeine.newBuilder().maximumSize(10_000).build();

  private Telemetry(OpenTelemetry otel) {
    Meter meter = otel.getMeter("io.meshlet");
    this.tracer = otel.getTracer("io.meshlet");
    this.propagator = otel.getPropagators().getTextMapPropagator();
    this.tracing = otel != OpenTelemetry.noop();
    this.w3cOnly = propagator == W3CTraceContextPropagator.getInstance();
    this.duration = meter.histogramBuilder("meshlet.client.request.duration").setUnit("s")
        .setDescription("Duration of calls through the mesh, retries included.").build();
    this.retries = meter.counterBuilder("meshlet.client.retries")
        .setDescription("Retries made by the mesh.").build();
    this.transparentRetries = meter.counterBuilder("meshlet.client.transparent_retries")
        .setDescription("Tries sent again because a pooled connection was found dead; not retries.").build();
    this.ejections = meter.counterBuilder("meshlet.client.ejections")
        .setDescription("Endpoints ejected by outlier detection.").build();
    this.rejected = meter.counterBuilder("meshlet.client.rejected")
        .setDescription("Calls the mesh answered itself: faults, rate limits, overload.").build();
    this.budgetExhausted = meter.counterBuilder("meshlet.client.retry_budget_exhausted")
        .setDescription("Retries not made because the cluster's retry budget was used up.").build();
    this.denied = meter.counterBuilder("meshlet.server.denied")
        .setDescription("Inbound calls refused by the service's authorization policy.").build();
  }

  /** Telemetry through the given OpenTelemetry instance. */
  public static Telemetry of(OpenTelemetry otel) {
    return new Telemetry(otel);
  }

  /** Telemetry that records nothing. */
  public static Telemetry noop() {
    return new Telemetry(OpenTelemetry.noop());
  }

  /** Starts the telemetry of a call through the engine, on a route to a cluster (empty if none). */
  public Call start(String service, String route, String cluster) {
    return start(route(service, route, cluster));
  }

  /**
   * What the calls of one route to one cluster report, made once per config ({@link #route}) so
   * that a call builds no name, key or attribute set: the span's name, the metrics' attributes for
   * each outcome.
   */
  public static final class RouteTelemetry {
    private final String service;
    private final String route;
    private final String cluster;
    private final String spanName;
    private final Attributes routeAttributes;
    private final Attributes[] durationAttributes;

    private RouteTelemetry(String service, String route, String cluster) {
      this.service = service;
      this.route = route;
      this.cluster = cluster;
      this.spanName = "meshlet " + service;
      this.routeAttributes = Attributes.of(SERVICE, service, ROUTE, route);
      this.durationAttributes = new Attributes[Outcome.values().length];
      for (Outcome o : Outcome.values()) {
        durationAttributes[o.ordinal()] = Attributes.of(SERVICE, service, ROUTE, route, CLUSTER, cluster,
            OUTCOME, OUTCOME_NAMES[o.ordinal()]);
      }
    }
  }

  /** The telemetry of a route's calls to a cluster (empty if none), for {@link #start(RouteTelemetry)}. */
  public RouteTelemetry route(String service, String route, String cluster) {
    return new RouteTelemetry(service, route, cluster);
  }

  /** Starts the telemetry of a call through the engine on a route made by {@link #route}. */
  public Call start(RouteTelemetry r) {
    Span span = tracing
        ? tracer.spanBuilder(r.spanName).setSpanKind(SpanKind.CLIENT)
            .setAttribute(SERVICE, r.service)
            .setAttribute(ROUTE, r.route)
            .setAttribute(CLUSTER, r.cluster)
            .startSpan()
        : Span.getInvalid();
    return new Call(r, span);
  }

  /**
   * Starts the telemetry of a call that its transport routes itself (gRPC through grpc-java's own
   * xDS client): the same duration metric, retry counter, span name, kind and attributes as a call
   * through the engine, with the cluster told when the transport has picked it. The span is a child
   * of {@code parent}. Never throws.
   *
   * @param route the name of the route the call takes, as the engine names it; empty if unknown
   */
  public RoutedCall startRouted(String service, String route, Context parent) {
    Span span = Span.getInvalid();
    if (tracing) {
      try {
        span = tracer.spanBuilder("meshlet " + service).setParent(parent).setSpanKind(SpanKind.CLIENT)
            .setAttribute(SERVICE, service)
            .setAttribute(ROUTE, route)
            .startSpan();
      } catch (RuntimeException e) {
        log.debug("telemetry failed", e);
      }
    }
    return new RoutedCall(service, route, parent, span);
  }

  /**
   * The telemetry of one call routed by its transport, from {@link #startRouted}. Its methods may
   * be called from any thread, one at a time (a transport's tries follow one another), and never
   * throw.
   */
  public final class RoutedCall implements io.meshlet.transport.RoutedCall {
    private final String service;
    private final String route;
    private final Context parent;
    private final Span span;
    private volatile String cluster = "";
    private volatile int tries;

    private RoutedCall(String service, String route, Context parent, Span span) {
      this.service = service;
      this.route = route;
      this.parent = parent;
      this.span = span;
    }

    /** Writes the call's trace context (its span under the parent) into the carrier, by the configured propagator. */
    @Override
    public <C> void inject(C carrier, TextMapSetter<C> setter) {
      if (tracing) {
        try {
          propagator.inject(parent.with(span), carrier, setter);
        } catch (RuntimeException e) {
          log.debug("telemetry failed", e);
        }
      }
    }

    /** The cluster the transport picked for the call. */
    @Override
    public void cluster(String name) {
      if (name != null && !name.equals(cluster)) {
        cluster = name;
        if (tracing) {
          span.setAttribute(CLUSTER, name);
        }
      }
    }

    /** A try made by the transport's own retry policy (not a transparent retry), counted as the engine counts its retries. */
    @Override
    public void retry() {
      try {
        retries.add(1, attrs("route|" + service + "|" + route, () -> Attributes.of(SERVICE, service, ROUTE, route)));
      } catch (RuntimeException e) {
        log.debug("telemetry failed", e);
      }
    }

    /** A try ended: an event on the span with the endpoint ({@code host:port}, empty if none was reached) and its outcome. */
    @Override
    public void tried(String endpoint, Outcome outcome) {
      tries++;
      if (tracing) {
        try {
          if (span.isRecording()) {
            span.addEvent("try", Attributes.of(ENDPOINT, endpoint, OUTCOME, OUTCOME_NAMES[outcome.ordinal()]));
          }
        } catch (RuntimeException e) {
          log.debug("telemetry failed", e);
        }
      }
    }

    /**
     * The call ended: its duration is recorded by service, route, cluster and outcome, and the span
     * ends with these transport attributes (such as {@code rpc.grpc.status_code}), an error status
     * when the outcome is a failure.
     */
    @Override
    public void end(Outcome outcome, long nanos, Attributes transportAttributes) {
      recordEnd(service, route, cluster, outcome, nanos, span, tries, transportAttributes);
    }
  }

  private void recordEnd(String service, String route, String cluster, Outcome outcome, long nanos, Span span,
      int tries, Attributes spanAttributes) {
    try {
      String result = OUTCOME_NAMES[outcome.ordinal()];
      duration.record(nanos / 1e9, attrs("call|" + service + "|" + route + "|" + cluster + "|" + result,
          () -> Attributes.of(SERVICE, service, ROUTE, route, CLUSTER, cluster, OUTCOME, result)));
      endSpan(span, outcome, tries, spanAttributes, 0);
    } catch (RuntimeException e) {
      log.debug("telemetry failed", e);
    }
  }

  /** Ends a call's span, with these attributes or else, when {@code status > 0}, the HTTP status. */
  private void endSpan(Span span, Outcome outcome, int tries, Attributes attributes, int status) {
    // An unsampled span records nothing: set nothing on it (ending it is still its contract).
    if (tracing && span.isRecording()) {
      span.setAttribute(TRIES, (long) tries);
      if (attributes != null) {
        span.setAllAttributes(attributes);
      }
      if (status > 0) {
        span.setAttribute(STATUS, (long) status);
      }
      if (outcome.isFailure()) {
        span.setStatus(StatusCode.ERROR, OUTCOME_NAMES[outcome.ordinal()]);
      }
    }
    if (tracing) {
      span.end();
    }
  }

  /** An inbound call refused by authorization. */
  public void denied(String service, String caller) {
    try {
      denied.add(1, attrs("denied|" + service + "|" + caller, () -> Attributes.of(SERVICE, service,
          AttributeKey.stringKey("meshlet.caller"), caller)));
    } catch (RuntimeException e) {
      log.debug("telemetry failed", e);
    }
  }

  @Override
  public void ejected(String cluster, EndpointConfig endpoint, Duration forHowLong, String why) {
    try {
      ejections.add(1, attrs("ejection|" + cluster, () -> Attributes.of(CLUSTER, cluster)));
      log.warn("ejected {} from cluster '{}' for {} ms: {}", endpoint.address(), cluster,
          forHowLong.toMillis(), why);
    } catch (RuntimeException e) {
      log.debug("telemetry failed", e);
    }
  }

  private Attributes attrs(String key, java.util.function.Supplier<Attributes> make) {
    return attributes.get(key, k -> make.get());
  }

  /** The telemetry of one call through the engine; its methods are called by one thread at a time. */
  public final class Call {
    private final RouteTelemetry r;
    private final Span span;
    private int tries;
    private Map<String, String> headers;

    private Call(RouteTelemetry r, Span span) {
      this.r = r;
      this.span = span;
    }

    /**
     * The trace context to send with each try of this call: the same for every try (one span per
     * call, on one thread), so made at the first try and kept. With the W3C propagator alone (the
     * usual configuration) the {@code traceparent} header is written from the span's context
     * directly ({@link #traceparent}), as the propagator writes it; any other propagator, or a
     * {@code tracestate} to send, goes through the propagator.
     */
    public Map<String, String> headers() {
      Map<String, String> h = headers;
      if (h == null) {
        h = tracing ? traceHeaders(span) : Map.of();
        headers = h;
      }
      return h;
    }

    /** The call's span (for tests). */
    Span span() {
      return span;
    }

    /** A try ended at this endpoint ({@code host:port}). */
    public void tried(String cluster, String endpoint, Outcome outcome) {
      tries++;
      if (tracing && span.isRecording()) {
        span.addEvent("try", Attributes.of(ENDPOINT, endpoint, OUTCOME, OUTCOME_NAMES[outcome.ordinal()]));
      }
    }

    public void tried(String cluster, EndpointConfig endpoint, Outcome outcome) {
      tried(cluster, endpoint.address(), outcome);
    }

    public void retry() {
      retries.add(1, r.routeAttributes);
    }

    /**
     * A try's transport sent it again because the pooled connection it went out on was dead: a
     * {@code try} event with the failed send's outcome and {@code meshlet.transparent}, counted in
     * {@code meshlet.client.transparent_retries}, not in the tries or the retries.
     */
    public void resentTransparently(String cluster, EndpointConfig endpoint, Outcome outcome, java.io.IOException failure) {
      try {
        transparentRetries.add(1, r.routeAttributes);
        if (tracing) {
          span.addEvent("try", Attributes.of(ENDPOINT, endpoint.address(), OUTCOME,
              OUTCOME_NAMES[outcome.ordinal()], TRANSPARENT, true));
        }
        log.debug("call to '{}' (route '{}', cluster '{}') sent again to {} on a new connection: the pooled"
            + " connection was dead ({})", r.service, r.route, cluster, endpoint.address(),
            String.valueOf(failure));
      } catch (RuntimeException e) {
        log.debug("telemetry failed", e);
      }
    }

    public void retryBudgetExhausted() {
      budgetExhausted.add(1, r.routeAttributes);
    }

    public void faultDelay() {
      span.addEvent("fault delay");
    }

    public void rejected(MeshRejection.Reason reason) {
      String service = r.service;
      String route = r.route;
      rejected.add(1, attrs("rejected|" + service + "|" + route + "|" + reason,
          () -> Attributes.of(SERVICE, service, ROUTE, route,
              REASON, reason.header().substring("x-meshlet-".length()))));
      span.setAttribute(REASON, reason.header().substring("x-meshlet-".length()));
    }

    public void end(Outcome outcome, int status, long nanos) {
      try {
        duration.record(nanos / 1e9, r.durationAttributes[outcome.ordinal()]);
        endSpan(span, outcome, tries, null, status);
      } catch (RuntimeException e) {
        log.debug("telemetry failed", e);
      }
    }
  }

  /**
   * The headers that carry a call's span to the callee, injected whether the span is sampled or not
   * (the callee continues the trace either way).
   */
  Map<String, String> traceHeaders(Span span) {
    SpanContext context = span.getSpanContext();
    if (w3cOnly && context.getTraceState().isEmpty()) {
      // What W3CTraceContextPropagator.inject writes, without a Context, a carrier map and a setter.
      return context.isValid() ? Map.of(TRACEPARENT, traceparent(context)) : Map.of();
    }
    Map<String, String> out = new HashMap<>(4);
    propagator.inject(Context.current().with(span), out, MAP_SETTER);
    return out;
  }

  /** The W3C {@code traceparent} value of a valid span context: version 00, trace id, span id, flags. */
  static String traceparent(SpanContext context) {
    return "00-" + context.getTraceId() + "-" + context.getSpanId() + "-" + context.getTraceFlags().asHex();
  }

  private static final String TRACEPARENT = "traceparent";

  private static final TextMapSetter<Map<String, String>> MAP_SETTER = (carrier, k, v) -> carrier.put(k, v);
}
