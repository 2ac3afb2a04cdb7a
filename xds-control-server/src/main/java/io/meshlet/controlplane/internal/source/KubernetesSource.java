package io.meshlet.controlplane.internal.source;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.Informable;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.meshlet.internal.wire.MeshNames;
import io.meshlet.internal.wire.WireNames;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Endpoints from the Kubernetes API: EndpointSlices and the Services they belong to, watched with
 * fabric8's shared informers in the namespaces given (every namespace when none is), become
 * instances of the mesh service of the same name.
 *
 * <p>What becomes what:
 * <ul>
 *   <li>The mesh service is the Service's name, or its annotation {@value #SERVICE_ANNOTATION}.
 *       Several Services may name one mesh service (one Service per version, say): their
 *       endpoints merge, each labelled with its own Service's labels.
 *   <li>Kubernetes endpoints feed the services the intent (mesh.yaml or etcd) declares, and
 *       services whose Kubernetes Service carries {@value #SERVICE_ANNOTATION} (an explicit opt-in,
 *       with default policies and the protocol of {@value #PROTOCOL_ANNOTATION}). Other Services
 *       of the cluster stay out of the mesh. {@link MeshState} applies that rule, and the rule that
 *       a service mesh.yaml lists static {@code endpoints} for keeps those and ignores Kubernetes'.
 *   <li>The port: annotation {@value #PORT_ANNOTATION} (a port name or number of the slice), else
 *       the slice's only port, else its port named {@code grpc} or {@code http}.
 *   <li>Labels: the Service's labels, plus {@value #ZONE_LABEL} from the endpoint's {@code zone}.
 * </ul>
 *
 * <p>Draining, as kube-proxy does it (KEP-1669): an endpoint is picked while it is ready. When it
 * terminates it stops being ready and leaves the service, unless no endpoint of the service is
 * ready: then the endpoints still serving while terminating are kept, so that calls have somewhere
 * to go. An endpoint that is not ready and not terminating (a pod starting, or failing its
 * readiness probe) is kept as an unhealthy instance (EDS {@code UNHEALTHY}): no client picks it,
 * but it counts in its zone's healthy share, so a zone whose pods fail their probes fails over
 * (zone-aware routing's {@code failoverThreshold}) on grpc-java as on Meshlet's HTTP client. Removing an endpoint from EDS does not cut calls in flight: both transports finish them
 * on the connection they run on.
 *
 * <p>A broken watch is resumed by the informer from its resource version, or relisted after a
 * {@code 410 Gone}; its store keeps every object meanwhile, so no endpoint drops in between. While
 * the API server is unreachable, the last objects seen keep being served, and {@link #health()}
 * says since when.
 *
 * <p>Thread-safe: the informers call {@link #onChange} on their own threads; {@link #instances()}
 * reads their stores.
 */
public final class KubernetesSource implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(KubernetesSource.class);

  /** The Service annotation naming its mesh service, and opting a Service into the mesh. */
  public static final String SERVICE_ANNOTATION = "meshlet.io/service";
  /** The Service annotation naming the protocol (http or grpc) of a service mesh.yaml does not declare. */
  public static final String PROTOCOL_ANNOTATION = "meshlet.io/protocol";
  /** The Service annotation naming the port (name or number) calls go to. */
  public static final String PORT_ANNOTATION = "meshlet.io/port";
  /** The label that carries an endpoint's zone, Kubernetes' own well-known label. */
  public static final String ZONE_LABEL = WireNames.ZONE_LABEL;
  /** The EndpointSlice label naming the Service it belongs to. */
  static final String SLICE_SERVICE_LABEL = "kubernetes.io/service-name";

  /**
   * One endpoint from Kubernetes.
   *
   * @param instance the instance, as a registered one would be
   * @param optedIn whether its Service carries {@value #SERVICE_ANNOTATION}: it may then make a
   *     service the intent does not declare
   */
  /**
   * @param healthy false for an endpoint that is not ready and not terminating: served as
   *     {@code UNHEALTHY}
   */
  public record KubeEndpoint(Registrations.Instance instance, boolean optedIn, boolean healthy) {}

  private final KubernetesClient client;
  private final List<String> namespaces;
  private final Clock clock;
  private final List<SharedIndexInformer<EndpointSlice>> sliceInformers = new ArrayList<>();
  private final List<SharedIndexInformer<Service>> serviceInformers = new ArrayList<>();
  private volatile Runnable onChange = () -> {};
  private volatile Instant unreachableSince;
  private volatile List<String> notes = List.of();

  /**
   * @param namespaces the namespaces to watch; empty for every namespace (which needs a
   *     ClusterRole to list and watch EndpointSlices and Services)
   */
  public KubernetesSource(KubernetesClient client, List<String> namespaces, Clock clock) {
    this.client = Objects.requireNonNull(client, "client");
    this.namespaces = List.copyOf(namespaces);
    this.clock = clock;
  }

  /** Called after every change of the watched objects, on an informer thread. */
  public void onChange(Runnable listener) {
    this.onChange = Objects.requireNonNull(listener, "listener");
  }

  /**
   * Starts the informers and waits up to {@code firstSync} for their first lists, so that the
   * first snapshot has the cluster's endpoints. An API server that does not answer in time is
   * logged; the informers keep trying and the endpoints come when it answers.
   */
  public void start(Duration firstSync) {
    List<CompletableFuture<Void>> started = new ArrayList<>();
    for (String ns : namespaces.isEmpty() ? java.util.Collections.<String>singletonList(null) : namespaces) {
      Informable<EndpointSlice> slices = ns == null
          ? client.discovery().v1().endpointSlices().inAnyNamespace()
          : client.discovery().v1().endpointSlices().inNamespace(ns);
      Informable<Service> services = ns == null ? client.services().inAnyNamespace() : client.services().inNamespace(ns);
      SharedIndexInformer<EndpointSlice> si = slices.runnableInformer(0);
      SharedIndexInformer<Service> vi = services.runnableInformer(0);
      for (SharedIndexInformer<?> informer : List.of(si, vi)) {
        // Never give up: an API server away for an hour is retried with the informer's backoff,
        // and what was listed before keeps being served.
        informer.exceptionHandler((isStarted, t) -> {
          log.warn("kubernetes watch of {} in {} failed ({}); retrying, serving the last endpoints seen",
              informer.getApiTypeClass().getSimpleName(), ns == null ? "every namespace" : ns, t.toString());
          return true;
        });
      }
      si.addEventHandler(handler());
      vi.addEventHandler(handler());
      sliceInformers.add(si);
      serviceInformers.add(vi);
      started.add(si.start().toCompletableFuture());
      started.add(vi.start().toCompletableFuture());
    }
    try {
      CompletableFuture.allOf(started.toArray(CompletableFuture[]::new)).get(firstSync.toMillis(), TimeUnit.MILLISECONDS);
      log.info("kubernetes: watching EndpointSlices and Services in {}", where());
    } catch (TimeoutException | ExecutionException e) {
      log.warn("kubernetes: the API server did not answer the first list within {} ({}); serving without its "
          + "endpoints until it does", firstSync, e.getCause() == null ? e.toString() : e.getCause().toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    checkWatching();
  }

  private String where() {
    return namespaces.isEmpty() ? "every namespace" : "namespaces " + String.join(", ", namespaces);
  }

  private <T extends HasMetadata> ResourceEventHandler<T> handler() {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        changed();
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        if (!Objects.equals(oldObj.getMetadata().getResourceVersion(), newObj.getMetadata().getResourceVersion())) {
          changed();
        }
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        changed();
      }
    };
  }

  private void changed() {
    checkWatching();
    onChange.run();
  }

  /**
   * Notes whether every informer's watch is up; called on every change and by the server's
   * periodic check, so that {@link #health()} says when the API server went away.
   */
  public void checkWatching() {
    boolean watching = !sliceInformers.isEmpty()
        && sliceInformers.stream().allMatch(SharedIndexInformer::isWatching)
        && serviceInformers.stream().allMatch(SharedIndexInformer::isWatching);
    Instant since = unreachableSince;
    if (!watching && since == null) {
      unreachableSince = clock.instant();
      log.warn("kubernetes: the API server is unreachable; serving the last endpoints seen");
    } else if (watching && since != null) {
      unreachableSince = null;
      log.info("kubernetes: watching again (unreachable since {})", since);
    }
  }

  /** When the watches went down, if they are down now. */
  public Optional<Instant> unreachableSince() {
    return Optional.ofNullable(unreachableSince);
  }

  /** One line for /healthz. */
  public String health() {
    int count = instances().size();
    String state = unreachableSince().map(s -> "API server unreachable since " + s
            + "; serving the last good endpoints (" + count + " instances)")
        .orElse("watching EndpointSlices and Services in " + where() + " (" + count + " instances)");
    List<String> n = notes;
    return n.isEmpty() ? state : state + "; " + String.join("; ", n);
  }

  /** Every endpoint Kubernetes has for a mesh service now, sorted by service and address. */
  public List<KubeEndpoint> instances() {
    List<EndpointSlice> slices = new ArrayList<>();
    sliceInformers.forEach(i -> slices.addAll(i.getStore().list()));
    List<Service> services = new ArrayList<>();
    serviceInformers.forEach(i -> services.addAll(i.getStore().list()));
    List<String> problems = new ArrayList<>();
    List<KubeEndpoint> out = translate(slices, services, problems);
    if (!problems.equals(notes)) {
      problems.forEach(p -> log.warn("kubernetes: {}", p));
      notes = List.copyOf(problems);
    }
    return out;
  }

  /**
   * The endpoints of the slices given, by the rules of the class javadoc.
   *
   * @param problems receives one line per slice left out, and why
   */
  static List<KubeEndpoint> translate(Collection<EndpointSlice> slices, Collection<Service> services,
      List<String> problems) {
    Map<String, Service> byKey = new TreeMap<>();
    for (Service s : services) {
      byKey.put(s.getMetadata().getNamespace() + "/" + s.getMetadata().getName(), s);
    }
    // Per mesh service: the ready endpoints, and the serving-while-terminating ones as fallback.
    Map<String, List<KubeEndpoint>> ready = new TreeMap<>();
    Map<String, List<KubeEndpoint>> draining = new TreeMap<>();
    Map<String, List<KubeEndpoint>> notReady = new TreeMap<>();
    List<EndpointSlice> sorted = new ArrayList<>(slices);
    sorted.sort(Comparator.comparing((EndpointSlice s) -> s.getMetadata().getNamespace())
        .thenComparing(s -> s.getMetadata().getName()));
    for (EndpointSlice slice : sorted) {
      String ns = slice.getMetadata().getNamespace();
      Map<String, String> sliceLabels = Optional.ofNullable(slice.getMetadata().getLabels()).orElse(Map.of());
      String serviceName = sliceLabels.get(SLICE_SERVICE_LABEL);
      if (serviceName == null) {
        continue;
      }
      Service service = byKey.get(ns + "/" + serviceName);
      Map<String, String> annotations = service == null ? Map.of()
          : Optional.ofNullable(service.getMetadata().getAnnotations()).orElse(Map.of());
      String where = "EndpointSlice " + ns + "/" + slice.getMetadata().getName();
      String meshName = annotations.getOrDefault(SERVICE_ANNOTATION, serviceName);
      if (!MeshNames.isServiceName(meshName)) {
        problems.add(where + ": service name '" + meshName + "' left out (expected: lower-case letters, digits, "
            + "'-' and '.'; set the annotation " + SERVICE_ANNOTATION + ")");
        continue;
      }
      Optional<EndpointPort> port = port(slice, annotations.get(PORT_ANNOTATION));
      if (port.isEmpty()) {
        problems.add(where + ": no port to call, left out (expected: one port, a port named grpc or http, or the "
            + "annotation " + PORT_ANNOTATION + " on Service " + ns + "/" + serviceName + " naming one of "
            + portNames(slice) + ")");
        continue;
      }
      String protocol = protocol(annotations.get(PROTOCOL_ANNOTATION), port.get());
      Map<String, String> labels = new TreeMap<>();
      if (service != null && service.getMetadata().getLabels() != null) {
        service.getMetadata().getLabels().forEach((k, v) -> {
          if (MeshNames.isLabel(k) && MeshNames.isLabel(v)) {
            labels.put(k, v);
          }
        });
      }
      boolean optedIn = annotations.containsKey(SERVICE_ANNOTATION);
      for (Endpoint e : Optional.ofNullable(slice.getEndpoints()).orElse(List.of())) {
        EndpointConditions c = Optional.ofNullable(e.getConditions()).orElse(new EndpointConditions());
        // The API's own reading of unset conditions: ready unless said otherwise, serving as ready.
        boolean isReady = !Boolean.FALSE.equals(c.getReady());
        boolean serving = c.getServing() == null ? isReady : c.getServing();
        boolean terminating = Boolean.TRUE.equals(c.getTerminating());
        boolean unhealthy = !isReady && !terminating;
        if (!isReady && !(serving && terminating) && !unhealthy) {
          continue;     // terminating and no longer serving: leaving
        }
        Map<String, String> own = new TreeMap<>(labels);
        if (e.getZone() != null && MeshNames.isLabel(e.getZone())) {
          own.put(ZONE_LABEL, e.getZone());
        }
        for (String address : Optional.ofNullable(e.getAddresses()).orElse(List.of())) {
          String node = "kubernetes:" + ns + "/" + Optional.ofNullable(e.getTargetRef())
              .map(r -> r.getName()).orElse(slice.getMetadata().getName());
          KubeEndpoint k = new KubeEndpoint(new Registrations.Instance(meshName, address, port.get().getPort(),
              own, protocol, node), optedIn, !unhealthy);
          (isReady ? ready : unhealthy ? notReady : draining).computeIfAbsent(meshName, x -> new ArrayList<>()).add(k);
        }
      }
    }
    List<KubeEndpoint> out = new ArrayList<>();
    Set<String> names = new java.util.TreeSet<>(ready.keySet());
    names.addAll(draining.keySet());
    names.addAll(notReady.keySet());
    for (String name : names) {
      List<KubeEndpoint> chosen = new ArrayList<>(ready.containsKey(name) ? ready.get(name)
          : draining.getOrDefault(name, List.of()));
      chosen.addAll(notReady.getOrDefault(name, List.of()));   // after: a ready duplicate wins
      Map<String, KubeEndpoint> byAddress = new LinkedHashMap<>();
      for (KubeEndpoint k : chosen) {
        // The same pod in two slices (while the controller moves it): once.
        byAddress.putIfAbsent(k.instance().address(), k);
      }
      List<KubeEndpoint> list = new ArrayList<>(byAddress.values());
      list.sort(Comparator.comparing(k -> k.instance().address()));
      out.addAll(list);
    }
    return out;
  }

  private static Optional<EndpointPort> port(EndpointSlice slice, String wanted) {
    List<EndpointPort> ports = Optional.ofNullable(slice.getPorts()).orElse(List.of()).stream()
        .filter(p -> p.getPort() != null && (p.getProtocol() == null || p.getProtocol().equals("TCP")))
        .toList();
    if (wanted != null) {
      return ports.stream().filter(p -> wanted.equals(p.getName()) || wanted.equals(String.valueOf(p.getPort())))
          .findFirst();
    }
    if (ports.size() == 1) {
      return Optional.of(ports.get(0));
    }
    return ports.stream().filter(p -> "grpc".equals(p.getName())).findFirst()
        .or(() -> ports.stream().filter(p -> "http".equals(p.getName())).findFirst());
  }

  private static String portNames(EndpointSlice slice) {
    Set<String> names = new LinkedHashSet<>();
    for (EndpointPort p : Optional.ofNullable(slice.getPorts()).orElse(List.of())) {
      names.add(p.getName() == null ? String.valueOf(p.getPort()) : p.getName() + " (" + p.getPort() + ")");
    }
    return names.isEmpty() ? "no ports" : String.join(", ", names);
  }

  private static String protocol(String annotated, EndpointPort port) {
    if (annotated != null) {
      return annotated.equals("grpc") ? "grpc" : "http";
    }
    if ("grpc".equals(port.getAppProtocol()) || (port.getName() != null && port.getName().startsWith("grpc"))) {
      return "grpc";
    }
    return "http";
  }

  @Override
  public void close() {
    sliceInformers.forEach(SharedIndexInformer::close);
    serviceInformers.forEach(SharedIndexInformer::close);
  }
}
