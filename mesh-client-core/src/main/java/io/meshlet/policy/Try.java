package io.meshlet.policy;

import io.meshlet.config.EndpointConfig;
import java.time.Duration;
import java.util.Map;

/**
 * One try of a call, as the engine decided it.
 *
 * @param endpoint where to send it
 * @param timeout how long this try may take: the per-try timeout or what is left of the route's
 * @param number 1 for the first try, 2 for the first retry, ...
 * @param headers headers to add (trace context)
 */
public record Try(EndpointConfig endpoint, Duration timeout, int number, Map<String, String> headers) {}
