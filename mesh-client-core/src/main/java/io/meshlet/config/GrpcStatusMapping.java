package io.meshlet.config;

/**
 * Envoy's mapping of gRPC status codes to HTTP statuses: for faults aborting HTTP calls with a
 * gRPC status, and for classifying the outcome of gRPC calls as the HTTP side classifies them.
 */
public final class GrpcStatusMapping {

  private GrpcStatusMapping() {}

  /** The HTTP status Envoy answers for this gRPC status code (14 UNAVAILABLE -> 503, ...). */
  public static int httpStatus(int grpcStatus) {
    return switch (grpcStatus) {
      case 0 -> 200;
      case 1 -> 499;
      case 3, 9, 11 -> 400;
      case 4 -> 504;
      case 5 -> 404;
      case 6, 10 -> 409;
      case 7 -> 403;
      case 8 -> 429;
      case 12 -> 501;
      case 14 -> 503;
      case 16 -> 401;
      default -> 500;
    };
  }
}
