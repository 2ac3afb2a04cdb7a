package io.meshlet.transport;

import io.meshlet.config.EndpointConfig;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One try of a call, as the engine decided it.
 *
 * @param endpoint where to send it
 * @param timeout how long this try may take: the per-try timeout or what is left of the route's
 * @param number 1 for the first try, 2 for the first retry, ...
 * @param headers headers to add (trace context)
 * @param resent told of each transparent resend, see {@link #resentTransparently}
 */
public record TryPlan(EndpointConfig endpoint, Duration timeout, int number, Map<String, String> headers,
    Consumer<IOException> resent) {

  /** A try whose transparent resends are reported nowhere. */
  public TryPlan(EndpointConfig endpoint, Duration timeout, int number, Map<String, String> headers) {
    this(endpoint, timeout, number, headers, e -> {});
  }

  /**
   * The transport sent this try again, within the same try, because its send failed on a pooled
   * connection that turned out dead before any response arrived (the request never reached the
   * application). Not a retry: it is not counted as one, takes nothing from the retry budget and
   * is not an outcome for outlier detection; telemetry reports it on its own.
   */
  public void resentTransparently(IOException failure) {
    resent.accept(failure);
  }
}
