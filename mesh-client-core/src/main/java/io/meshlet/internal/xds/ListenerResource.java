package io.meshlet.internal.xds;

import io.meshlet.config.InboundPolicy;
import java.util.Set;

/**
 * A parsed listener: the service and the route configuration it uses; for an inbound listener
 * ({@code inbound|<service>}), what the service's own servers enforce.
 */
public record ListenerResource(String name, String service, String routeConfigName, Set<String> filters,
    boolean inbound, InboundPolicy inboundPolicy) {}
