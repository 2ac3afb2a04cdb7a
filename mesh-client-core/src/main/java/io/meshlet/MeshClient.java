package io.meshlet;

import io.grpc.Status;
import io.meshlet.config.MeshSnapshot;
import io.meshlet.internal.net.HostPort;
import io.meshlet.internal.policy.EngineCalls;
import io.meshlet.internal.policy.PolicyEngine;
import io.meshlet.internal.telemetry.Telemetry;
import io.meshlet.internal.wire.WireNames;
import io.meshlet.internal.xds.AdsClient;
import io.meshlet.internal.xds.XdsNode;
import io.meshlet.transport.MeshCalls;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.OpenTelemetry;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A service's connection to the mesh: subscribes to the mesh config from one or more Meshlet
 * control servers over xDS and holds the policy engine that applies it to calls.
 *
 * <pre>{@code
 * MeshClient mesh = MeshClient.builder()
 *     .serviceName("frontend")
 *     .controlServers("127.0.0.1:18000")
 *     .build()
 *     .start();
 * OkHttpClient http = MeshOkHttp.client(mesh);           // mesh-client-http
 * http.newCall(new Request.Builder().url("http://catalog/items").build()).execute();
 * }</pre>
 *
 * <p>The client keeps the last good config whenever a control server is down, restarts, or sends
 * something it refuses. Thread-safe; one per application is enough. {@link #close()} stops it.
 */
public final class MeshClient implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(MeshClient.class);

  private final String serviceName;
  private final String nodeId;
  private final List<String> controlServers;
  private final Duration firstConfigTimeout;
  private final MeshListener listener;
  private final PolicyEngine engine;
  private final MeshCalls calls;
  private final OpenTelemetry openTelemetry;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final java.nio.file.Path controlServerTrust;
  private final java.util.function.Supplier<io.meshlet.identity.WorkloadIdentity> identity;
  private volatile String instanceAddress;
  private volatile Map<String, String> instanceLabels;
  private final String zone;
  private final CountDownLatch firstConfig = new CountDownLatch(1);
  /** On demand: the services asked for at start; null when subscribed to the whole mesh. */
  private final java.util.Set<String> onDemand;
  /** On demand: calls waiting for a service asked for, by service. */
  private final Map<String, java.util.concurrent.CompletableFuture<Void>> arriving =
      new java.util.concurrent.ConcurrentHashMap<>();
  /** On demand: services the control server said it does not have. */
  private final java.util.Set<String> absent = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** The xDS node metadata field in which a workload registers its own instance. */
  public static final String INSTANCE_METADATA = WireNames.INSTANCE_METADATA;
  private ScheduledExecutorService executor;
  private AdsClient ads;
  private io.meshlet.internal.xds.LoadReporter loadReporter;

  private MeshClient(Builder b) {
    this.serviceName = b.serviceName;
    this.nodeId = b.nodeId != null ? b.nodeId : defaultNodeId(b.serviceName);
    this.controlServers = List.copyOf(b.controlServers);
    this.firstConfigTimeout = b.firstConfigTimeout;
    this.listener = b.listener;
    this.initialBackoff = b.initialBackoff;
    this.maxBackoff = b.maxBackoff;
    this.controlServerTrust = b.controlServerTrust;
    this.identity = b.identity;
    this.instanceAddress = b.instanceAddress;
    this.instanceLabels = Map.copyOf(b.instanceLabels);
    this.zone = b.zone;
    this.openTelemetry = b.openTelemetry != null ? b.openTelemetry : GlobalOpenTelemetry.get();
    this.engine = new PolicyEngine(System::nanoTime, Telemetry.of(openTelemetry));
    this.onDemand = b.onDemand == null ? null : java.util.Set.copyOf(b.onDemand);
    this.calls = new EngineCalls(engine, this::awaitService);
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * The xDS node this client presents: its id, service, zone, and its instance when registered (in
   * this client's zone unless its labels name another).
   */
  private XdsNode node() {
    Map<String, String> labels = instanceLabels;
    if (!zone.isEmpty() && instanceAddress != null && !labels.containsKey(WireNames.ZONE_LABEL)) {
      Map<String, String> withZone = new java.util.TreeMap<>(labels);
      withZone.put(WireNames.ZONE_LABEL, zone);
      labels = withZone;
    }
    return new XdsNode(nodeId, serviceName, version(), instanceAddress, labels, zone);
  }

  /**
   * With {@link Builder#subscribeOnDemand}, the services subscribed to at start (others follow on
   * their first call); empty when this client holds the whole mesh.
   */
  public java.util.Optional<java.util.Set<String>> onDemandServices() {
    return java.util.Optional.ofNullable(onDemand);
  }

  /** The zone this client is in ({@link Builder#zone}); empty when it names none. */
  public String zone() {
    return zone;
  }

  /**
   * Registers this workload as an instance of its service from now on (see
   * {@link Builder#instance}), for when its address is known only after start, such as a server
   * on a port picked at start-up. The xDS stream is reopened to carry it.
   */
  public synchronized void register(String address, Map<String, String> labels) {
    checkAddress(address);
    instanceAddress = address;
    instanceLabels = Map.copyOf(labels);
    log.info("[{}] registering {} {} as an instance of '{}' while connected", nodeId, address, labels,
        serviceName);
    if (ads != null) {
      ads.updateNode(node().toProto());
    }
  }

  /**
   * Takes this workload's instance out of its service, before a graceful shutdown stops serving;
   * the client stays connected and keeps its config.
   */
  public synchronized void deregister() {
    if (instanceAddress == null) {
      return;
    }
    log.info("[{}] deregistering {} from '{}'", nodeId, instanceAddress, serviceName);
    instanceAddress = null;
    instanceLabels = Map.of();
    if (ads != null) {
      ads.updateNode(node().toProto());
    }
  }

  static void checkAddress(String address) {
    if (HostPort.parse(address).isEmpty()) {
      throw new IllegalArgumentException("instance address: '" + address + "' (expected: host:port)");
    }
  }

  /** Connects to the control servers; returns at once, the config arrives in the background. */
  public synchronized MeshClient start() {
    if (executor != null) {
      throw new IllegalStateException("already started");
    }
    executor = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "meshlet-config-" + serviceName);
      t.setDaemon(true);
      return t;
    });
    if (instanceAddress != null) {
      log.info("[{}] registering {} {} as an instance of '{}' while connected", nodeId, instanceAddress,
          instanceLabels, serviceName);
    }
    // Load reports go to the server the xDS stream is on, over the same channel.
    loadReporter = new io.meshlet.internal.xds.LoadReporter(
        new XdsNode(nodeId, serviceName, version(), null, Map.of()).toProto(),
        engine::clusters, executor, System::nanoTime);
    ads = new AdsClient(controlServers, node().toProto(), new AdsClient.Handler() {
      @Override
      public void onSnapshot(MeshSnapshot snapshot) {
        engine.update(snapshot);
        log.info("[{}] config {} in force: {} services, {} clusters", nodeId, snapshot.version(),
            snapshot.services().size(), snapshot.clusters().size());
        firstConfig.countDown();
        for (String service : snapshot.services().keySet()) {
          absent.remove(service);
          java.util.concurrent.CompletableFuture<Void> waiting = arriving.remove(service);
          if (waiting != null) {
            waiting.complete(null);
          }
        }
        safely(() -> listener.onConfig(snapshot));
      }

      @Override
      public void onNack(String typeUrl, String version, String message) {
        safely(() -> listener.onNack(typeUrl.substring(typeUrl.lastIndexOf('.') + 1), version, message));
      }

      @Override
      public void onConnected(String server) {
        loadReporter.connected(ads.channelTo(server));
        safely(() -> listener.onConnected(server));
      }

      @Override
      public void onDisconnected(String server, Status status, Duration retryIn) {
        safely(() -> listener.onDisconnected(server, describe(status), retryIn));
      }

      @Override
      public void onAbsent(String service) {
        absent.add(service);
        java.util.concurrent.CompletableFuture<Void> waiting = arriving.remove(service);
        if (waiting != null) {
          waiting.complete(null);   // routing it now says the mesh has no such service
        }
      }
    }, executor, Clock.systemUTC(), initialBackoff, maxBackoff,
        controlServerTrust != null
            ? io.meshlet.internal.spiffe.ControlPlaneTls.channelCredentials(controlServerTrust, identity)
            : io.grpc.InsecureChannelCredentials.create(),
        identity);
    if (onDemand != null) {
      ads.subscribeOnDemand(serviceName, onDemand);
    }
    ads.start();
    log.info("[{}] mesh client for service '{}' started; control servers {}", nodeId, serviceName,
        controlServers);
    return this;
  }

  /**
   * A status as one line with its root cause, e.g. {@code UNAVAILABLE: io exception (peer
   * certificate does not chain to the control server trust bundle ...)}: what a TLS refusal says.
   */
  static String describe(Status status) {
    StringBuilder out = new StringBuilder(status.getCode().toString());
    if (status.getDescription() != null) {
      out.append(": ").append(status.getDescription().lines().findFirst().orElse(""));
    }
    // The reason worth reading: a certificate check's own message (ours say which bundle and
    // which peer), else the innermost cause.
    Throwable reason = null;
    for (Throwable t = status.getCause(); t != null; t = t.getCause() == t ? null : t.getCause()) {
      reason = t;
      if (t instanceof java.security.cert.CertificateException) {
        break;
      }
    }
    if (reason != null && reason.getMessage() != null) {
      out.append(" (").append(reason.getMessage().lines().findFirst().orElse("")).append(')');
    }
    return out.toString();
  }

  private void safely(Runnable r) {
    try {
      r.run();
    } catch (RuntimeException e) {
      log.warn("[{}] MeshListener threw; ignored", nodeId, e);
    }
  }

  /** The service this client belongs to. */
  public String serviceName() {
    return serviceName;
  }

  /** The xDS node id this client presents. */
  public String nodeId() {
    return nodeId;
  }

  /** The config in force now; empty before the first one arrives. */
  public MeshSnapshot snapshot() {
    return engine.snapshot();
  }

  /** Waits up to {@code timeout} for the first config; true if it is here. */
  public boolean awaitConfig(Duration timeout) throws InterruptedException {
    return firstConfig.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Whether a caller may make a request of this service, by the service's authorization in the
   * mesh config. A refusal is logged with the caller's identity and counted
   * ({@code meshlet.server.denied}).
   *
   * @param callerSpiffeId the caller's SPIFFE ID from its mTLS certificate; empty for a caller
   *     without one, who is refused wherever the policy does not allow anyone
   * @param path the request's path, without the query
   * @param method the HTTP method
   */
  public boolean authorize(java.util.Optional<String> callerSpiffeId, String path, String method) {
    if (engine.snapshot().allows(serviceName, callerSpiffeId, path, method)) {
      return true;
    }
    String caller = callerSpiffeId.orElse("(no client certificate)");
    log.warn("[{}] denied {} {} on '{}' from {}: not allowed by its authorization", nodeId, method, path,
        serviceName, caller);
    engine.telemetry().denied(serviceName, caller);
    return false;
  }

  /**
   * Where this client's metrics and spans go: the builder's {@code openTelemetry(...)}, else
   * {@link GlobalOpenTelemetry}. Transports that measure calls themselves (gRPC channels from
   * {@code MeshGrpc.channel(service, mesh)}) report there too.
   */
  public OpenTelemetry openTelemetry() {
    return openTelemetry;
  }

  /**
   * The door through which transport adapters run calls by this client's mesh config (route,
   * execute, telemetry); routing waits up to the first-config timeout for the first config.
   */
  public MeshCalls calls() {
    return calls;
  }

  /**
   * Whether calls to {@code host} go through the mesh: a service the mesh knows, or a single-label
   * name (no dot, not {@code localhost}) that can only mean a mesh service. Other hosts (DNS names,
   * IP addresses) are left alone.
   */
  public boolean isMeshHost(String host) {
    if (engine.knows(host)) {
      return true;
    }
    // No dot also rules out IPv4 addresses; no colon rules out IPv6.
    return host.indexOf('.') < 0 && host.indexOf(':') < 0 && !host.equalsIgnoreCase("localhost");
  }

  /**
   * Before a call is routed: waits for the first config and, on demand, for the service's own
   * (one or two round trips to the control server the first time a service is called).
   */
  private void awaitService(String service) throws IOException {
    awaitFirstConfig();
    if (onDemand == null || engine.knows(service) || absent.contains(service)) {
      return;
    }
    java.util.concurrent.CompletableFuture<Void> arrival = arriving.computeIfAbsent(service,
        s -> new java.util.concurrent.CompletableFuture<>());
    ads.demand(service);
    if (engine.knows(service)) {
      return;     // arrived between the check and the wait
    }
    try {
      arrival.get(firstConfigTimeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new InterruptedIOException("service '" + service + "': no config for it from control servers "
          + controlServers + " within " + firstConfigTimeout.toMillis() + " ms (node " + nodeId
          + ", subscribed on demand)");
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IOException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted waiting for the config of service '" + service + "'");
    }
  }

  /** Waits up to the first-config timeout when no config has arrived yet. */
  private void awaitFirstConfig() throws IOException {
    if (firstConfig.getCount() > 0) {
      try {
        if (!awaitConfig(firstConfigTimeout)) {
          throw new InterruptedIOException("no mesh config from control servers " + controlServers
              + " within " + firstConfigTimeout.toMillis() + " ms (node " + nodeId + ")");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted waiting for the mesh config");
      }
    }
  }

  @Override
  public synchronized void close() {
    if (loadReporter != null) {
      loadReporter.close();
    }
    if (ads != null) {
      ads.close();
    }
    if (executor != null) {
      executor.shutdown();
      try {
        executor.awaitTermination(2, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      executor.shutdownNow();
    }
  }

  private static String defaultNodeId(String service) {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "unknown-host";
    }
    return service + "~" + host + "~" + ManagementFactory.getRuntimeMXBean().getPid();
  }

  private static String version() {
    String v = MeshClient.class.getPackage().getImplementationVersion();
    return v != null ? v : "dev";
  }

  /** Settings of a {@link MeshClient}. */
  public static final class Builder {
    private String serviceName;
    private String nodeId;
    private final List<String> controlServers = new ArrayList<>();
    private Duration firstConfigTimeout = Duration.ofSeconds(10);
    private MeshListener listener = new MeshListener() {};
    private OpenTelemetry openTelemetry;
    private Duration initialBackoff = Duration.ofMillis(100);
    private Duration maxBackoff = Duration.ofSeconds(10);
    private String instanceAddress;
    private Map<String, String> instanceLabels = Map.of();
    private String zone = "";
    private java.nio.file.Path controlServerTrust;
    private boolean xdsPlaintext;
    private java.util.function.Supplier<io.meshlet.identity.WorkloadIdentity> identity;
    private java.util.Set<String> onDemand;

    private Builder() {}

    /**
     * Holds only the services this application calls: subscribes to {@code services} at start
     * and to any other on its first call (which waits one round trip to the control server for a
     * service without subsets, two with them; an unknown service fails as soon as the server says
     * it has none), instead of to the whole mesh. {@link MeshClient#snapshot()} then shows those
     * services only. A mesh service whose name has a dot is only recognised as one
     * ({@link MeshClient#isMeshHost}) once subscribed: name such services here.
     */
    public Builder subscribeOnDemand(String... services) {
      java.util.Set<String> names = new java.util.TreeSet<>();
      for (String service : services) {
        if (!io.meshlet.internal.wire.MeshNames.isServiceName(service)) {
          throw new IllegalArgumentException("subscribeOnDemand: '" + service
              + "' (expected: " + io.meshlet.internal.wire.MeshNames.SERVICE_NAME_EXPECTED + ")");
        }
        names.add(service);
      }
      this.onDemand = names;
      return this;
    }

    /**
     * Talks to the control servers over TLS, checking them against this trust bundle (the PEM
     * file the control server writes, {@code trust-bundle.pem} in its {@code --ca-dir}) and their
     * SPIFFE ID ({@code spiffe://<trust domain>/meshlet/control-server}). The file is read again
     * when it changes. This or {@link #xdsPlaintext()} is required.
     */
    public Builder controlServerTrust(java.nio.file.Path trustBundle) {
      this.controlServerTrust = Objects.requireNonNull(trustBundle, "trustBundle");
      return this;
    }

    /**
     * Talks to the control servers in plaintext, for a server started with
     * {@code serve --xds-plaintext} (local trials, tests). Anyone on the path could then change
     * where this service's calls go: never in production.
     */
    public Builder xdsPlaintext() {
      this.xdsPlaintext = true;
      return this;
    }

    /**
     * The workload's identity, presented to the control server once there is one (mTLS), and
     * again after each rotation. A TLS control server accepts this workload's
     * {@linkplain #instance instance registration} only from a stream that presents its service's
     * SVID.
     */
    public Builder identity(java.util.function.Supplier<io.meshlet.identity.WorkloadIdentity> identity) {
      this.identity = Objects.requireNonNull(identity, "identity");
      return this;
    }

    /**
     * Registers this workload as an instance of its service while it is connected: the control
     * server adds {@code address} (where callers reach it, {@code host:port}) with these labels
     * (subsets select on them, e.g. {@code version: v1}) to the service's endpoints, and removes it
     * when the client closes or its connection is lost.
     */
    public Builder instance(String address, Map<String, String> labels) {
      checkAddress(address);
      this.instanceAddress = address;
      this.instanceLabels = Map.copyOf(labels);
      return this;
    }

    /**
     * The zone this workload runs in (e.g. {@code eu-west-1a}; in Kubernetes, its node's
     * {@code topology.kubernetes.io/zone}). The client presents it as its xDS node's
     * {@code locality.zone}, so that services with {@code locality: { preferLocal: true }} are
     * served to it with its zone first; a registered {@linkplain #instance instance} is put in it
     * unless its labels name a zone. Empty (the default) for none: every zone alike.
     */
    public Builder zone(String zone) {
      this.zone = io.meshlet.internal.wire.MeshNames.requireZone("zone", zone);
      return this;
    }

    /** This service's name in the mesh. Required. */
    public Builder serviceName(String name) {
      this.serviceName = Objects.requireNonNull(name, "name");
      return this;
    }

    /** Control servers as {@code host:port}, tried in order, failing over to the next. Required. */
    public Builder controlServers(String... servers) {
      return controlServers(List.of(servers));
    }

    public Builder controlServers(List<String> servers) {
      for (String s : servers) {
        if (HostPort.parse(s).isEmpty()) {
          throw new IllegalArgumentException("control server: '" + s + "' (expected: host:port)");
        }
      }
      controlServers.clear();
      controlServers.addAll(servers);
      return this;
    }

    /** The xDS node id; {@code <service>~<host>~<pid>} unless set. */
    public Builder nodeId(String id) {
      this.nodeId = Objects.requireNonNull(id, "id");
      return this;
    }

    /** How long a call made before the first config arrives waits for it; 10 s unless set. */
    public Builder firstConfigTimeout(Duration timeout) {
      this.firstConfigTimeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    public Builder listener(MeshListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** Where metrics and spans go; {@link GlobalOpenTelemetry} (no-op unless set up) by default. */
    public Builder openTelemetry(OpenTelemetry otel) {
      this.openTelemetry = Objects.requireNonNull(otel, "otel");
      return this;
    }

    /** Reconnect backoff: from {@code initial} doubling up to {@code max}, jittered. */
    public Builder reconnectBackoff(Duration initial, Duration max) {
      if (initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
        throw new IllegalArgumentException("reconnectBackoff: " + initial + ", " + max
            + " (expected: 0 < initial <= max)");
      }
      this.initialBackoff = initial;
      this.maxBackoff = max;
      return this;
    }

    public MeshClient build() {
      if (serviceName == null) {
        throw new IllegalStateException("serviceName is required");
      }
      if (controlServers.isEmpty()) {
        throw new IllegalStateException("controlServers is required (host:port of a Meshlet control server)");
      }
      if (controlServerTrust == null && !xdsPlaintext) {
        throw new IllegalStateException("controlServerTrust(trust bundle) or xdsPlaintext() is required: "
            + "give the control server's trust-bundle.pem (written to its --ca-dir) so the client can tell it "
            + "from an impostor, or choose plaintext for a server started with --xds-plaintext");
      }
      if (controlServerTrust != null && xdsPlaintext) {
        throw new IllegalStateException("controlServerTrust and xdsPlaintext exclude each other");
      }
      return new MeshClient(this);
    }
  }
}
