package io.meshlet.policy;

/** How one try ended, in the terms Envoy's retry and outlier detection conditions use. */
public enum Outcome {
  /** A response that is not a server error. */
  RESPONSE,
  /** A 5xx response other than 502, 503, 504. */
  SERVER_ERROR,
  /** A 502, 503 or 504 response. */
  GATEWAY_ERROR,
  /** The connection could not be made. */
  CONNECT_FAILURE,
  /** The connection broke before a whole response arrived. */
  RESET,
  /** The try ran out of time. */
  TIMEOUT,
  /** The server refused the stream (HTTP/2 REFUSED_STREAM). */
  REFUSED_STREAM;

  /** The outcome of a response with this HTTP status. */
  public static Outcome ofStatus(int status) {
    if (status == 502 || status == 503 || status == 504) {
      return GATEWAY_ERROR;
    }
    return status >= 500 ? SERVER_ERROR : RESPONSE;
  }

  /** Whether this counts as an error for the endpoint (Envoy: 5xx or a locally seen failure). */
  public boolean isFailure() {
    return this != RESPONSE;
  }

  /** Whether this is a gateway failure in Envoy's sense (502/503/504 or a local failure). */
  public boolean isGatewayFailure() {
    return this != RESPONSE && this != SERVER_ERROR;
  }
}
