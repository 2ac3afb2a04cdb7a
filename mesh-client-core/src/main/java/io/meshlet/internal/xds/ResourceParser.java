package io.meshlet.internal.xds;

import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.RouteTable;
import java.util.List;
import java.util.Set;

/**
 * Turns Envoy v3 resources into Meshlet's config records, refusing what Meshlet cannot honour:
 * one parser per xDS type ({@link ListenerParser}, {@link RouteConfigurationParser},
 * {@link ClusterParser}, {@link ClusterLoadAssignmentParser}), HTTP filters read through the
 * {@link FilterRegistry}.
 *
 * <p>Every field that is set is either understood or reported: a resource with a field Meshlet
 * does not implement is refused with a message naming the field, so the client NACKs it instead
 * of silently doing something else. Messages follow the config error format, with xDS field
 * names: {@code route configuration 'catalog': virtual_hosts[0].routes[1].route.prefix_rewrite:
 * set (expected: only fields Meshlet implements: ...)}.
 *
 * <p>Stateless and thread-safe.
 */
public final class ResourceParser {

  private ResourceParser() {}

  /** LDS: a listener. */
  public static ListenerResource listener(Listener l) throws ResourceException {
    return ListenerParser.listener(l);
  }

  /**
   * RDS: a route configuration, as the route table of a service.
   *
   * @param service the service whose listener names this route configuration
   * @param filters the HTTP filters the listener enables
   */
  public static RouteTable routeConfiguration(String service, RouteConfiguration rc, Set<String> filters)
      throws ResourceException {
    return RouteConfigurationParser.routeConfiguration(service, rc, filters);
  }

  /** CDS: a cluster. */
  public static ClusterConfig cluster(Cluster c) throws ResourceException {
    return ClusterParser.cluster(c);
  }

  /** EDS: the endpoints of an assignment, with their zones, priorities and health. */
  public static List<EndpointConfig> endpoints(ClusterLoadAssignment cla) throws ResourceException {
    return ClusterLoadAssignmentParser.endpoints(cla);
  }

  /**
   * EDS: the overprovisioning factor of an assignment ({@code policy.overprovisioning_factor},
   * Envoy's default 140 when unset), which says when priority 0 spills over.
   */
  public static int overprovisioningFactor(ClusterLoadAssignment cla) throws ResourceException {
    return ClusterLoadAssignmentParser.assignment(cla).overprovisioningFactor();
  }
}
