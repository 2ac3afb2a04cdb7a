package io.meshlet.internal.xds;

import static io.meshlet.internal.xds.ProtoFields.duration;
import static io.meshlet.internal.xds.ProtoFields.enforcing;
import static io.meshlet.internal.xds.ProtoFields.fieldNames;
import static io.meshlet.internal.xds.ProtoFields.isZero;
import static io.meshlet.internal.xds.ProtoFields.only;
import static io.meshlet.internal.xds.ProtoFields.perMillion;
import static io.meshlet.internal.xds.ProtoFields.u32;
import static io.meshlet.internal.xds.ProtoFields.validRegex;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.LoadBalancingPolicy;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import io.envoyproxy.envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest;
import io.envoyproxy.envoy.extensions.load_balancing_policies.random.v3.Random;
import io.envoyproxy.envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash;
import io.envoyproxy.envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.meshlet.internal.spiffe.SpiffeIds;
import io.meshlet.config.CircuitBreakerPolicy;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.OutlierPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Parses CDS: an Envoy {@code Cluster} into a {@link ClusterConfig}, refusing what Meshlet cannot honour. */
final class ClusterParser {

  private ClusterParser() {}

  static ClusterConfig cluster(Cluster c) throws ResourceException {
    Errors e = new Errors("cluster '" + c.getName() + "'");
    only(c, e, "", "name", "type", "eds_cluster_config", "connect_timeout", "lb_policy",
        "ring_hash_lb_config", "least_request_lb_config", "load_balancing_policy", "circuit_breakers",
        "outlier_detection", "lrs_server", "transport_socket");
    List<String> peerIds = c.hasTransportSocket() ? upstreamTls(c.getTransportSocket(), e) : List.of();
    if (c.getType() != Cluster.DiscoveryType.EDS) {
      e.add("type", c.getType().name(), "EDS");
    } else if (!c.getEdsClusterConfig().getEdsConfig().hasAds()) {
      e.add("eds_cluster_config.eds_config", c.getEdsClusterConfig().getEdsConfig()
          .getConfigSourceSpecifierCase().name().toLowerCase(), "ads");
    }
    // Meshlet subscribes to endpoints by cluster name.
    String edsName = c.getEdsClusterConfig().getServiceName();
    if (!edsName.isEmpty() && !edsName.equals(c.getName())) {
      e.add("eds_cluster_config.service_name", edsName, "empty or the cluster name '" + c.getName() + "'");
    }
    ClusterConfig.LoadBalancing lb = ClusterConfig.LoadBalancing.ROUND_ROBIN;
    if (c.hasLoadBalancingPolicy()) {
      lb = loadBalancingPolicy(c.getLoadBalancingPolicy(), e);
    } else {
      switch (c.getLbPolicy()) {
        case ROUND_ROBIN -> lb = ClusterConfig.LoadBalancing.ROUND_ROBIN;
        case LEAST_REQUEST -> lb = ClusterConfig.LoadBalancing.LEAST_REQUEST;
        case RING_HASH -> lb = ClusterConfig.LoadBalancing.RING_HASH;
        case RANDOM -> lb = ClusterConfig.LoadBalancing.RANDOM;
        default -> e.add("lb_policy", c.getLbPolicy().name(), "ROUND_ROBIN, LEAST_REQUEST, RING_HASH or RANDOM");
      }
    }
    CircuitBreakerPolicy limits = CircuitBreakerPolicy.defaults();
    if (c.hasCircuitBreakers()) {
      CircuitBreakers cb = c.getCircuitBreakers();
      only(cb, e, "circuit_breakers", "thresholds");
      for (int i = 0; i < cb.getThresholdsCount(); i++) {
        CircuitBreakers.Thresholds t = cb.getThresholds(i);
        String tp = "circuit_breakers.thresholds[" + i + "]";
        only(t, e, tp, "priority", "max_requests", "max_pending_requests", "max_retries", "max_connections");
        if (t.getPriority() == RoutingPriority.DEFAULT) {
          CircuitBreakerPolicy d = CircuitBreakerPolicy.defaults();
          // uint32 thresholds; control planes write 4294967295 for "unlimited".
          int maxRequests = t.hasMaxRequests() ? u32(t.getMaxRequests().getValue()) : d.maxRequests();
          if (maxRequests < 1) {
            e.add(tp + ".max_requests", "0", ">= 1");
            maxRequests = 1;
          }
          limits = new CircuitBreakerPolicy(maxRequests,
              t.hasMaxPendingRequests() ? u32(t.getMaxPendingRequests().getValue()) : d.maxPendingRequests(),
              t.hasMaxRetries() ? u32(t.getMaxRetries().getValue()) : d.maxRetries());
        }
      }
    }
    Optional<OutlierPolicy> outlier = Optional.empty();
    if (c.hasOutlierDetection()) {
      OutlierDetection od = c.getOutlierDetection();
      only(od, e, "outlier_detection", "consecutive_5xx", "enforcing_consecutive_5xx", "interval",
          "base_ejection_time", "max_ejection_percent", "enforcing_success_rate",
          "consecutive_gateway_failure", "enforcing_consecutive_gateway_failure",
          "failure_percentage_threshold", "failure_percentage_minimum_hosts",
          "failure_percentage_request_volume", "enforcing_failure_percentage");
      if (od.hasEnforcingSuccessRate() ? od.getEnforcingSuccessRate().getValue() > 0 : true) {
        e.add("outlier_detection.enforcing_success_rate",
            od.hasEnforcingSuccessRate() ? String.valueOf(od.getEnforcingSuccessRate().getValue()) : "unset (100)",
            "0: Meshlet implements consecutive-error ejection, not success-rate ejection");
      }
      int consecutive5xx = od.hasConsecutive5Xx() ? u32(od.getConsecutive5Xx().getValue()) : 5;
      int enforcing5xx = enforcing(od.hasEnforcingConsecutive5Xx(), od.getEnforcingConsecutive5Xx(), 100,
          "outlier_detection.enforcing_consecutive_5xx", e);
      int enforcingGateway = enforcing(od.hasEnforcingConsecutiveGatewayFailure(),
          od.getEnforcingConsecutiveGatewayFailure(), 0, "outlier_detection.enforcing_consecutive_gateway_failure", e);
      int gateway = enforcingGateway == 0 ? 0
          : od.hasConsecutiveGatewayFailure() ? u32(od.getConsecutiveGatewayFailure().getValue()) : 5;
      Optional<OutlierPolicy.FailurePercentage> failurePercentage = Optional.empty();
      if (enforcing(od.hasEnforcingFailurePercentage(), od.getEnforcingFailurePercentage(), 0,
          "outlier_detection.enforcing_failure_percentage", e) > 0) {
        failurePercentage = Optional.of(new OutlierPolicy.FailurePercentage(
            od.hasFailurePercentageThreshold()
                ? Math.min(100, u32(od.getFailurePercentageThreshold().getValue())) : 85,
            od.hasFailurePercentageMinimumHosts() ? u32(od.getFailurePercentageMinimumHosts().getValue()) : 5,
            od.hasFailurePercentageRequestVolume() ? u32(od.getFailurePercentageRequestVolume().getValue()) : 50));
      }
      outlier = Optional.of(new OutlierPolicy(
          enforcing5xx > 0 ? consecutive5xx : 0,
          gateway,
          od.hasInterval() ? duration(od.getInterval()) : Duration.ofSeconds(10),
          od.hasBaseEjectionTime() ? duration(od.getBaseEjectionTime()) : Duration.ofSeconds(30),
          od.hasMaxEjectionPercent() ? Math.min(100, u32(od.getMaxEjectionPercent().getValue())) : 10,
          failurePercentage));
    }
    ClusterConfig.RingSize ringSize = lb == ClusterConfig.LoadBalancing.RING_HASH
        ? ringSize(c, e) : ClusterConfig.RingSize.defaults();
    e.throwIfAny();
    return new ClusterConfig(c.getName(), lb, limits, outlier, List.of(), peerIds, ringSize);
  }

