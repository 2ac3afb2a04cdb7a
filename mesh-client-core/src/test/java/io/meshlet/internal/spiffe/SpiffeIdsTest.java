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
