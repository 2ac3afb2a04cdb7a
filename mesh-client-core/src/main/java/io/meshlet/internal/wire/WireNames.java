package io.meshlet.internal.wire;

/**
 * The names the control server writes into xDS resources and the client reads back: one
 * spelling for both sides, so a rename cannot leave one side behind.
 */
public final class WireNames {

  /** The prefix of an inbound listener's name: {@code inbound|<service>}. */
  public static final String INBOUND_PREFIX = "inbound|";
  /** The xDS node metadata field in which a workload registers its own instance. */
  public static final String INSTANCE_METADATA = "meshlet.instance";
  /** The keys of the instance metadata struct. */
  public static final String INSTANCE_ADDRESS = "address";
  public static final String INSTANCE_LABELS = "labels";
  /** The endpoint metadata namespace that carries an endpoint's labels (Envoy's subset LB namespace). */
  public static final String LABELS_METADATA = "envoy.lb";
  /**
   * The endpoint label holding an instance's zone (Kubernetes' well-known label): set from an
   * EndpointSlice's zone, or written in mesh.yaml or registration labels; the control server puts
   * endpoints with one zone in one EDS locality of that zone.
   */
  public static final String ZONE_LABEL = "topology.kubernetes.io/zone";
  /** The listener metadata namespace in which the control server states a service's mTLS mode. */
  public static final String MESHLET_METADATA = "meshlet";
  /** The key of the mTLS mode in {@link #MESHLET_METADATA}: off, permissive or strict. */
  public static final String MTLS_KEY = "mtls";
  /** The name of the certificate provider instance clusters and listeners refer to. */
  public static final String CERTIFICATE_PROVIDER = "meshlet";

  /**
   * The response header with which a service's inbound authorization marks a 403 it answered itself
   * ({@code x-meshlet-denied: true}), so that the caller's client can tell the mesh's refusal from
   * the application's own 403 and report it ({@link LoadMetrics#DENIED}).
   */
  public static final String DENIED_HEADER = "x-meshlet-denied";

  /** HTTP filter names, as Envoy spells them. */
  public static final String FAULT_FILTER = "envoy.filters.http.fault";
  public static final String RATE_LIMIT_FILTER = "envoy.filters.http.local_ratelimit";
  public static final String RBAC_FILTER = "envoy.filters.http.rbac";
  public static final String ROUTER_FILTER = "envoy.filters.http.router";

  private WireNames() {}

  /**
   * The listener name template grpc-java's {@code XdsServerBuilder} fills with the address it binds
   * ({@code server_listener_resource_name_template} in the bootstrap Meshlet writes).
   */
  public static final String SERVER_LISTENER_TEMPLATE = "grpc/server?xds.resource.listening_address=%s";

  /** The inbound listener (and route configuration) name of a service. */
  public static String inbound(String service) {
    return INBOUND_PREFIX + service;
  }

  /** The cluster holding every endpoint of a service: the service's name. */
  public static String cluster(String service) {
    return service;
  }

  /** The cluster holding the endpoints of one subset of a service: {@code <service>/<subset>}. */
  public static String cluster(String service, String subset) {
    return service + "/" + subset;
  }

  /** The listener a gRPC server bound to {@code address} ({@code host:port}) asks for. */
  public static String serverListener(String address) {
    return SERVER_LISTENER_TEMPLATE.replace("%s", address);
  }
}
