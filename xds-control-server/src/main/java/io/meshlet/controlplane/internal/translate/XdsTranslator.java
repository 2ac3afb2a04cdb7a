package io.meshlet.controlplane.internal.translate;

import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.meshlet.controlplane.intent.EndpointSpec;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.internal.wire.WireNames;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Translates the mesh intent into Envoy v3 resources that both a stock gRPC xDS client and
 * Meshlet's own policy engine obey.
 *
 * <p>Per service {@code s}: a listener {@code s} (an API listener, so {@code xds:///s} works),
 * a route configuration {@code s}, an EDS cluster {@code s} with every endpoint and one cluster
 * {@code s/<subset>} per subset, each with its endpoint assignment. Where grpc-java and Envoy
 * read different fields for one meaning (a route timeout), both are set.
 *
 * <p>Encodings are chosen so that every supported xDS client reads them: grpc-java, grpc-js-xds,
 * gRPC C-core from 1.51 (Debian's python3-grpcio), Envoy and Meshlet's own client. Where a newer
 * field has an older equivalent that all of them read, the older one is used (header matchers);
 * where clients differ in what they implement, an ordered fallback list is used (load balancing).
 * docs/compatibility.md has the table and the sources each choice was read from.
 *
 * <p>Pure and deterministic: the same intent always gives byte-identical resources.
 */
public final class XdsTranslator {

  private XdsTranslator() {}

  /** Translates the whole mesh. */
  public static XdsResources translate(MeshConfig mesh) {
    List<Listener> listeners = new ArrayList<>();
    List<RouteConfiguration> routes = new ArrayList<>();
    List<Cluster> clusters = new ArrayList<>();
    List<ClusterLoadAssignment> assignments = new ArrayList<>();
    java.util.Map<String, List<ClusterLoadAssignment>> zoneAssignments = new java.util.TreeMap<>();
    // One server listener per address; services sharing an address share its inbound policy
    // (the parser refuses a config where their authorization differs).
    java.util.Map<String, ServiceSpec> serverAddresses = new java.util.LinkedHashMap<>();
    for (ServiceSpec service : mesh.services().values()) {
      listeners.add(ListenerTranslator.listener(service));
      if (service.authorization().isPresent() || service.mtlsMode(mesh) != io.meshlet.controlplane.intent.MtlsSpec.Mode.OFF) {
        listeners.add(ListenerTranslator.inboundListener(service, service.mtlsMode(mesh)));
      }
      if (service.protocol() == ServiceSpec.Protocol.GRPC) {
        for (EndpointSpec e : service.endpoints()) {
          // grpc-java names the listener after the address it binds: the endpoint's, or 0.0.0.0.
          serverAddresses.putIfAbsent(e.address(), service);
          serverAddresses.putIfAbsent("0.0.0.0:" + e.port(), service);
        }
      }
      routes.add(RouteTranslator.routeConfiguration(service));
      clusters.add(ClusterTranslator.withTls(mesh, service, ClusterTranslator.cluster(service, WireNames.cluster(service.name()))));
      assignments.add(EndpointTranslator.assignment(WireNames.cluster(service.name()), service.endpoints()));
      zoneViews(service, WireNames.cluster(service.name()), service.endpoints(), zoneAssignments);
      for (String subset : service.subsets().keySet()) {
        String name = WireNames.cluster(service.name(), subset);
        clusters.add(ClusterTranslator.withTls(mesh, service, ClusterTranslator.cluster(service, name)));
        assignments.add(EndpointTranslator.assignment(name, service.endpointsOf(subset)));
        zoneViews(service, name, service.endpointsOf(subset), zoneAssignments);
      }
    }
    serverAddresses.forEach((address, service) -> listeners.add(ListenerTranslator.serverListener(mesh, service, address)));
    return XdsResources.of(listeners, routes, clusters, assignments, zoneAssignments);
  }

  /**
   * Zone-aware routing ({@code locality.preferLocal}): for every zone the service's instances are
   * in, the assignment of {@code cluster} that callers in that zone are served, when it differs
   * from everyone's ({@link EndpointTranslator#zoneView}).
   */
  private static void zoneViews(ServiceSpec service, String cluster, List<EndpointSpec> endpoints,
      java.util.Map<String, List<ClusterLoadAssignment>> out) {
    if (!service.locality().preferLocal()) {
      return;
    }
    java.util.Set<String> zones = new java.util.TreeSet<>();
    service.endpoints().forEach(e -> zones.add(e.zone()));
    zones.remove("");
    for (String zone : zones) {
      EndpointTranslator.zoneView(cluster, endpoints, zone, service.locality())
          .ifPresent(cla -> out.computeIfAbsent(zone, z -> new ArrayList<>()).add(cla));
    }
  }

  static ConfigSource ads() {
    return ConfigSource.newBuilder()
        .setAds(AggregatedConfigSource.getDefaultInstance())
        .setResourceApiVersion(ApiVersion.V3)
        .build();
  }

  static FractionalPercent percent(double percent) {
    return FractionalPercent.newBuilder()
        .setNumerator((int) Math.round(percent * 10_000))
        .setDenominator(FractionalPercent.DenominatorType.MILLION)
        .build();
  }

  static com.google.protobuf.Duration duration(Duration d) {
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(d.getSeconds())
        .setNanos(d.getNano())
        .build();
  }
}
