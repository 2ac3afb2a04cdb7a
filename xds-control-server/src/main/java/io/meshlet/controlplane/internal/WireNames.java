package io.meshlet.controlplane.internal;

/**
 * The names the control server puts on the wire that clients read back: resource names, metadata
 * keys and the certificate provider instance. Each is spelled here and nowhere else on the server.
 *
 * <p>One class on purpose: mesh-client-core reads the same names; when its shared home
 * ({@code io.meshlet.internal.*}) is merged, this class is the one place to point at it.
 */
public final class WireNames {

  /** The node metadata field holding a workload's own instance (self-registration). */
  public static final String INSTANCE_METADATA = "meshlet.instance";

  /** Endpoint metadata namespace holding an endpoint's labels, as Envoy's subset LB reads them. */
  public static final String LABELS_METADATA = "envoy.lb";

  /** The filter metadata namespace of an inbound listener, holding the service's inbound policy. */
  public static final String FILTER_METADATA = "meshlet";

  /** The certificate provider instance name the generated gRPC bootstraps declare. */
  public static final String CERTIFICATE_PROVIDER = "meshlet";

  private WireNames() {}

  /** The cluster holding every endpoint of a service. */
  public static String cluster(String service) {
    return service;
  }

  /** The cluster holding the endpoints of one subset of a service. */
  public static String cluster(String service, String subset) {
    return service + "/" + subset;
  }

  /** The listener (and its route configuration) carrying a service's inbound policy. */
  public static String inboundListener(String service) {
    return "inbound|" + service;
  }

  /** The listener name grpc-java's XdsServerBuilder asks for (the bootstrap's template). */
  public static String serverListener(String address) {
    return "grpc/server?xds.resource.listening_address=" + address;
  }
}
