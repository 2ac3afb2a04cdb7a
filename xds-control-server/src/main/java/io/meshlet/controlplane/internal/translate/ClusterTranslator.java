package io.meshlet.controlplane.internal.translate;

import com.google.protobuf.Any;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.LoadBalancingPolicy;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import io.envoyproxy.envoy.config.core.v3.SelfConfigSource;
import io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig;
import io.envoyproxy.envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest;
import io.envoyproxy.envoy.extensions.load_balancing_policies.random.v3.Random;
import io.envoyproxy.envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash;
import io.envoyproxy.envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.meshlet.controlplane.intent.CircuitBreakerSpec;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.OutlierDetectionSpec;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.internal.spiffe.SpiffeIds;
import io.meshlet.internal.wire.WireNames;
import java.time.Duration;

/**
 * Clusters: load balancing policy, circuit breakers, outlier detection and upstream TLS, one cluster
 * per service and per subset.
 */
final class ClusterTranslator {

  private ClusterTranslator() {}

  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(1);

  /**
   * With mTLS on, calls to a service's clusters are encrypted and the server must present the
   * service's SPIFFE ID; the certificates come from the client's "meshlet" certificate provider.
   */
  static Cluster withTls(MeshConfig mesh, ServiceSpec service, Cluster cluster) {
    if (service.mtlsMode(mesh) == io.meshlet.controlplane.intent.MtlsSpec.Mode.OFF) {
      return cluster;
    }
    String id = SpiffeIds.service(mesh.trustDomain(), service.name());
    var provider = io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateProviderPluginInstance.newBuilder()
        .setInstanceName(WireNames.CERTIFICATE_PROVIDER);
    var tls = io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext.newBuilder()
        .setCommonTlsContext(io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext.newBuilder()
            .setTlsCertificateProviderInstance(provider.clone().setCertificateName("default"))
            .setValidationContext(io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext
                .newBuilder()
                .setCaCertificateProviderInstance(provider.clone().setCertificateName("ROOTCA"))
                .addMatchSubjectAltNames(StringMatcher.newBuilder().setExact(id))))
        .build();
    return cluster.toBuilder().setTransportSocket(io.envoyproxy.envoy.config.core.v3.TransportSocket.newBuilder()
        .setName("envoy.transport_sockets.tls").setTypedConfig(Any.pack(tls))).build();
  }

  /**
   * Whether a service's clusters report their load to this server ({@code lrs_server}): the one
   * place this is decided. Every cluster does: the console's traffic view reads the reports. Two
   * things hang on it: grpc-java counts requests in flight, for a {@code max_requests} circuit
   * breaker, only in clusters that report load; and when they do it records every call's load, a
   * cost on each call of an {@code xds:///} channel that JFR puts at 0.1% of the calling thread's
   * time (docs/benchmarks.md, "gRPC: where the calling thread's time goes"): too little to trade
   * the console's traffic figures for.
   */
  static boolean reportsLoad(ServiceSpec service) {
    return true;
  }

