package io.meshlet.controlplane.internal.translate;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.meshlet.controlplane.internal.serving.AdsService;
import io.meshlet.controlplane.internal.serving.ResourceSnapshot;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One translated mesh: the Envoy resources of each type and their content-hash versions.
 *
 * <p>{@code zoneEndpoints}: for callers in a zone, the endpoint assignments that differ from
 * {@code endpoints} (zone-aware routing: the zone's own localities at priority 0, the rest at
 * priority 1); a caller in a zone not named here, or with no zone, gets {@code endpoints}.
 *
 * <p>A version is a hash of the deterministic serialization of every resource of its type, so
 * two servers (or one server before and after a restart) given the same intent report the same
 * versions, and clients see no churn when they reconnect.
 */
public record XdsResources(
    List<Listener> listeners,
    List<RouteConfiguration> routes,
    List<Cluster> clusters,
    List<ClusterLoadAssignment> endpoints,
    String listenersVersion,
    String routesVersion,
    String clustersVersion,
    String endpointsVersion,
    Map<String, List<ClusterLoadAssignment>> zoneEndpoints) {

  public XdsResources {
    listeners = List.copyOf(listeners);
    routes = List.copyOf(routes);
    clusters = List.copyOf(clusters);
    endpoints = List.copyOf(endpoints);
    Map<String, List<ClusterLoadAssignment>> zones = new TreeMap<>();
    zoneEndpoints.forEach((zone, cla) -> zones.put(zone, List.copyOf(cla)));
    zoneEndpoints = Collections.unmodifiableMap(zones);
  }

  /** Resources without zone views. */
  public XdsResources(List<Listener> listeners, List<RouteConfiguration> routes, List<Cluster> clusters,
      List<ClusterLoadAssignment> endpoints, String listenersVersion, String routesVersion, String clustersVersion,
      String endpointsVersion) {
    this(listeners, routes, clusters, endpoints, listenersVersion, routesVersion, clustersVersion, endpointsVersion,
        Map.of());
  }

  /** Resources with versions computed from their content. */
  public static XdsResources of(
      List<Listener> listeners,
      List<RouteConfiguration> routes,
      List<Cluster> clusters,
      List<ClusterLoadAssignment> endpoints) {
    return of(listeners, routes, clusters, endpoints, Map.of());
  }

  /** Resources with zone views, with versions computed from their content. */
  public static XdsResources of(
      List<Listener> listeners,
      List<RouteConfiguration> routes,
      List<Cluster> clusters,
      List<ClusterLoadAssignment> endpoints,
      Map<String, List<ClusterLoadAssignment>> zoneEndpoints) {
    return new XdsResources(listeners, routes, clusters, endpoints,
        hash(listeners), hash(routes), hash(clusters), hash(endpoints), zoneEndpoints);
  }

  /**
   * One version for the whole set: a hash of the four type versions (and of the zone views, when
   * there are any, so that a change seen only by one zone's callers is a new version too).
   */
  public String version() {
    StringBuilder all = new StringBuilder(listenersVersion + routesVersion + clustersVersion + endpointsVersion);
    zoneEndpoints.forEach((zone, cla) -> all.append('\n').append(zone).append('=').append(hash(cla)));
    return ResourceSnapshot.sha256(all.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** What the ADS server serves: each resource packed once, with its own version and its type's. */
  public ResourceSnapshot toSnapshot() {
    return ResourceSnapshot.builder()
        .add(AdsService.CLUSTER, clustersVersion, clusters, Cluster::getName)
        .add(AdsService.ENDPOINTS, endpointsVersion, endpoints, ClusterLoadAssignment::getClusterName)
        .add(AdsService.LISTENER, listenersVersion, listeners, Listener::getName)
        .add(AdsService.ROUTE, routesVersion, routes, RouteConfiguration::getName)
        .zoneViews(AdsService.ENDPOINTS, zoneEndpoints, ClusterLoadAssignment::getClusterName)
        .build();
  }

  /**
   * Checks that every route configuration, cluster and endpoint assignment a resource names
   * exists. java-control-plane's own check does not follow API listeners, so this one does.
   *
   * @throws IllegalStateException naming what is missing, what refers to it and what exists
   */
  public void ensureConsistent() {
    java.util.Set<String> routeNames = new java.util.TreeSet<>();
    routes.forEach(r -> routeNames.add(r.getName()));
    java.util.Set<String> clusterNames = new java.util.TreeSet<>();
    clusters.forEach(c -> clusterNames.add(c.getName()));
    java.util.Set<String> assignmentNames = new java.util.TreeSet<>();
    endpoints.forEach(e -> assignmentNames.add(e.getClusterName()));
    for (Listener l : listeners) {
      if (!l.hasApiListener()) {
        continue; // a server listener: its route configuration is inline
      }
      String rds;
      try {
        rds = l.getApiListener().getApiListener()
            .unpack(io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3
                .HttpConnectionManager.class)
            .getRds().getRouteConfigName();
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new IllegalStateException("listener '" + l.getName() + "' has no HttpConnectionManager", e);
      }
      require(routeNames, rds, "route configuration", "listener '" + l.getName() + "'");
    }
    for (RouteConfiguration rc : routes) {
      rc.getVirtualHostsList().forEach(vh -> vh.getRoutesList().forEach(r -> {
        String owner = "route configuration '" + rc.getName() + "'";
        if (r.getRoute().hasWeightedClusters()) {
          r.getRoute().getWeightedClusters().getClustersList()
              .forEach(w -> require(clusterNames, w.getName(), "cluster", owner));
        } else {
          require(clusterNames, r.getRoute().getCluster(), "cluster", owner);
        }
      }));
    }
    for (Cluster c : clusters) {
      require(assignmentNames, c.getEdsClusterConfig().getServiceName(), "endpoint assignment",
          "cluster '" + c.getName() + "'");
    }
  }

  private static void require(java.util.Set<String> existing, String name, String kind, String owner) {
    if (!existing.contains(name)) {
      throw new IllegalStateException(kind + " '" + name + "' referred to by " + owner
          + " does not exist (existing: " + String.join(", ", existing) + ")");
    }
  }

  static String hash(List<? extends Message> resources) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try {
      for (Message m : resources) {
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        out.useDeterministicSerialization();
        out.writeMessageNoTag(m);
        out.flush();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return ResourceSnapshot.sha256(bytes.toByteArray());
  }
}
