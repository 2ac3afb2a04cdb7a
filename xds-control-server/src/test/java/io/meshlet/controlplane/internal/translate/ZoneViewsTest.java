package io.meshlet.controlplane.internal.translate;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.meshlet.controlplane.intent.EndpointSpec;
import io.meshlet.controlplane.intent.LocalitySpec;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.controlplane.internal.serving.AdsService;
import io.meshlet.controlplane.internal.serving.ResourceSnapshot;
import io.meshlet.internal.wire.WireNames;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The control server's per-zone views of a {@code preferLocal} service: a caller in zone Z gets Z's
 * locality at priority 0 and the others at priority 1, unless Z's healthy share is below the
 * threshold (then everyone's assignment, all at priority 0, which is also what callers in no zone get).
 */
class ZoneViewsTest {

  private static EndpointSpec in(String zone, int n, boolean healthy) {
    return new EndpointSpec("10.0." + zone.charAt(0) + "." + n, 8080, Map.of(WireNames.ZONE_LABEL, zone, "v", "1"),
        healthy);
  }

  private static MeshConfig mesh(LocalitySpec locality, List<EndpointSpec> endpoints) throws Exception {
    MeshConfig base = XdsTranslatorTest.mesh("services:\n  catalog:\n    subsets: { v1: { v: '1' } }\n");
    ServiceSpec s = base.services().get("catalog");
    ServiceSpec zoned = new ServiceSpec(s.name(), s.protocol(), endpoints, s.subsets(), s.loadBalancing(),
        s.hashHeader(), s.circuitBreaker(), s.outlierDetection(), s.routes(), s.authorization(), s.mtlsMode(), locality);
    Map<String, ServiceSpec> services = new LinkedHashMap<>();
    services.put("catalog", zoned);
    return new MeshConfig(base.trustDomain(), base.mtls(), services);
  }

  private static List<String> priorities(ClusterLoadAssignment cla) {
    List<String> out = new ArrayList<>();
    for (LocalityLbEndpoints l : cla.getEndpointsList()) {
      out.add(l.getLocality().getZone() + "@" + l.getPriority() + "x" + l.getLbEndpointsCount());
    }
    return out;
  }

  @Test
  void aCallerInAZoneGetsItsZoneFirstAndTheOthersAsFailover() throws Exception {
    XdsResources r = XdsTranslator.translate(mesh(new LocalitySpec(true, 70),
        List.of(in("a", 1, true), in("a", 2, true), in("b", 1, true), in("c", 1, true))));

    assertThat(r.zoneEndpoints()).containsOnlyKeys("a", "b", "c");
    ClusterLoadAssignment forA = r.zoneEndpoints().get("a").stream()
        .filter(c -> c.getClusterName().equals("catalog")).findFirst().orElseThrow();
    assertThat(priorities(forA)).containsExactly("a@0x2", "b@1x1", "c@1x1");
    assertThat(forA.getPolicy().getOverprovisioningFactor().getValue()).as("ceil(10000 / 70)").isEqualTo(143);
    assertThat(r.zoneEndpoints().get("a")).extracting(ClusterLoadAssignment::getClusterName)
        .as("the subset cluster too").containsExactly("catalog", "catalog/v1");
    // Everyone else: today's assignment, every zone at priority 0, no policy.
    assertThat(priorities(XdsTranslatorTest.assignment(r, "catalog"))).containsExactly("a@0x2", "b@0x1", "c@0x1");
    assertThat(XdsTranslatorTest.assignment(r, "catalog").hasPolicy()).isFalse();
  }

  @Test
  void belowTheThresholdTheZonesViewIsEveryonesAndUnhealthyEndpointsAreServedAsSuch() throws Exception {
    // Zone a: 2 of 3 healthy (66%) under a 70% threshold; zone b: 1 of 1.
    XdsResources r = XdsTranslator.translate(mesh(new LocalitySpec(true, 70),
        List.of(in("a", 1, true), in("a", 2, true), in("a", 3, false), in("b", 1, true))));

    assertThat(r.zoneEndpoints()).containsOnlyKeys("b");
    assertThat(XdsTranslatorTest.assignment(r, "catalog").getEndpoints(0).getLbEndpointsList())
        .extracting(e -> e.getHealthStatus())
        .containsExactly(HealthStatus.HEALTHY, HealthStatus.HEALTHY, HealthStatus.UNHEALTHY);

    XdsResources at60 = XdsTranslator.translate(mesh(new LocalitySpec(true, 60),
        List.of(in("a", 1, true), in("a", 2, true), in("a", 3, false), in("b", 1, true))));
    assertThat(at60.zoneEndpoints()).as("66%% >= 60%%").containsOnlyKeys("a", "b");
  }

  @Test
  void withoutPreferLocalThereAreNoViews() throws Exception {
    XdsResources r = XdsTranslator.translate(mesh(LocalitySpec.off(), List.of(in("a", 1, true), in("b", 1, true))));
    assertThat(r.zoneEndpoints()).isEmpty();
  }

  @Test
  void theSnapshotServesEachZoneItsViewAndEveryoneElseTheCommonAssignment() throws Exception {
    XdsResources r = XdsTranslator.translate(mesh(new LocalitySpec(true, 70),
        List.of(in("a", 1, true), in("b", 1, true))));
    ResourceSnapshot s = r.toSnapshot();

    ResourceSnapshot.TypeResources common = s.type(AdsService.ENDPOINTS);
    ResourceSnapshot.TypeResources forA = s.type(AdsService.ENDPOINTS, "a");
    assertThat(s.type(AdsService.ENDPOINTS, "")).isSameAs(common);
    assertThat(s.type(AdsService.ENDPOINTS, "elsewhere")).isSameAs(common);
    assertThat(forA.version()).isNotEqualTo(common.version()).isNotEqualTo(s.type(AdsService.ENDPOINTS, "b").version());
    assertThat(forA.byName().get("catalog").version()).isNotEqualTo(common.byName().get("catalog").version());
    assertThat(s.type(AdsService.CLUSTER, "a")).as("only endpoints have views").isSameAs(s.type(AdsService.CLUSTER));

    // A change only the zones' callers see (the threshold, so the overprovisioning factor) is still
    // a new version of the whole, so that the server publishes it.
    XdsResources at60 = XdsTranslator.translate(mesh(new LocalitySpec(true, 60),
        List.of(in("a", 1, true), in("b", 1, true))));
    assertThat(at60.endpointsVersion()).isEqualTo(r.endpointsVersion());
    assertThat(at60.version()).isNotEqualTo(r.version());
  }
}
