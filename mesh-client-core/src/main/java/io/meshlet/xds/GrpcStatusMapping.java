package io.meshlet.xds;

/** Envoy's mapping of gRPC status codes to HTTP statuses, for faults aborting HTTP calls. */
final class GrpcStatusMapping {

  private GrpcStatusMapping() {}

  static int httpStatus(int grpcStatus) {
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
