package io.meshlet.controlplane.internal.metrics;

import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/**
 * The control server's counters, rendered in the Prometheus text format for {@code /metrics}.
 *
 * <p>Thread-safe and cheap: counters are {@link LongAdder}s.
 */
public final class ServerMetrics {

  private final LongAdder streams = new LongAdder();
  private final LongAdder pushes = new LongAdder();
  private final LongAdder nacks = new LongAdder();
  private final LongAdder reloads = new LongAdder();
  private final LongAdder refusals = new LongAdder();
  private volatile IntSupplier connected = () -> 0;
  private volatile IntSupplier services = () -> 0;
  private volatile java.util.function.LongSupplier certificatesSigned = () -> 0;
  private volatile java.util.function.LongSupplier certificatesRefused = () -> 0;
  private volatile IntSupplier etcdConnected;

  public void streamOpened() {
    streams.increment();
  }

  public void pushed() {
    pushes.increment();
  }

  public void nacked() {
    nacks.increment();
  }

  /** A new config was accepted and is being served. */
  public void reloaded() {
    reloads.increment();
  }

  /** A config was refused. */
  public void refused() {
    refusals.increment();
  }

  /** Where the gauges read from. */
  public void gauges(IntSupplier connectedClients, IntSupplier serviceCount) {
    this.connected = connectedClients;
    this.services = serviceCount;
  }

  /** Where the CA's counters read from. */
  public void identityCounters(java.util.function.LongSupplier signed, java.util.function.LongSupplier refused) {
    this.certificatesSigned = signed;
    this.certificatesRefused = refused;
  }

  /** Where the etcd connection gauge reads from (1 connected, 0 not); only shown when set. */
  public void etcdGauge(IntSupplier connected) {
    this.etcdConnected = connected;
  }

  /** The Prometheus text exposition (format 0.0.4). */
  public String render() {
    StringBuilder sb = new StringBuilder(1024);
    gauge(sb, "meshlet_xds_connected_clients", "xDS streams connected now.", connected.getAsInt());
    gauge(sb, "meshlet_config_services", "Services in the config being served.", services.getAsInt());
    counter(sb, "meshlet_xds_streams_total", "xDS streams opened.", streams.sum());
    counter(sb, "meshlet_xds_pushes_total", "xDS responses sent to clients.", pushes.sum());
    counter(sb, "meshlet_xds_nacks_total", "xDS responses clients rejected.", nacks.sum());
    counter(sb, "meshlet_config_reloads_total", "Configs accepted and served, the first included.",
        reloads.sum());
    counter(sb, "meshlet_config_refusals_total", "Configs refused as invalid.", refusals.sum());
    counter(sb, "meshlet_ca_certificates_signed_total", "Workload certificates signed.",
        certificatesSigned.getAsLong());
    counter(sb, "meshlet_ca_requests_refused_total", "Certificate requests refused (bad token or CSR).",
        certificatesRefused.getAsLong());
    IntSupplier etcd = etcdConnected;
    if (etcd != null) {
      gauge(sb, "meshlet_etcd_connected", "1 when etcd answers, 0 while the last good config is served without it.",
          etcd.getAsInt());
    }
    return sb.toString();
  }

  private static void gauge(StringBuilder sb, String name, String help, long value) {
    sb.append("# HELP ").append(name).append(' ').append(help).append('\n')
        .append("# TYPE ").append(name).append(" gauge\n")
        .append(name).append(' ').append(value).append('\n');
  }

  private static void counter(StringBuilder sb, String name, String help, long value) {
    sb.append("# HELP ").append(name).append(' ').append(help).append('\n')
        .append("# TYPE ").append(name).append(" counter\n")
        .append(name).append(' ').append(value).append('\n');
  }
}
