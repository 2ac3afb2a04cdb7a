package io.meshlet.internal.xds;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The HTTP filters Meshlet understands, by name (grpc-java's {@code FilterRegistry}). Both the
 * listener's {@code http_filters} and a route's {@code typed_per_filter_config} are read through
 * it. The order of registration is the order NACK messages list them in.
 */
final class FilterRegistry {

  /** Router, fault, local rate limit, and RBAC (inbound listeners). */
  static final FilterRegistry DEFAULT = new FilterRegistry(List.of(
      new RouterFilter(), new FaultFilter(), new LocalRateLimitFilter(), new RbacFilter()));

  private final Map<String, HttpFilterType> byName = new LinkedHashMap<>();

  FilterRegistry(List<HttpFilterType> filters) {
    for (HttpFilterType f : filters) {
      if (byName.putIfAbsent(f.name(), f) != null) {
        throw new IllegalArgumentException("filter " + f.name() + " registered twice");
      }
    }
  }

  /** The filter of this name, or null. */
  HttpFilterType get(String name) {
    return byName.get(name);
  }

  /** The names of the filters a client's listener may hold, for messages. */
  String listenerFilterNames() {
    return byName.values().stream().filter(f -> !f.inboundOnly()).map(HttpFilterType::name)
        .collect(Collectors.joining(", "));
  }

  /** The names of the filters a route may override, for messages. */
  String overridableNames() {
    return byName.values().stream().filter(HttpFilterType::overridable).map(HttpFilterType::name)
        .collect(Collectors.joining(", "));
  }
}
