package io.meshlet.controlplane.intent;

import io.meshlet.internal.net.HostPort;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One instance of a service.
 *
 * @param host an IP address or host name
 * @param port the TCP port, 1..65535
 * @param labels labels that subsets select on, e.g. {@code version: v1}; the label
 *     {@code topology.kubernetes.io/zone} is the instance's zone
 * @param healthy whether the instance takes calls; an unhealthy one is served as such (EDS
 *     {@code UNHEALTHY}): no client picks it, but it counts in its zone's healthy share
 */
public record EndpointSpec(String host, int port, Map<String, String> labels, boolean healthy) {

  /** A healthy instance. */
  public EndpointSpec(String host, int port, Map<String, String> labels) {
    this(host, port, labels, true);
  }

  public EndpointSpec {
    Objects.requireNonNull(host, "host");
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 1..65535)");
    }
    labels = Collections.unmodifiableMap(new LinkedHashMap<>(labels));
  }

  /** The instance's zone (its label {@code topology.kubernetes.io/zone}); empty without one. */
  public String zone() {
    return labels.getOrDefault(io.meshlet.internal.wire.WireNames.ZONE_LABEL, "");
  }

  /** {@code host:port}, with brackets around an IPv6 host. */
  public String address() {
    return HostPort.format(host, port);
  }
}
