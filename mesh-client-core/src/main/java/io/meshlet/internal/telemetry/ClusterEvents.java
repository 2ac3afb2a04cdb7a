package io.meshlet.internal.telemetry;

import io.meshlet.config.EndpointConfig;
import java.time.Duration;

/** Receives what happens to a cluster, for telemetry. Must be fast and never throw. */
@FunctionalInterface
public interface ClusterEvents {
  void ejected(String cluster, EndpointConfig endpoint, Duration forHowLong, String why);
}
