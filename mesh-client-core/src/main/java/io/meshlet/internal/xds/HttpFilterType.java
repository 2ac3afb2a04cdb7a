package io.meshlet.internal.xds;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.meshlet.config.InboundPolicy;
import java.util.List;

/**
 * One HTTP filter Meshlet understands, as grpc-java's {@code Filter.Provider} is one: how its
 * listener-level config ({@code http_filters[].typed_config}) and its per-route override
 * ({@code typed_per_filter_config}) are read. Registered in {@link FilterRegistry}. To add a
 * filter: implement this, register it there, and have the policy engine honour what it reads.
 */
interface HttpFilterType {

  /** The filter's name in the listener's chain, the key of its per-route overrides. */
  String name();

  /** The full protobuf name of its {@code typed_config}. */
  String typeName();

  /** Whether it is read on inbound listeners only (what a service's own servers enforce). */
  default boolean inboundOnly() {
    return false;
  }

  /**
   * Its listener-level settings, which must be empty (they would apply to every route; Meshlet
   * reads settings per route); null when the filter has none to check.
   */
  default Message listenerSettings(Any typedConfig) throws InvalidProtocolBufferException {
    return null;
  }

  /** Whether a route may override it ({@code typed_per_filter_config}). */
  default boolean overridable() {
    return false;
  }

  /** Reads a route's override into {@code out}, reporting what is wrong to {@code e}. */
  default void applyOverride(Any config, String path, Errors e, RouteOverrides out) {
    throw new UnsupportedOperationException(name() + " has no per-route override");
  }

  /** For an {@link #inboundOnly()} filter: the grants it says the service's servers enforce. */
  default List<InboundPolicy.Grant> inboundGrants(Any typedConfig, String path, Errors e) {
    throw new UnsupportedOperationException(name() + " is not an inbound filter");
  }
}
