package io.meshlet.internal.spiffe;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SpiffeIdsTest {

  @Test
  void buildsTheIdsMeshletIssues() {
    assertThat(SpiffeIds.service("example.org", "catalog")).isEqualTo("spiffe://example.org/service/catalog");
    assertThat(SpiffeIds.trustDomain("example.org")).isEqualTo("spiffe://example.org");
    assertThat(SpiffeIds.ID.matcher(SpiffeIds.service("example.org", "catalog")).matches()).isTrue();
  }

  @Test
  void theTrustDomainIsWhatLiesBetweenTheSchemeAndThePath() {
    assertThat(SpiffeIds.trustDomainOf("spiffe://example.org/service/catalog")).isEqualTo("example.org");
    assertThat(SpiffeIds.trustDomainOf("spiffe://example.org")).isEqualTo("example.org");
    assertThat(ControlPlaneTls.isControlServer(ControlPlaneTls.controlServerId("example.org"))).isTrue();
    assertThat(ControlPlaneTls.isControlServer("spiffe://example.org/x" + ControlPlaneTls.controlServerId("a")
        .substring("spiffe://a".length()))).isFalse();
    assertThat(ControlPlaneTls.isControlServer("spiffe://example.org/service/catalog")).isFalse();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> SpiffeIds.trustDomainOf("https://example.org/x"))
        .hasMessage("SPIFFE ID: 'https://example.org/x' (expected: spiffe://<trust domain>/<path>)");
  }

  @ParameterizedTest
  @ValueSource(strings = {"spiffe://example.org/service/catalog", "spiffe://cluster.local/ns/default/sa/web",
      "spiffe://a-b.c/x:y@z%20"})
  void anIdIsATrustDomainAndAPath(String id) {
    assertThat(SpiffeIds.ID.matcher(id).matches()).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"spiffe://example.org", "spiffe://example.org/", "spiffe://Example.org/x",
      "https://example.org/x", "spiffe:///x", "spiffe://example.org//x", "spiffe://example.org/a b"})
  void refusesWhatIsNotAnId(String id) {
    assertThat(SpiffeIds.ID.matcher(id).matches()).isFalse();
  }
}
