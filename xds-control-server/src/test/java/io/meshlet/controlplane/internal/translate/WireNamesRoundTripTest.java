package io.meshlet.controlplane.internal.translate;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.MtlsMode;
import io.meshlet.config.RouteRule;
import io.meshlet.config.RouteTable;
import io.meshlet.internal.xds.ListenerResource;
import io.meshlet.internal.xds.ResourceParser;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The names the translator writes are the ones the client's parsers read: whatever the server
 * emits for a mesh goes through mesh-client-core's {@link ResourceParser} and comes out as the
 * services, clusters, subsets, labels, mTLS mode and SPIFFE IDs the mesh.yaml said.
 */
class WireNamesRoundTripTest {

  static final String MESH = """
      trustDomain: example.org
      mtls: { mode: strict }
      services:
        catalog:
          endpoints:
            - { address: 10.0.0.1:9001, labels: { version: v1 } }
            - { address: "[::1]:9002", labels: { version: v2 } }
          subsets: { v1: { version: v1 }, v2: { version: v2 } }
          routes:
            - match: { pathPrefix: / }
              to: [ { subset: v1, weight: 90 }, { subset: v2, weight: 10 } ]
          authorization: { allow: [ spiffe://example.org/service/frontend ] }
      """;

  @Test
  void whatTheTranslatorEmitsTheClientReadsBackUnderTheSameNames() throws Exception {
    XdsResources r = XdsTranslatorTest.translate(MESH);

    Map<String, ListenerResource> listeners = new java.util.LinkedHashMap<>();
    for (Listener l : r.listeners()) {
      listeners.put(l.getName(), ResourceParser.listener(l));
    }
    ListenerResource outbound = listeners.get("catalog");
    assertThat(outbound.inbound()).isFalse();
    assertThat(outbound.service()).isEqualTo("catalog");
    assertThat(listeners).containsKey("inbound|catalog");
    ListenerResource inbound = listeners.get("inbound|catalog");
    assertThat(inbound.inbound()).as("inbound|<service> is read as an inbound listener").isTrue();
    assertThat(inbound.service()).isEqualTo("catalog");
    assertThat(inbound.inboundPolicy().mtls()).as("the mTLS mode in the meshlet metadata").isEqualTo(MtlsMode.STRICT);
    assertThat(inbound.inboundPolicy().allows(java.util.Optional.of("spiffe://example.org/service/frontend"), "/", "GET"))
        .isTrue();

    RouteConfiguration rc = r.routes().stream().filter(x -> x.getName().equals(outbound.routeConfigName()))
        .findFirst().orElseThrow();
    RouteTable table = ResourceParser.routeConfiguration("catalog", rc, outbound.filters());
    Set<String> routedTo = table.rules().stream().flatMap(rule -> rule.clusters().stream())
        .map(RouteRule.WeightedCluster::cluster).collect(Collectors.toSet());
    Set<String> clusters = r.clusters().stream().map(Cluster::getName).collect(Collectors.toSet());
    assertThat(routedTo).containsExactlyInAnyOrder("catalog/v1", "catalog/v2");
    assertThat(clusters).containsAll(routedTo);

    for (Cluster c : r.clusters()) {
      ClusterConfig config = ResourceParser.cluster(c);
      assertThat(config.peerSpiffeIds()).containsExactly("spiffe://example.org/service/catalog");
    }
    for (ClusterLoadAssignment cla : r.endpoints()) {
      List<EndpointConfig> endpoints = ResourceParser.endpoints(cla);
      String subset = cla.getClusterName().contains("/") ? cla.getClusterName().substring("catalog/".length()) : null;
      assertThat(endpoints).isNotEmpty().allSatisfy(e -> {
        assertThat(e.labels()).as("labels read from the envoy.lb metadata").containsKey("version");
        if (subset != null) {
          assertThat(e.labels()).containsEntry("version", subset);
        }
      });
    }
    ClusterLoadAssignment all = r.endpoints().stream().filter(cla -> cla.getClusterName().equals("catalog"))
        .findFirst().orElseThrow();
    assertThat(ResourceParser.endpoints(all)).extracting(EndpointConfig::address)
        .as("host:port written and read with one rule, IPv6 in brackets")
        .containsExactly("10.0.0.1:9001", "[::1]:9002");
  }
}
