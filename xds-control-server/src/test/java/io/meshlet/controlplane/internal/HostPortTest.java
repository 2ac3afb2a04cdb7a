package io.meshlet.controlplane.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HostPortTest {

  @Test
  void theStrictReadingWantsBracketsAroundAnIpv6HostAndAPortInRange() {
    assertThat(HostPort.parse("127.0.0.1:9001")).contains(new HostPort("127.0.0.1", 9001));
    assertThat(HostPort.parse("[::1]:9001")).contains(new HostPort("::1", 9001));
    assertThat(HostPort.parse("::1:9001")).isEmpty();
    assertThat(HostPort.parse("host:0")).isEmpty();
    assertThat(HostPort.parse("host:65536")).isEmpty();
    assertThat(HostPort.parse("host")).isEmpty();
    assertThat(HostPort.parse(":80")).isEmpty();
    assertThat(HostPort.parse("a b:80")).isEmpty();
  }

  @Test
  void theLenientReadingSplitsAtTheLastColonAndDropsBrackets() {
    assertThat(HostPort.parseLenient("::1:9001")).contains(new HostPort("::1", 9001));
    assertThat(HostPort.parseLenient("[::1]:9001")).contains(new HostPort("::1", 9001));
    assertThat(HostPort.parseLenient("10.0.0.7:8080")).contains(new HostPort("10.0.0.7", 8080));
    assertThat(HostPort.parseLenient("10.0.0.7")).isEmpty();
    assertThat(HostPort.parseLenient("10.0.0.7:x")).isEmpty();
  }
}
