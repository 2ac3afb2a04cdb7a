package io.meshlet.controlplane.internal.source;

import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.controlplane.intent.Violation;
import io.meshlet.controlplane.internal.metrics.ServerMetrics;
import io.meshlet.controlplane.internal.serving.AdsService;
import io.meshlet.controlplane.internal.translate.XdsResources;
import io.meshlet.controlplane.internal.translate.XdsTranslator;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The intent being served and the last one refused. Every accepted config is translated and
 * published to the ADS server as one snapshot for all clients.
 *
 * <p>Thread-safe: changes are serialized; readers see immutable {@link Served} values.
 */
public final class MeshState {

  private static final Logger log = LoggerFactory.getLogger(MeshState.class);

  /**
   * What is served now.
   *
   * @param config the intent as loaded, without registered instances
   * @param effective the intent with registered instances merged in: what is translated
   */
  public record Served(MeshConfig config, MeshConfig effective, XdsResources resources, String source, Instant at) {
    public String version() {
      return resources.version();
    }
  }

  /** A config that was refused, and why. */
  public record Refusal(String source, List<Violation> violations, Instant at) {
    public Refusal {
      violations = List.copyOf(violations);
    }
  }

  private final AdsService ads;
  private final ServerMetrics metrics;
  private final Clock clock;
  private final Supplier<List<Registrations.Instance>> registrations;
  private volatile Supplier<List<KubernetesSource.KubeEndpoint>> kubernetes = List::of;
  private volatile List<String> kubernetesIgnored = List.of();
  private volatile Served served;
  private volatile Refusal lastRefusal;
  private final ConfigHistory history =
      new ConfigHistory();

  /**
   * @param registrations the registered instances to merge into the intent: this server's own
   *     ({@link Registrations#instances()}), or, with etcd, every replica's in key order
   */
  public MeshState(AdsService ads, ServerMetrics metrics, Clock clock,
      Supplier<List<Registrations.Instance>> registrations) {
    this.ads = ads;
    this.metrics = metrics;
    this.clock = clock;
    this.registrations = registrations;
  }

  /**
   * Endpoints from Kubernetes, merged into the intent by the rules of {@link #withRegistrations}.
   * Set before the first {@link #apply}.
   */
  public void kubernetes(Supplier<List<KubernetesSource.KubeEndpoint>> endpoints) {
    this.kubernetes = java.util.Objects.requireNonNull(endpoints, "endpoints");
  }

  /**
   * The services Kubernetes has endpoints for that are served without them, and why: mesh.yaml
   * lists their endpoints itself.
   */
  public List<String> kubernetesIgnored() {
    return kubernetesIgnored;
  }

  /** Serves the current intent again with the registered instances as they are now. */
  public synchronized void registrationsChanged() {
    Served current = served;
    if (current != null) {
      apply(current.config(), current.source());
    }
  }

