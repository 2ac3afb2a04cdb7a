package io.meshlet.config;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The client's whole view of the mesh at one moment: every service's routes and every cluster
 * with its endpoints. Immutable; a new config from the control plane becomes a new snapshot,
 * swapped in atomically.
 *
 * @param services route tables by service name
 * @param clusters clusters by name
 * @param inbound by service: what its own servers enforce; services not listed are open
 * @param version the control plane versions this was built from, e.g. {@code L=..,R=..,C=..,E=..}
 * @param builtAt when the snapshot was built
 */
public record MeshSnapshot(
    Map<String, RouteTable> services,
    Map<String, ClusterConfig> clusters,
    Map<String, InboundPolicy> inbound,
    String version,
    Instant builtAt) {

  public MeshSnapshot {
    services = Map.copyOf(services);
    clusters = Map.copyOf(clusters);
    inbound = Map.copyOf(inbound);
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(builtAt, "builtAt");
  }

  /** A snapshot with no inbound policies. */
  public MeshSnapshot(Map<String, RouteTable> services, Map<String, ClusterConfig> clusters, String version,
      Instant builtAt) {
    this(services, clusters, Map.of(), version, builtAt);
  }

  /** The snapshot before any config arrived. */
  public static MeshSnapshot empty() {
    return new MeshSnapshot(Map.of(), Map.of(), Map.of(), "", Instant.EPOCH);
  }

  /** What a service's servers enforce on calls coming in; {@link InboundPolicy#open()} if nothing. */
  public InboundPolicy inbound(String service) {
    return inbound.getOrDefault(service, InboundPolicy.open());
  }

  /**
   * Whether a caller may make a request of a service, by the service's authorization; true when
   * it has none.
   */
  public boolean allows(String service, Optional<String> callerSpiffeId, String path, String method) {
    return inbound(service).allows(callerSpiffeId, path, method);
  }

  public Optional<RouteTable> service(String name) {
    return Optional.ofNullable(services.get(name));
  }

  public Optional<ClusterConfig> cluster(String name) {
    return Optional.ofNullable(clusters.get(name));
  }

  /**
   * Checks that every cluster a route names exists.
   *
   * @return the dangling references, each naming what is missing, what refers to it and what
   *     exists; empty when consistent
   */
  public List<String> danglingReferences() {
    List<String> problems = new ArrayList<>();
    String existing = null;
    for (RouteTable table : new TreeMap<>(services).values()) {
      for (RouteRule rule : table.rules()) {
        for (RouteRule.WeightedCluster wc : rule.clusters()) {
          if (!clusters.containsKey(wc.cluster())) {
            if (existing == null) {
              existing = existingClusters();
            }
            problems.add("cluster '" + wc.cluster() + "' referred to by route '" + rule.name()
                + "' does not exist (existing: " + existing + ")");
          }
        }
      }
    }
    return problems;
  }

  /** The first clusters by name, enough to spot a misspelling without a line as long as the mesh. */
  private String existingClusters() {
    int shown = 20;
    String first = String.join(", ", new TreeMap<>(clusters).keySet().stream().limit(shown).toList());
    return clusters.size() <= shown ? first : first + " and " + (clusters.size() - shown) + " more";
  }
}
