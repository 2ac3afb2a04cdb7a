package io.meshlet.config;

import io.meshlet.internal.net.HostPort;
import java.util.Map;
import java.util.Objects;

/**
 * One instance of a cluster, as the control plane assigned it.
 *
 * @param host IP address or host name
 * @param port TCP port
 * @param weight load balancing weight, at least 1
 * @param labels the instance's labels (Envoy's {@code envoy.lb} metadata)
 * @param zone the zone of its EDS locality; empty without one
 * @param priority its EDS priority: 0 is used first, higher ones when too little of 0 is healthy
 * @param healthy false when EDS says it is not ({@code UNHEALTHY}, {@code DRAINING}, ...): never
 *     picked, but counted in its priority's healthy share
 */
public record EndpointConfig(String host, int port, int weight, Map<String, String> labels, String zone,
    int priority, boolean healthy) {

  /** A healthy endpoint at priority 0, in no zone. */
  public EndpointConfig(String host, int port, int weight, Map<String, String> labels) {
    this(host, port, weight, labels, "", 0, true);
  }

  public EndpointConfig {
    Objects.requireNonNull(host, "host");
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 1..65535)");
    }
    if (weight < 1) {
      throw new IllegalArgumentException("weight: " + weight + " (expected: >= 1)");
    }
    labels = Map.copyOf(labels);
    Objects.requireNonNull(zone, "zone");
    if (priority < 0) {
      throw new IllegalArgumentException("priority: " + priority + " (expected: >= 0)");
    }
  }

  /** {@code host:port}, with brackets around an IPv6 host. */
  public String address() {
    return HostPort.format(host, port);
  }
}
