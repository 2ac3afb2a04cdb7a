package io.meshlet.transport;

import java.io.IOException;

/**
 * Sends one try of a call to the endpoint the engine picked. Implemented by each transport.
 *
 * @param <T> the transport's response type
 */
@FunctionalInterface
public interface TrySender<T> {

  /**
   * Sends the call to {@code t.endpoint()} within {@code t.timeout()}, adding {@code t.headers()}.
   *
   * @throws IOException when no response arrived; {@link java.net.ConnectException} and
   *     {@link java.net.SocketTimeoutException} are told apart from other failures
   */
  T send(TryPlan t) throws IOException;
}