  static Cluster cluster(ServiceSpec service, String name) {
    Cluster.Builder b = Cluster.newBuilder()
        .setName(name)
        .setType(Cluster.DiscoveryType.EDS)
        .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(XdsTranslator.ads()).setServiceName(name))
        .setConnectTimeout(XdsTranslator.duration(CONNECT_TIMEOUT));
    b.setLoadBalancingPolicy(loadBalancingPolicy(service.loadBalancing()));
    service.circuitBreaker().ifPresent(cb -> b.setCircuitBreakers(circuitBreakers(cb)));
    if (reportsLoad(service)) {
      b.setLrsServer(ConfigSource.newBuilder().setSelf(SelfConfigSource.getDefaultInstance()));
    }
    service.outlierDetection().ifPresent(od -> b.setOutlierDetection(outlierDetection(od)));
    return b.build();
  }

  /** Envoy's ring hash defaults (min 1024); the max is grpc-java's cap, so every client builds the same ring. */
  static final long MIN_RING_SIZE = 1024;

  static final long MAX_RING_SIZE = 4096;

  /**
   * A service's load balancing as {@code load_balancing_policy}: the policy, then round robin.
   *
   * <p>A client takes the first policy of the list it implements (gRFC A52, Envoy), so a client
   * without least request or random (grpc-js, C-core) falls back to round robin instead of
   * refusing the cluster, as it does for {@code lb_policy: LEAST_REQUEST}.
   *
   * <p>{@code lb_policy} is left at its default, {@code ROUND_ROBIN}: it is all that gRPC C-core
   * reads before 1.55 (A52 is behind {@code GRPC_EXPERIMENTAL_XDS_CUSTOM_LB_CONFIG}, off, in
   * Debian's 1.51), and it is the fallback there too. Not {@code RING_HASH} for ring hash: C-core
   * 1.51's ring hash crashes the process on a pick (grpc/grpc#31766, fixed after 1.51.1), so those
   * clients get round robin, without affinity, instead of a crash. Every other client reads the list.
   *
   * <p>The endpoint-picking policy is not wrapped in {@code WrrLocality}: every assignment has one
   * locality, and Envoy does not implement {@code WrrLocality}.
   */
  static LoadBalancingPolicy loadBalancingPolicy(ServiceSpec.LoadBalancing lb) {
    LoadBalancingPolicy.Builder list = LoadBalancingPolicy.newBuilder();
    switch (lb) {
      case ROUND_ROBIN -> { }
      case LEAST_REQUEST -> list.addPolicies(lbPolicy("envoy.load_balancing_policies.least_request",
          Any.pack(LeastRequest.getDefaultInstance())));
      case RING_HASH -> list.addPolicies(lbPolicy("envoy.load_balancing_policies.ring_hash",
          Any.pack(RingHash.newBuilder()
              .setHashFunction(RingHash.HashFunction.XX_HASH)
              .setMinimumRingSize(com.google.protobuf.UInt64Value.of(MIN_RING_SIZE))
              .setMaximumRingSize(com.google.protobuf.UInt64Value.of(MAX_RING_SIZE))
              .build())));
      // grpc-java, grpc-js and C-core have no random policy; Meshlet's engine and Envoy do.
      case RANDOM -> list.addPolicies(lbPolicy("envoy.load_balancing_policies.random",
          Any.pack(Random.getDefaultInstance())));
    }
    return list.addPolicies(lbPolicy("envoy.load_balancing_policies.round_robin",
        Any.pack(RoundRobin.getDefaultInstance()))).build();
  }

  static LoadBalancingPolicy.Policy lbPolicy(String name, Any config) {
    return LoadBalancingPolicy.Policy.newBuilder()
        .setTypedExtensionConfig(TypedExtensionConfig.newBuilder().setName(name).setTypedConfig(config))
        .build();
  }

  static CircuitBreakers circuitBreakers(CircuitBreakerSpec spec) {
    return CircuitBreakers.newBuilder()
        .addThresholds(CircuitBreakers.Thresholds.newBuilder()
            .setPriority(RoutingPriority.DEFAULT)
            .setMaxRequests(UInt32Value.of(spec.maxRequests()))
            .setMaxPendingRequests(UInt32Value.of(spec.maxPendingRequests()))
            .setMaxRetries(UInt32Value.of(spec.maxRetries())))
        .build();
  }

  static OutlierDetection outlierDetection(OutlierDetectionSpec spec) {
    OutlierDetection.Builder b = OutlierDetection.newBuilder();
    if (spec.consecutive5xx() > 0) {
      b.setConsecutive5Xx(UInt32Value.of(spec.consecutive5xx())).setEnforcingConsecutive5Xx(UInt32Value.of(100));
    } else {
      // A gRPC service's (the parser refuses consecutive5xx there): Envoy enforces 5 when unset.
      b.setEnforcingConsecutive5Xx(UInt32Value.of(0));
    }
    b.setInterval(XdsTranslator.duration(spec.interval()))
        .setBaseEjectionTime(XdsTranslator.duration(spec.baseEjectionTime()))
        .setMaxEjectionPercent(UInt32Value.of(spec.maxEjectionPercent()))
        // Envoy enables success-rate ejection by default; the intent does not ask for it.
        .setEnforcingSuccessRate(UInt32Value.of(0));
    spec.failurePercentage().ifPresent(fp -> b
        .setFailurePercentageThreshold(UInt32Value.of(fp.threshold()))
        .setFailurePercentageMinimumHosts(UInt32Value.of(fp.minimumHosts()))
        .setFailurePercentageRequestVolume(UInt32Value.of(fp.requestVolume()))
        .setEnforcingFailurePercentage(UInt32Value.of(100)));
    return b.build();
  }
}
