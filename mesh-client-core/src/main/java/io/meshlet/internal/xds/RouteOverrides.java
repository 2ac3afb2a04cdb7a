package io.meshlet.internal.xds;

import io.meshlet.config.FaultPolicy;
import io.meshlet.config.RateLimitPolicy;
import java.util.Optional;

/** What a route's per-filter overrides set, filled in by the filters while the route is read. */
final class RouteOverrides {
  Optional<FaultPolicy> fault = Optional.empty();
  Optional<RateLimitPolicy> rateLimit = Optional.empty();
}
