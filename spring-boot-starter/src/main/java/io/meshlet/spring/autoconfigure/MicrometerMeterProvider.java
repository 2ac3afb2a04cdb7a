package io.meshlet.spring.autoconfigure;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.logs.LoggerProvider;
import io.opentelemetry.api.metrics.DoubleCounterBuilder;
import io.opentelemetry.api.metrics.DoubleGaugeBuilder;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.DoubleHistogramBuilder;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.LongCounterBuilder;
import io.opentelemetry.api.metrics.LongHistogramBuilder;
import io.opentelemetry.api.metrics.LongUpDownCounterBuilder;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.MeterBuilder;
import io.opentelemetry.api.metrics.MeterProvider;
import io.opentelemetry.api.metrics.ObservableLongCounter;
import io.opentelemetry.api.metrics.ObservableLongMeasurement;
import io.opentelemetry.api.trace.TracerProvider;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.ContextPropagators;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An OpenTelemetry {@link MeterProvider} that records into a Micrometer {@link MeterRegistry}, so
 * that Meshlet's metrics (which it records through the OpenTelemetry API) appear at
 * {@code /actuator/metrics} and {@code /actuator/prometheus} of an application whose OpenTelemetry
 * SDK has no metrics pipeline of its own (Spring Boot sends metrics through Micrometer, not through
 * the SDK's {@code SdkMeterProvider}).
 *
 * <p>What Meshlet records is bridged: long counters become Micrometer {@link Counter}s, histograms
 * in seconds or milliseconds become {@link Timer}s and other histograms
 * {@link DistributionSummary}s, with one tag per attribute (the attribute's key as the tag's key).
 * Other instruments (up-down counters, gauges, double counters, observable instruments) are not
 * bridged: they are no-ops, and a WARN names the instrument once.
 *
 * <p>Thread-safe; recording never throws.
 */
final class MicrometerMeterProvider implements MeterProvider {

  private static final Logger log = LoggerFactory.getLogger(MicrometerMeterProvider.class);
  private static final Meter NOOP = MeterProvider.noop().get("io.meshlet");

  private final MeterRegistry registry;

  MicrometerMeterProvider(MeterRegistry registry) {
    this.registry = registry;
  }

  /**
   * The given OpenTelemetry for traces and propagation, with this provider for metrics.
   */
  static OpenTelemetry withMetricsIn(OpenTelemetry traces, MeterRegistry registry) {
    MeterProvider meters = new MicrometerMeterProvider(registry);
    return new OpenTelemetry() {
      @Override
      public TracerProvider getTracerProvider() {
        return traces.getTracerProvider();
      }

      @Override
      public MeterProvider getMeterProvider() {
        return meters;
      }

      @Override
      public LoggerProvider getLogsBridge() {
        return traces.getLogsBridge();
      }

      @Override
      public ContextPropagators getPropagators() {
        return traces.getPropagators();
      }

      @Override
      public String toString() {
        return "OpenTelemetry(traces: " + traces + ", metrics: Micrometer " + registry.getClass().getSimpleName() + ")";
      }
    };
  }

  @Override
  public MeterBuilder meterBuilder(String instrumentationScopeName) {
    return new MeterBuilder() {
      @Override
      public MeterBuilder setSchemaUrl(String schemaUrl) {
        return this;
      }

      @Override
      public MeterBuilder setInstrumentationVersion(String instrumentationScopeVersion) {
        return this;
      }

      @Override
      public Meter build() {
        return new BridgeMeter();
      }
    };
  }

  private static Tags tags(Attributes attributes) {
    List<Tag> out = new ArrayList<>(attributes.size());
    attributes.forEach((k, v) -> out.add(Tag.of(k.getKey(), String.valueOf(v))));
    return Tags.of(out);
  }

  private static void unsupported(String kind, String name) {
    log.warn("meshlet: the {} '{}' is not bridged to Micrometer and records nothing", kind, name);
  }

  private final class BridgeMeter implements Meter {
    @Override
    public LongCounterBuilder counterBuilder(String name) {
      return new CounterBuilder(name);
    }

    @Override
    public LongUpDownCounterBuilder upDownCounterBuilder(String name) {
      unsupported("up-down counter", name);
      return NOOP.upDownCounterBuilder(name);
    }

    @Override
    public DoubleHistogramBuilder histogramBuilder(String name) {
      return new HistogramBuilder(name);
    }

    @Override
    public DoubleGaugeBuilder gaugeBuilder(String name) {
      unsupported("gauge", name);
      return NOOP.gaugeBuilder(name);
    }
  }

  private final class CounterBuilder implements LongCounterBuilder {
    private final String name;
    private String description;
    private String unit;

    CounterBuilder(String name) {
      this.name = name;
    }

    @Override
    public LongCounterBuilder setDescription(String description) {
      this.description = description;
      return this;
    }

    @Override
    public LongCounterBuilder setUnit(String unit) {
      this.unit = unit;
      return this;
    }

    @Override
    public DoubleCounterBuilder ofDoubles() {
      unsupported("double counter", name);
      return NOOP.counterBuilder(name).ofDoubles();
    }

    @Override
    public LongCounter build() {
      Function<Tags, Counter> make = tags -> Counter.builder(name).description(description).baseUnit(unit)
          .tags(tags).register(registry);
      Map<Attributes, Counter> counters = new ConcurrentHashMap<>();
      return new LongCounter() {
        @Override
        public void add(long value) {
          add(value, Attributes.empty());
        }

        @Override
        public void add(long value, Attributes attributes) {
          try {
            counters.computeIfAbsent(attributes, a -> make.apply(tags(a))).increment(value);
          } catch (RuntimeException e) {
            log.debug("meshlet: recording '{}' in Micrometer failed", name, e);
          }
        }

        @Override
        public void add(long value, Attributes attributes, Context context) {
          add(value, attributes);
        }
      };
    }

    @Override
    public ObservableLongCounter buildWithCallback(Consumer<ObservableLongMeasurement> callback) {
      unsupported("observable counter", name);
      return NOOP.counterBuilder(name).buildWithCallback(callback);
    }
  }

  private final class HistogramBuilder implements DoubleHistogramBuilder {
    private final String name;
    private String description;
    private String unit = "";

    HistogramBuilder(String name) {
      this.name = name;
    }

    @Override
    public DoubleHistogramBuilder setDescription(String description) {
      this.description = description;
      return this;
    }

    @Override
    public DoubleHistogramBuilder setUnit(String unit) {
      this.unit = unit;
      return this;
    }

    @Override
    public LongHistogramBuilder ofLongs() {
      unsupported("long histogram", name);
      return NOOP.histogramBuilder(name).ofLongs();
    }

    @Override
    public DoubleHistogram build() {
      interface Recorder {
        void record(double value);
      }
      Function<Tags, Recorder> make;
      if (unit.equals("s") || unit.equals("ms")) {
        double toNanos = unit.equals("s") ? 1e9 : 1e6;
        make = tags -> {
          Timer t = Timer.builder(name).description(description).tags(tags).register(registry);
          return v -> t.record((long) (v * toNanos), TimeUnit.NANOSECONDS);
        };
      } else {
        make = tags -> {
          DistributionSummary d = DistributionSummary.builder(name).description(description)
              .baseUnit(unit.isEmpty() ? null : unit).tags(tags).register(registry);
          return d::record;
        };
      }
      Map<Attributes, Recorder> recorders = new ConcurrentHashMap<>();
      return new DoubleHistogram() {
        @Override
        public void record(double value) {
          record(value, Attributes.empty());
        }

        @Override
        public void record(double value, Attributes attributes) {
          try {
            recorders.computeIfAbsent(attributes, a -> make.apply(tags(a))).record(value);
          } catch (RuntimeException e) {
            log.debug("meshlet: recording '{}' in Micrometer failed", name, e);
          }
        }

        @Override
        public void record(double value, Attributes attributes, Context context) {
          record(value, attributes);
        }
      };
    }
  }
}
