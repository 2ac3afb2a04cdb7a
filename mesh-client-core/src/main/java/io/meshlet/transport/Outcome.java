package io.meshlet.transport;

import io.meshlet.config.GrpcStatusMapping;

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

  /**
   * The outcome of a gRPC call that ended with this status code, as the HTTP side would see the
   * HTTP status Envoy maps it to: OK and the caller's errors (CANCELLED, INVALID_ARGUMENT, NOT_FOUND,
   * PERMISSION_DENIED, RESOURCE_EXHAUSTED, ...) are a {@link #RESPONSE}, UNAVAILABLE a
   * {@link #GATEWAY_ERROR} (503), UNKNOWN, UNIMPLEMENTED, INTERNAL and DATA_LOSS a
   * {@link #SERVER_ERROR}, and DEADLINE_EXCEEDED a {@link #TIMEOUT} (the caller's deadline ran out).
   */
  public static Outcome ofGrpcStatus(int code) {
    return code == 4 ? TIMEOUT : ofStatus(GrpcStatusMapping.httpStatus(code));
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
