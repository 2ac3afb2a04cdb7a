package io.meshlet.transport;

import io.meshlet.config.RouteRule;

/**
 * Where the mesh sends one call: the route it matched and the cluster picked from the route's
 * weighted clusters. From {@link MeshCalls#route}; pass it back to {@link MeshCalls#execute}.
 */
public interface MeshRoute {

  /** The service called. */
  String service();

  /** The route the call matched. */
  RouteRule rule();

  /** The cluster the call goes to; empty when the route names none the mesh has. */
  String clusterName();

  /** Whether the cluster's endpoints are reached over mTLS. */
  boolean mtls();
}
