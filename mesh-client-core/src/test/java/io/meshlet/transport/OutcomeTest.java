package io.meshlet.transport;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OutcomeTest {

  /** A gRPC status is classified as the HTTP status Envoy maps it to, so both transports count alike. */
  @ParameterizedTest(name = "gRPC {0} ({1}) is {2}")
  @CsvSource({
      "0, OK, RESPONSE",
      "1, CANCELLED, RESPONSE",
      "2, UNKNOWN, SERVER_ERROR",
      "3, INVALID_ARGUMENT, RESPONSE",
      "4, DEADLINE_EXCEEDED, TIMEOUT",
      "5, NOT_FOUND, RESPONSE",
      "7, PERMISSION_DENIED, RESPONSE",
      "8, RESOURCE_EXHAUSTED, RESPONSE",
      "12, UNIMPLEMENTED, SERVER_ERROR",
      "13, INTERNAL, SERVER_ERROR",
      "14, UNAVAILABLE, GATEWAY_ERROR",
      "15, DATA_LOSS, SERVER_ERROR",
      "16, UNAUTHENTICATED, RESPONSE",
  })
  void aGrpcStatusIsClassifiedAsItsHttpStatus(int code, String name, Outcome expected) {
    assertThat(Outcome.ofGrpcStatus(code)).isEqualTo(expected);
  }
}
