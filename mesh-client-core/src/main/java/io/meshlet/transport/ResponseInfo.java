package io.meshlet.transport;

/**
 * What the engine needs to know of a transport's responses.
 *
 * @param <T> the transport's response type
 */
public interface ResponseInfo<T> {

  /** The HTTP status of a response. */
  int status(T response);

  /**
   * A response header's value, or null. The engine reads {@code grpc-status} for the gRPC retry
   * conditions ({@code unavailable}, ...), as Envoy does: from the headers of a trailers-only
   * response. The default knows no headers.
   */
  default String header(T response, String name) {
    return null;
  }

  /** Releases a response that will not be returned because the call is retried. */
  void discard(T response);

  /** Classifies a failed try; the default tells connect failures and timeouts apart. */
  default Outcome classify(java.io.IOException e) {
    if (e instanceof java.net.ConnectException || e instanceof java.net.NoRouteToHostException
        || e instanceof java.net.UnknownHostException) {
      return Outcome.CONNECT_FAILURE;
    }
    if (e instanceof java.net.SocketTimeoutException || e instanceof java.io.InterruptedIOException) {
      String m = String.valueOf(e.getMessage()).toLowerCase(java.util.Locale.ROOT);
      return m.contains("connect") ? Outcome.CONNECT_FAILURE : Outcome.TIMEOUT;
    }
    return Outcome.RESET;
  }
}
