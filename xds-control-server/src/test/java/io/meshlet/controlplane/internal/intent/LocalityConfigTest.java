package io.meshlet.controlplane.internal.intent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.meshlet.controlplane.MeshConfigParser;
import io.meshlet.controlplane.intent.LocalitySpec;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.intent.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** mesh.yaml's {@code locality: { preferLocal, failoverThreshold }}: read, defaulted, refused. */
class LocalityConfigTest {

  private static String yaml(String locality) {
    return """
        services:
          catalog:
            endpoints:
              - { address: 10.0.0.1:80, labels: { topology.kubernetes.io/zone: a } }
              - { address: 10.0.0.2:80, labels: { topology.kubernetes.io/zone: b } }
            locality: %s
        """.formatted(locality);
  }

  @Test
  void offByDefaultAndReadWithOrWithoutThePercentSign() throws Exception {
    MeshConfig none = MeshConfigParser.parse("services:\n  catalog: {}\n", "mesh.yaml");
    assertThat(none.services().get("catalog").locality()).isEqualTo(LocalitySpec.off());

    assertThat(MeshConfigParser.parse(yaml("{ preferLocal: true }"), "mesh.yaml").services().get("catalog").locality())
        .isEqualTo(new LocalitySpec(true, 70));
    assertThat(MeshConfigParser.parse(yaml("{ preferLocal: true, failoverThreshold: 50% }"), "mesh.yaml")
        .services().get("catalog").locality()).isEqualTo(new LocalitySpec(true, 50));
    assertThat(MeshConfigParser.parse(yaml("{ preferLocal: true, failoverThreshold: 100 }"), "mesh.yaml")
        .services().get("catalog").locality()).isEqualTo(new LocalitySpec(true, 100));
  }

  @Test
  void aServiceWithoutStaticEndpointsMayPreferLocalItsZonesComeAtRunTime() throws Exception {
    MeshConfig mesh = MeshConfigParser.parse("services:\n  catalog:\n    locality: { preferLocal: true }\n", "mesh.yaml");
    assertThat(mesh.services().get("catalog").locality().preferLocal()).isTrue();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "{ preferLocal: true, failoverThreshold: 0% }|mesh.yaml:6: service 'catalog': locality.failoverThreshold: 0% (expected: a whole percentage in 1..100, e.g. 70%)",
      "{ preferLocal: true, failoverThreshold: 101 }|mesh.yaml:6: service 'catalog': locality.failoverThreshold: 101 (expected: a whole percentage in 1..100, e.g. 70%)",
      "{ preferLocal: true, failoverThreshold: 70.5% }|mesh.yaml:6: service 'catalog': locality.failoverThreshold: 70.5% (expected: a whole percentage in 1..100, e.g. 70%)",
      "{ preferLocal: yes please }|mesh.yaml:6: service 'catalog': locality.preferLocal: yes please (expected: true or false)",
      "{ preferLocal: true, zone: a }|mesh.yaml:6: service 'catalog': locality.zone: unknown field (expected: one of preferLocal, failoverThreshold)",
  })
  void badValuesAreRefusedWithTheFieldAndWhatWasExpected(String locality, String expected) {
    MeshConfigException e = catchThrowableOfType(MeshConfigException.class,
        () -> MeshConfigParser.parse(yaml(locality), "mesh.yaml"));
    assertThat(e).isNotNull();
    assertThat(e.violations()).extracting(Violation::toString).containsExactly(expected);
  }

  @Test
  void preferLocalOnAServiceWhoseListedEndpointsHaveNoZoneIsRefused() {
    MeshConfigException e = catchThrowableOfType(MeshConfigException.class, () -> MeshConfigParser.parse("""
        services:
          catalog:
            endpoints: [ { address: 10.0.0.1:80 }, { address: 10.0.0.2:80 } ]
            locality:
              preferLocal: true
        """, "mesh.yaml"));
    assertThat(e).isNotNull();
    assertThat(e.violations()).extracting(Violation::toString).containsExactly(
        "mesh.yaml:5: service 'catalog': locality.preferLocal: true (expected: endpoints with a zone (labels: {"
            + " topology.kubernetes.io/zone: <zone> }): none of this service's 2 endpoints has one, so no caller"
            + " could stay in its zone)");
  }

  @Test
  void theIntentTreeKeepsTheSetting() throws Exception {
    MeshConfig mesh = MeshConfigParser.parse(yaml("{ preferLocal: true, failoverThreshold: 60% }"), "mesh.yaml");
    assertThat(IntentTree.of(mesh).toString()).contains("locality={preferLocal=true, failoverThreshold=60%}");
  }
}