  /**
   * The intent with the registered instances added as endpoints of their services. An instance
   * of a service mesh.yaml does not declare makes that service, with default policies; an
   * instance at an address mesh.yaml already lists for its service is left out.
   *
   * <p>Kubernetes endpoints come first, then registered instances. Which source wins, per
   * service: a service whose intent lists static {@code endpoints} keeps exactly those (plus
   * registered instances), and its Kubernetes endpoints are ignored (named on /healthz); a service
   * the intent declares without endpoints takes Kubernetes'; a service the intent does not declare
   * takes Kubernetes' only when its Kubernetes Service opted in ({@value
   * KubernetesSource#SERVICE_ANNOTATION}), so the cluster's other Services stay out of the mesh.
   */
  MeshConfig withRegistrations(MeshConfig config) {
    List<Registrations.Instance> instances = new java.util.ArrayList<>();
    java.util.Set<String> ignored = new java.util.TreeSet<>();
    java.util.Set<Registrations.Instance> unhealthy = new java.util.HashSet<>();
    for (KubernetesSource.KubeEndpoint k : kubernetes.get()) {
      ServiceSpec declared = config.services().get(k.instance().service());
      if (declared == null ? k.optedIn() : declared.endpoints().isEmpty()) {
        instances.add(k.instance());
        if (!k.healthy()) {
          unhealthy.add(k.instance());
        }
      } else if (declared != null) {
        ignored.add(k.instance().service());
      }
    }
    kubernetesIgnored = ignored.stream()
        .map(s -> "service '" + s + "': mesh.yaml lists its endpoints, Kubernetes' are ignored").toList();
    instances.addAll(registrations.get());
    if (instances.isEmpty()) {
      return config;
    }
    java.util.Map<String, ServiceSpec> services = new java.util.LinkedHashMap<>(config.services());
    java.util.Map<String, List<io.meshlet.controlplane.intent.EndpointSpec>> added = new java.util.LinkedHashMap<>();
    for (Registrations.Instance i : instances) {
      ServiceSpec declared = services.get(i.service());
      if (declared == null) {
        declared = ServiceSpec.registered(i.service(), i.protocolOrHttp());
        services.put(i.service(), declared);
      }
      boolean listed = declared.endpoints().stream().anyMatch(e -> e.address().equals(i.address()))
          || added.getOrDefault(i.service(), List.of()).stream().anyMatch(e -> e.address().equals(i.address()));
      if (!listed) {
        io.meshlet.controlplane.intent.EndpointSpec e = i.endpoint();
        added.computeIfAbsent(i.service(), k -> new java.util.ArrayList<>()).add(unhealthy.contains(i)
            ? new io.meshlet.controlplane.intent.EndpointSpec(e.host(), e.port(), e.labels(), false) : e);
      }
    }
    added.forEach((name, endpoints) -> services.put(name, services.get(name).withMoreEndpoints(endpoints)));
    return new MeshConfig(config.trustDomain(), config.mtls(), services);
  }

  /**
   * Serves a validated config. A config that translates to what is already served changes
   * nothing and returns false.
   */
  public synchronized boolean apply(MeshConfig config, String source) {
    MeshConfig effective = withRegistrations(config);
    XdsResources resources = XdsTranslator.translate(effective);
    // A failure here is a translator bug, not a user error: the last good snapshot stays.
    resources.ensureConsistent();
    Served previous = served;
    if (previous != null && previous.version().equals(resources.version())) {
      log.info("config from {} is unchanged (version {})", source, resources.version());
      served = new Served(config, effective, resources, source, previous.at());
      return false;
    }
    ads.publish(resources.toSnapshot());
    served = new Served(config, effective, resources, source, clock.instant());
    // The same intent with other registered instances is not an edit: the history says so.
    history.accepted(resources.version(), previous != null && previous.config().equals(config)
        ? "registered instances (intent from " + source + ")" : source, io.meshlet.controlplane.internal.intent.IntentTree.of(config), served.at());
    metrics.reloaded();
    log.info("serving config version {} from {}: {} services, {} clusters (was {})",
        resources.version(), source, config.services().size(), resources.clusters().size(),
        previous == null ? "nothing" : previous.version());
    return true;
  }

  /** Records a refused config; what is served stays as it is. */
  public synchronized void refuse(String source, List<Violation> violations) {
    lastRefusal = new Refusal(source, violations, clock.instant());
    history.refused(source, violations.stream().map(Violation::toString).toList(), lastRefusal.at());
    metrics.refused();
    Served current = served;
    log.warn("refused config from {} ({} errors); still serving version {}:\n  {}",
        source, violations.size(), current == null ? "none" : current.version(),
        String.join("\n  ", violations.stream().map(Violation::toString).toList()));
  }

  /** The config served now, if any. */
  public Optional<Served> served() {
    return Optional.ofNullable(served);
  }

  /** The versions served and edits refused lately, for the console. */
  public ConfigHistory history() {
    return history;
  }

  /** The last refused config, if any. */
  public Optional<Refusal> lastRefusal() {
    return Optional.ofNullable(lastRefusal);
  }
}
