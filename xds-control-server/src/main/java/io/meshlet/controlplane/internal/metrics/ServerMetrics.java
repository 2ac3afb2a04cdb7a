package io.meshlet.controlplane.internal.metrics;

import io.meshlet.controlplane.internal.lrs.LoadStore;
import io.meshlet.internal.wire.LoadMetrics;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * The control server's metrics, in a Prometheus client registry, rendered in the Prometheus
 * text format for {@code /metrics}: xDS, config, CA and etcd figures, admin requests as a
 * histogram by method and status, and the load clients reported per service and route target
 * (requests by result, in flight, and a latency histogram from Meshlet clients' reports).
 *
 * <p>Thread-safe and cheap: the client's counters are lock-free; gauges are read at scrape time.
 */
public final class ServerMetrics {

  /** The methods the admin histogram names; any other is {@code other}, so a client cannot add labels. */
  private static final Set<String> METHODS = Set.of("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS");

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Counter streams = counter("meshlet_xds_streams_total", "xDS streams opened.");
  private final Counter pushes = counter("meshlet_xds_pushes_total", "xDS responses sent to clients.");
  private final Counter nacks = counter("meshlet_xds_nacks_total", "xDS responses clients rejected.");
  private final Counter reloads = counter("meshlet_config_reloads_total",
      "Configs accepted and served, the first included.");
  private final Counter refusals = counter("meshlet_config_refusals_total", "Configs refused as invalid.");
  private final Histogram adminRequests = Histogram.builder()
      .name("meshlet_admin_request_duration_seconds")
      .help("Admin API requests by method and status, and how long they took.")
      .labelNames("method", "status")
      .classicUpperBounds(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)
      .register(registry);
  private volatile IntSupplier connected = () -> 0;
  private volatile IntSupplier services = () -> 0;
  private volatile LongSupplier certificatesSigned = () -> 0;
  private volatile LongSupplier certificatesRefused = () -> 0;

  public ServerMetrics() {
    gauge("meshlet_xds_connected_clients", "xDS streams connected now.", () -> connected.getAsInt());
    gauge("meshlet_config_services", "Services in the config being served.", () -> services.getAsInt());
    counterCallback("meshlet_ca_certificates_signed_total", "Workload certificates signed.",
        () -> certificatesSigned.getAsLong());
    counterCallback("meshlet_ca_requests_refused_total", "Certificate requests refused (bad token or CSR).",
        () -> certificatesRefused.getAsLong());
  }

  private Counter counter(String name, String help) {
    return Counter.builder().name(name).help(help).register(registry);
  }

  private void gauge(String name, String help, LongSupplier value) {
    GaugeWithCallback.builder().name(name).help(help)
        .callback(cb -> cb.call(value.getAsLong()))
        .register(registry);
  }

  private void counterCallback(String name, String help, LongSupplier value) {
    io.prometheus.metrics.core.metrics.CounterWithCallback.builder().name(name).help(help)
        .callback(cb -> cb.call(value.getAsLong()))
        .register(registry);
  }

  public void streamOpened() {
    streams.inc();
  }

  public void pushed() {
    pushes.inc();
  }

  public void nacked() {
    nacks.inc();
  }

  /** A new config was accepted and is being served. */
  public void reloaded() {
    reloads.inc();
  }

  /** A config was refused. */
  public void refused() {
    refusals.inc();
  }

  /** An admin request was answered. */
  public void adminRequest(String method, int status, long nanos) {
    adminRequests.labelValues(METHODS.contains(method) ? method : "other", Integer.toString(status))
        .observe(nanos / 1e9);
  }

  /** Where the gauges read from. */
  public void gauges(IntSupplier connectedClients, IntSupplier serviceCount) {
    this.connected = connectedClients;
    this.services = serviceCount;
  }

  /** Where the CA's counters read from. */
  public void identityCounters(LongSupplier signed, LongSupplier refused) {
    this.certificatesSigned = signed;
    this.certificatesRefused = refused;
  }

  /** Where the etcd connection gauge reads from (1 connected, 0 not); only shown when set. */
  public void etcdGauge(IntSupplier connected) {
    gauge("meshlet_etcd_connected", "1 when etcd answers, 0 while the last good config is served without it.",
        connected::getAsInt);
  }

  /** Shows the load clients reported, per service and route target. */
  public void loadReports(LoadStore store) {
    registry.register(() -> loadSnapshots(store));
  }

  static MetricSnapshots loadSnapshots(LoadStore store) {
    CounterSnapshot.Builder requests = CounterSnapshot.builder().name("meshlet_load_requests")
        .help("Requests clients reported over LRS, by service, route target (subset; empty for all "
            + "endpoints) and result.");
    HistogramSnapshot.Builder latency = HistogramSnapshot.builder().name("meshlet_load_latency_seconds")
        .help("Latency of the tries Meshlet clients reported over LRS, by service and route target.");
    int buckets = LoadMetrics.buckets();
    double[] bounds = new double[buckets];
    for (int i = 0; i < buckets; i++) {
      bounds[i] = LoadMetrics.upperBoundMillis(i) / 1000.0;
    }
    boolean anyLatency = false;
    for (LoadStore.Total t : store.totals()) {
      Labels labels = Labels.of("service", t.key().service(), "target", t.key().target());
      requests.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
          .labels(labels.add("result", "success")).value(t.succeeded()).build());
      requests.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
          .labels(labels.add("result", "error")).value(t.errors()).build());
      if (t.latencyCount() > 0) {
        anyLatency = true;
        latency.dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder().labels(labels)
            .classicHistogramBuckets(ClassicHistogramBuckets.of(bounds, t.histogram()))
            .sum(t.latencySumMillis() / 1000.0).build());
      }
    }
    CounterSnapshot.Builder denied = CounterSnapshot.builder().name("meshlet_load_denied")
        .help("Requests the called service's inbound authorization refused (403), as Meshlet clients reported"
            + " them over LRS, by called service and calling service.");
    for (LoadStore.CallerTotal c : store.callerTotals()) {
      denied.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
          .labels(Labels.of("service", c.caller().service(), "caller", c.caller().caller())).value(c.denied()).build());
    }
    GaugeSnapshot.Builder inFlight = GaugeSnapshot.builder().name("meshlet_load_requests_in_flight")
        .help("Requests in flight per service, from clients' last load reports.");
    for (Map.Entry<String, Long> e : store.inFlightByService().entrySet()) {
      inFlight.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
          .labels(Labels.of("service", e.getKey())).value(e.getValue()).build());
    }
    MetricSnapshots.Builder out = MetricSnapshots.builder().metricSnapshot(requests.build())
        .metricSnapshot(denied.build()).metricSnapshot(inFlight.build());
    if (anyLatency) {
      out.metricSnapshot(latency.build());
    }
    return out.build();
  }

  /** The Prometheus text exposition (format 0.0.4). */
  public String render() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(4096);
    try {
      PrometheusTextFormatWriter.create().write(out, registry.scrape(),
          io.prometheus.metrics.config.EscapingScheme.ALLOW_UTF8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
