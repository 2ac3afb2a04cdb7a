package io.meshlet.policy;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.meshlet.config.EndpointConfig;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapPropagator;
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
 * {@code meshlet.client.retries}, {@code meshlet.client.ejections},
 * {@code meshlet.client.rejected} (by reason: fault, ratelimited, overloaded, no-endpoints) and
 * {@code meshlet.client.retry_budget_exhausted}. One CLIENT span per call carries the decisions.
 *
 * <p>Thread-safe; handlers never throw.
 */
public final class Telemetry implements ClusterRuntime.EventSink {

  private static final Logger log = LoggerFactory.getLogger(Telemetry.class);
  static final AttributeKey<String> SERVICE = AttributeKey.stringKey("meshlet.service");
  static final AttributeKey<String> ROUTE = AttributeKey.stringKey("meshlet.route");
  static final AttributeKey<String> CLUSTER = AttributeKey.stringKey("meshlet.cluster");
  static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("meshlet.outcome");
  static final AttributeKey<String> REASON = AttributeKey.stringKey("meshlet.reason");
  static final AttributeKey<String> ENDPOINT = AttributeKey.stringKey("meshlet.endpoint");
  static final AttributeKey<Long> STATUS = AttributeKey.longKey("http.response.status_code");
  static final AttributeKey<Long> TRIES = AttributeKey.longKey("meshlet.tries");

  private final Tracer tracer;
  private final TextMapPropagator propagator;
  private final boolean tracing;
  private final DoubleHistogram duration;
  private final LongCounter retries;
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
    this.duration = meter.histogramBuilder("meshlet.client.request.duration").setUnit("s")
        .setDescription("Duration of calls through the mesh, retries included.").build();
    this.retries = meter.counterBuilder("meshlet.client.retries")
        .setDescription("Retries made by the mesh.").build();
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

  Call start(PolicyEngine.Route route) {
    Span span = tracing
        ? tracer.spanBuilder("meshlet " + route.service()).setSpanKind(SpanKind.CLIENT)
            .setAttribute(SERVICE, route.service())
            .setAttribute(ROUTE, route.rule().name())
            .setAttribute(CLUSTER, route.cluster() == null ? "" : route.cluster().name())
            .startSpan()
        : Span.getInvalid();
    return new Call(route, span);
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

  /** The telemetry of one call. */
  final class Call {
    private final PolicyEngine.Route route;
    private final Span span;
    private int tries;

    Call(PolicyEngine.Route route, Span span) {
      this.route = route;
      this.span = span;
    }

    Map<String, String> headers() {
      if (!tracing) {
        return Map.of();
      }
      Map<String, String> out = new HashMap<>(4);
      propagator.inject(Context.current().with(span), out, (carrier, k, v) -> carrier.put(k, v));
      return out;
    }

    void tried(String cluster, EndpointConfig endpoint, Outcome outcome) {
      tries++;
      if (tracing) {
        span.addEvent("try", Attributes.of(ENDPOINT, endpoint.address(), OUTCOME,
            outcome.name().toLowerCase(Locale.ROOT)));
      }
    }

    void retry() {
      retries.add(1, routeAttrs());
    }

    void retryBudgetExhausted() {
      budgetExhausted.add(1, routeAttrs());
    }

    void faultDelay() {
      span.addEvent("fault delay");
    }

    void rejected(MeshRejection.Reason reason) {
      rejected.add(1, attrs("rejected|" + route.service() + "|" + route.rule().name() + "|" + reason,
          () -> Attributes.of(SERVICE, route.service(), ROUTE, route.rule().name(),
              REASON, reason.header().substring("x-meshlet-".length()))));
      span.setAttribute(REASON, reason.header().substring("x-meshlet-".length()));
    }

    void end(Outcome outcome, int status, long nanos) {
      try {
        String cluster = route.cluster() == null ? "" : route.cluster().name();
        String result = outcome.name().toLowerCase(Locale.ROOT);
        duration.record(nanos / 1e9, attrs("call|" + route.service() + "|" + route.rule().name() + "|"
            + cluster + "|" + result, () -> Attributes.of(SERVICE, route.service(), ROUTE, route.rule().name(),
            CLUSTER, cluster, OUTCOME, result)));
        if (tracing) {
          span.setAttribute(TRIES, (long) tries);
          if (status > 0) {
            span.setAttribute(STATUS, (long) status);
          }
          if (outcome.isFailure()) {
            span.setStatus(StatusCode.ERROR, result);
          }
          span.end();
        }
      } catch (RuntimeException e) {
        log.debug("telemetry failed", e);
      }
    }

    private Attributes routeAttrs() {
      return attrs("route|" + route.service() + "|" + route.rule().name(),
          () -> Attributes.of(SERVICE, route.service(), ROUTE, route.rule().name()));
    }
  }
}
