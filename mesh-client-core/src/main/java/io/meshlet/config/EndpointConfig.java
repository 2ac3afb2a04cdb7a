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
 */
public record EndpointConfig(String host, int port, int weight, Map<String, String> labels) {

  public EndpointConfig {
    Objects.requireNonNull(host, "host");
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 1..65535)");
    }
    if (weight < 1) {
      throw new IllegalArgumentException("weight: " + weight + " (expected: >= 1)");
    }
    labels = Map.copyOf(labels);
  }

  /** {@code host:port}, with brackets around an IPv6 host. */
  public String address() {
    return HostPort.format(host, port);
  }
}