  /** grpc-java caps both ring sizes at 4096 (RingHashOptions), so both clients build one ring. */
  static final long RING_SIZE_CAP = 4096;

  /**
   * A ring hash cluster's ring size, read as grpc-java reads it (LoadBalancerConfigFactory,
   * RingHashLoadBalancerProvider): from the RingHash policy, or the older ring_hash_lb_config;
   * 1024 and 4096 when unset, each capped at 4096; only XX_HASH.
   */
  private static ClusterConfig.RingSize ringSize(Cluster c, Errors e) {
    Long min = null;
    Long max = null;
    if (c.hasLoadBalancingPolicy()) {
      for (int i = 0; i < c.getLoadBalancingPolicy().getPoliciesCount(); i++) {
        Any config = c.getLoadBalancingPolicy().getPolicies(i).getTypedExtensionConfig().getTypedConfig();
        if (config.is(RingHash.class)) {
          RingHash rh;
          try {
            rh = config.unpack(RingHash.class);
          } catch (InvalidProtocolBufferException ex) {
            e.add("load_balancing_policy.policies[" + i + "]", config.getTypeUrl(), "a RingHash");
            return ClusterConfig.RingSize.defaults();
          }
          if (rh.getHashFunction() != RingHash.HashFunction.XX_HASH) {
            e.add("load_balancing_policy.policies[" + i + "].hash_function", rh.getHashFunction().name(), "XX_HASH");
          }
          min = rh.hasMinimumRingSize() ? rh.getMinimumRingSize().getValue() : null;
          max = rh.hasMaximumRingSize() ? rh.getMaximumRingSize().getValue() : null;
          break;
        }
      }
    } else if (c.hasRingHashLbConfig()) {
      var rh = c.getRingHashLbConfig();
      if (rh.getHashFunction() != Cluster.RingHashLbConfig.HashFunction.XX_HASH) {
        e.add("ring_hash_lb_config.hash_function", rh.getHashFunction().name(), "XX_HASH");
      }
      min = rh.hasMinimumRingSize() ? rh.getMinimumRingSize().getValue() : null;
      max = rh.hasMaximumRingSize() ? rh.getMaximumRingSize().getValue() : null;
    }
    long lo = Math.min(min == null ? 1024 : min, RING_SIZE_CAP);
    long hi = Math.min(max == null ? RING_SIZE_CAP : max, RING_SIZE_CAP);
    if (lo <= 0 || hi <= 0 || lo > hi) {
      e.add("ring size", min + ".." + max, "1 <= minimum_ring_size <= maximum_ring_size");
      return ClusterConfig.RingSize.defaults();
    }
    return new ClusterConfig.RingSize(lo, hi);
  }

