package io.meshlet.controlplane.internal;

import java.util.Optional;

/**
 * The control server's one home for reading {@code host:port} (an IPv6 host in brackets). Writing
 * one is {@code EndpointSpec.address()}, in the public intent model, which depends on nothing.
 *
 * <p>Two readings, kept apart on purpose so that neither changes behaviour: {@link #parse} is
 * mesh.yaml's strict one (an IPv6 host must be bracketed); {@link #parseLenient} is what
 * self-registration has always accepted (the last colon splits, brackets are dropped). One class
 * so that mesh-client-core's shared home for addresses ({@code io.meshlet.internal.*}) can replace
 * both at once when both sides are merged.
 *
 * @param host the host, without brackets
 * @param port the port, 1..65535
 */
public record HostPort(String host, int port) {

  /** Parses {@code host:port} or {@code [v6]:port}; empty when it is not one, or the port is not 1..65535. */
  public static Optional<HostPort> parse(String address) {
    String host;
    String portText;
    if (address.startsWith("[")) {
      int close = address.indexOf("]:");
      host = close > 0 ? address.substring(1, close) : "";
      portText = close > 0 ? address.substring(close + 2) : "";
    } else {
      int colon = address.lastIndexOf(':');
      host = colon > 0 && address.indexOf(':') == colon ? address.substring(0, colon) : "";
      portText = colon > 0 ? address.substring(colon + 1) : "";
    }
    int port = port(portText);
    if (host.isEmpty() || host.chars().anyMatch(Character::isWhitespace) || port < 1 || port > 65535) {
      return Optional.empty();
    }
    return Optional.of(new HostPort(host, port));
  }

  /**
   * Parses an address split at its last colon, brackets dropped from the host; empty when the host
   * is empty or the port is not 1..65535.
   */
  public static Optional<HostPort> parseLenient(String address) {
    int colon = address.lastIndexOf(':');
    int port = colon > 0 ? port(address.substring(colon + 1)) : -1;
    String host = colon > 0 ? address.substring(0, colon).replace("[", "").replace("]", "") : "";
    if (host.isEmpty() || port < 1 || port > 65535) {
      return Optional.empty();
    }
    return Optional.of(new HostPort(host, port));
  }

  private static int port(String text) {
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
