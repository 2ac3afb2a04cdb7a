package io.meshlet.internal.net;

import java.util.Optional;

/**
 * An address written {@code host:port}: one reading of it for the client, the starter and the
 * control server. An IPv6 host is written in brackets ({@code [::1]:80}); any other host has no
 * colon and no whitespace; the port is decimal digits in 1..65535.
 */
public record HostPort(String host, int port) {

  /** What every message about a bad address says was expected. */
  public static final String EXPECTED = "host:port with a port in 1..65535, e.g. 127.0.0.1:9001";

  public HostPort {
    if (host == null || host.isEmpty() || host.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException("host: '" + host + "' (expected: a host name or address)");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 1..65535)");
    }
  }

  /** Reads {@code host:port}; empty when it is not one. */
  public static Optional<HostPort> parse(String text) {
    if (text == null) {
      return Optional.empty();
    }
    String host;
    String port;
    if (text.startsWith("[")) {
      int close = text.indexOf("]:");
      if (close < 2 || text.indexOf(']') != close) {
        return Optional.empty();
      }
      host = text.substring(1, close);
      port = text.substring(close + 2);
    } else {
      int colon = text.lastIndexOf(':');
      if (colon < 1 || text.indexOf(':') != colon) {
        return Optional.empty();
      }
      host = text.substring(0, colon);
      port = text.substring(colon + 1);
    }
    if (host.isEmpty() || host.chars().anyMatch(Character::isWhitespace) || port.isEmpty() || port.length() > 5
        || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return Optional.empty();
    }
    int p = Integer.parseInt(port);
    return p < 1 || p > 65535 ? Optional.empty() : Optional.of(new HostPort(host, p));
  }

  /** Reads {@code host:port}, or throws naming {@code what} (e.g. "control server"). */
  public static HostPort require(String what, String text) {
    return parse(text).orElseThrow(() ->
        new IllegalArgumentException(what + ": '" + text + "' (expected: " + EXPECTED + ")"));
  }

  /** {@code host:port}, an IPv6 host in brackets. */
  public static String format(String host, int port) {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  @Override
  public String toString() {
    return format(host, port);
  }
}
