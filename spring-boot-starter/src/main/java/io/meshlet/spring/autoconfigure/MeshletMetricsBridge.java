package io.meshlet.spring.autoconfigure;

import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.OpenTelemetry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.util.ClassUtils;

/**
 * Decides which {@link OpenTelemetry} the auto-configured {@code MeshClient} records through: the
 * application's {@code OpenTelemetry} bean for spans and propagation (so Meshlet's client spans are
 * children of the application's spans, with one trace id), and, when the application has a
 * Micrometer {@code MeterRegistry} but no OpenTelemetry SDK {@code SdkMeterProvider} bean, Micrometer
 * for metrics ({@link MicrometerMeterProvider}), so that they appear at {@code /actuator/metrics} and
 * {@code /actuator/prometheus}. Built only with Micrometer on the class path.
 */
final class MeshletMetricsBridge {

  private static final Logger log = LoggerFactory.getLogger(MeshletMetricsBridge.class);
  private static final String SDK_METER_PROVIDER = "io.opentelemetry.sdk.metrics.SdkMeterProvider";

  private final ObjectProvider<io.micrometer.core.instrument.MeterRegistry> registry;
  private final ListableBeanFactory beans;

  MeshletMetricsBridge(ObjectProvider<io.micrometer.core.instrument.MeterRegistry> registry, ListableBeanFactory beans) {
    this.registry = registry;
    this.beans = beans;
  }

  /**
   * What the mesh client records through, given the application's {@code OpenTelemetry} bean (null
   * if it has none; then spans go where {@link GlobalOpenTelemetry} sends them, as without Spring).
   */
  OpenTelemetry apply(OpenTelemetry application) {
    io.micrometer.core.instrument.MeterRegistry r = registry.getIfUnique();
    if (r == null) {
      return application;
    }
    if (application != null && hasSdkMeterProvider()) {
      log.info("meshlet: metrics through the application's OpenTelemetry SdkMeterProvider");
      return application;
    }
    log.info("meshlet: metrics through Micrometer ({}), spans through {}", r.getClass().getSimpleName(),
        application != null ? "the application's OpenTelemetry bean" : "GlobalOpenTelemetry (no OpenTelemetry bean)");
    return MicrometerMeterProvider.withMetricsIn(application != null ? application : GlobalOpenTelemetry.get(), r);
  }

  private boolean hasSdkMeterProvider() {
    ClassLoader cl = MeshletMetricsBridge.class.getClassLoader();
    if (!ClassUtils.isPresent(SDK_METER_PROVIDER, cl)) {
      return false;
    }
    return beans.getBeanNamesForType(ClassUtils.resolveClassName(SDK_METER_PROVIDER, cl), true, false).length > 0;
  }
}