  /** The SPIFFE IDs an mTLS cluster's servers must present (its exact match_subject_alt_names). */
  private static List<String> upstreamTls(io.envoyproxy.envoy.config.core.v3.TransportSocket socket, Errors e) {
    String p = "transport_socket";
    only(socket, e, p, "name", "typed_config");
    io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext tls;
    try {
      tls = socket.getTypedConfig().unpack(io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext.class);
    } catch (InvalidProtocolBufferException ex) {
      e.add(p + ".typed_config", socket.getTypedConfig().getTypeUrl(), "an UpstreamTlsContext");
      return List.of();
    }
    only(tls, e, p + ".typed_config", "common_tls_context");
    var common = tls.getCommonTlsContext();
    only(common, e, p + ".typed_config.common_tls_context", "tls_certificate_provider_instance", "validation_context");
    var validation = common.getValidationContext();
    only(validation, e, p + ".typed_config.common_tls_context.validation_context", "match_subject_alt_names",
        "ca_certificate_provider_instance");
    List<String> ids = new ArrayList<>();
    for (StringMatcher m : validation.getMatchSubjectAltNamesList()) {
      if (m.getMatchPatternCase() != StringMatcher.MatchPatternCase.EXACT || !m.getExact().startsWith(SpiffeIds.SCHEME)) {
        e.add(p + ".typed_config.common_tls_context.validation_context.match_subject_alt_names",
            m.toString().strip(), "exact SPIFFE IDs");
      } else {
        ids.add(m.getExact());
      }
    }
    if (ids.isEmpty()) {
      e.add(p + ".typed_config.common_tls_context.validation_context.match_subject_alt_names", "empty",
          "the SPIFFE IDs the servers must present");
    }
    return ids;
  }

  /**
   * The first policy of the list that Meshlet implements, as gRPC (A52) and Envoy pick it; the
   * ones before it are skipped. Control servers send this list now, and {@code lb_policy} before.
   */
  private static ClusterConfig.LoadBalancing loadBalancingPolicy(LoadBalancingPolicy policy, Errors e) {
    for (LoadBalancingPolicy.Policy p : policy.getPoliciesList()) {
      Any config = p.getTypedExtensionConfig().getTypedConfig();
      if (config.is(RoundRobin.class)) {
        return ClusterConfig.LoadBalancing.ROUND_ROBIN;
      } else if (config.is(LeastRequest.class)) {
        return ClusterConfig.LoadBalancing.LEAST_REQUEST;
      } else if (config.is(RingHash.class)) {
        return ClusterConfig.LoadBalancing.RING_HASH;
      } else if (config.is(Random.class)) {
        return ClusterConfig.LoadBalancing.RANDOM;
      }
    }
    e.add("load_balancing_policy", "no policy Meshlet implements",
        "a list including envoy.load_balancing_policies.round_robin, .least_request, .ring_hash or .random");
    return ClusterConfig.LoadBalancing.ROUND_ROBIN;
  }
}
