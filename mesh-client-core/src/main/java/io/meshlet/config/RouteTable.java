package io.meshlet.config;

import java.util.List;
import java.util.Objects;

/**
 * How calls to one service are routed: its rules, tried in order, the first match winning.
 *
 * @param service the service (and xDS listener) name
 * @param rules the route rules
 */
public record RouteTable(String service, List<RouteRule> rules) {

  public RouteTable {
    Objects.requireNonNull(service, "service");
    rules = List.copyOf(rules);
  }
}
