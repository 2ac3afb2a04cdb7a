package io.meshlet.internal.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class HostPortTest {

  @ParameterizedTest
  @CsvSource({
      "127.0.0.1:9001, 127.0.0.1, 9001",
      "catalog.internal:80, catalog.internal, 80",
      "[::1]:80, ::1, 80",
      "[fe80::1%eth0]:65535, fe80::1%eth0, 65535"})
  void readsHostAndPortAndWritesThemBackAlike(String text, String host, int port) {
    HostPort hp = HostPort.parse(text).orElseThrow();
    assertThat(hp.host()).isEqualTo(host);
    assertThat(hp.port()).isEqualTo(port);
    assertThat(hp.toString()).isEqualTo(text);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "catalog", ":80", "host:", "host:0", "host:65536", "host:+80", "host:8o",
      "::1:80", "[::1]", "[::1]80", "[]:80", "a b:80", "host:123456", "[::1]:80]"})
  void refusesWhatIsNotHostColonPort(String text) {
    assertThat(HostPort.parse(text)).isEmpty();
  }

  @org.junit.jupiter.api.Test
  void aRefusalNamesWhatWasReadAndWhatWasExpected() {
    assertThatThrownBy(() -> HostPort.require("control server", "catalog"))
        .hasMessage("control server: 'catalog' (expected: host:port with a port in 1..65535, e.g. 127.0.0.1:9001)");
  }
}
