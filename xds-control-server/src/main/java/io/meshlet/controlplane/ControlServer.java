package io.meshlet.controlplane;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.internal.admin.AdminServer;
import io.meshlet.controlplane.internal.admin.AdminToken;
import io.meshlet.controlplane.internal.ca.CertificateAuthority;
import io.meshlet.controlplane.internal.ca.EtcdCa;
import io.meshlet.controlplane.internal.ca.IdentityService;
import io.meshlet.controlplane.internal.ca.KeyEncryptionKey;
import io.meshlet.controlplane.internal.ca.ServerIdentity;
import io.meshlet.controlplane.internal.metrics.ServerMetrics;
import io.meshlet.controlplane.internal.serving.AdsService;
import io.meshlet.controlplane.internal.serving.LoadReportSink;
import io.meshlet.controlplane.internal.source.ClientRegistry;
import io.meshlet.controlplane.internal.source.EtcdRegistrar;
import io.meshlet.controlplane.internal.source.EtcdSource;
import io.meshlet.controlplane.internal.source.EtcdStore;
import io.meshlet.controlplane.internal.source.FileWatcher;
import io.meshlet.controlplane.internal.source.KubernetesSource;
import io.meshlet.controlplane.internal.source.MeshState;
import io.meshlet.controlplane.internal.source.Registrations;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Meshlet control server: serves the mesh described by a config file over xDS (ADS, state
 * of the world and delta), signs workload certificates with its CA, and shows what it serves on
 * an admin HTTP API.
 *
 * <pre>{@code
 * try (ControlServer server = ControlServer.builder()
 *     .configFile(Path.of("mesh.yaml"))
 *     .xdsPort(18000)
 *     .adminPort(18001)
 *     .build()
 *     .start()) {
 *   server.awaitTermination();
 * }
 * }</pre>
 *
 * <p>Every xDS client, whatever its node id, gets the mesh-wide view. Edits of the file that
 * validate are served within a poll interval; edits that do not are refused, logged and shown
 * on {@code /config}, and the last good config keeps being served.
 *
 * <p>With {@link Builder#etcd(List) etcd}, the intent and the registered instances live in etcd
 * instead, and any number of replicas serve the same snapshot with the same versions:
 *
 * <pre>{@code
 * ControlServer.builder().etcd(List.of("http://10.0.0.1:2379", "http://10.0.0.2:2379")).build().start();
 * }</pre>
 *
 * <p>Thread-safe. {@link #close()} stops both ports and the file watcher.
 */
public final class ControlServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ControlServer.class);

  /** The trust bundle's file name in the CA directory. */
  public static final String TRUST_BUNDLE_FILE = "trust-bundle.pem";
  /** The default xDS port. */
  public static final int DEFAULT_XDS_PORT = 18000;
  /** The default admin HTTP port. */
  public static final int DEFAULT_ADMIN_PORT = 18001;
  /** The default address the xDS port binds to: loopback only. */
  public static final String DEFAULT_BIND_ADDRESS = "127.0.0.1";
  /** The default address the admin port binds to: loopback only. */
  public static final String DEFAULT_ADMIN_BIND_ADDRESS = "127.0.0.1";
  /** How long registered instances restored after a restart have to reconnect. */
  public static final Duration DEFAULT_REGISTRATION_GRACE = Duration.ofSeconds(30);
  /** How long the instances a replica registered outlive it in etcd, unless renewed. */
  public static final Duration DEFAULT_LEASE_TTL = Duration.ofSeconds(15);
  /** How often clients report their load unless {@link Builder#loadReportInterval} says otherwise. */
  public static final Duration DEFAULT_LOAD_REPORT_INTERVAL = Duration.ofSeconds(5);
  /** The server pings idle xDS streams this often; a peer that does not answer in 5 s is gone. */
  static final Duration KEEPALIVE = Duration.ofSeconds(10);

  private final Path configFile;
  private final List<String> etcdEndpoints;
  private final String etcdPrefix;
  private final Duration leaseTtl;
  private final Duration etcdTimeout;
  private final String bindAddress;
  private final String adminBindAddress;
  private final Path adminTokenFile;
  private final int requestedXdsPort;
  private final int requestedAdminPort;
  private final Duration pollInterval;
  private final List<String> kubernetesNamespaces;
  private final Path kubeconfig;
  private final boolean kubernetes;

  private final ServerMetrics metrics = new ServerMetrics();
  private final Registrations registrations;
  private final ClientRegistry clients;
  private final AdsService ads;
  private final MeshState state;
  private final io.meshlet.controlplane.internal.lrs.LoadStore loadStore =
      new io.meshlet.controlplane.internal.lrs.LoadStore(Clock.systemUTC());
  private final LoadReportSink loadReports;
  private final Duration loadReportInterval;
  private final Path caDirectory;
  private final Path caKeyEncryptionKeyFile;
  private final Map<String, String> joinTokens;
  private final boolean xdsPlaintext;
  private final List<String> serverNames;
  private final Path trustBundleFile;
  private IdentityService identity;
  private ServerIdentity serverIdentity;
  private Path temporaryTrustBundle;
  private ScheduledExecutorService watcherExecutor;
  private FileWatcher watcher;
  private EtcdStore etcdStore;
  private EtcdSource etcdSource;
  private EtcdRegistrar registrar;
  private EtcdCa etcdCa;
  private io.fabric8.kubernetes.client.KubernetesClient kubernetesClient;
  private KubernetesSource kubernetesSource;
  private Server xdsServer;
  private AdminServer adminServer;

  private ControlServer(Builder b) {
    if (b.configFile == null && b.etcdEndpoints.isEmpty()) {
      throw new IllegalStateException("configFile or etcd is required");
    }
    this.configFile = b.configFile;
    this.etcdEndpoints = b.etcdEndpoints;
    this.etcdPrefix = b.etcdPrefix;
    this.leaseTtl = b.leaseTtl;
    this.etcdTimeout = b.etcdTimeout;
    this.bindAddress = b.bindAddress;
    this.adminBindAddress = b.adminBindAddress;
    this.adminTokenFile = b.adminTokenFile;
    this.requestedXdsPort = b.xdsPort;
    this.requestedAdminPort = b.adminPort;
    this.pollInterval = b.pollInterval;
    this.loadReportInterval = b.loadReportInterval;
    this.loadReports = new LoadReportSink(loadStore, loadReportInterval);
    this.kubernetes = b.kubernetes;
    this.kubernetesNamespaces = b.kubernetesNamespaces;
    this.kubeconfig = b.kubeconfig;
    if (kubeconfig != null && !kubernetes) {
      throw new IllegalStateException("kubeconfig goes with kubernetes: it says how to reach the API server");
    }
    this.caDirectory = b.caDirectory;
    this.caKeyEncryptionKeyFile = b.caKeyEncryptionKeyFile;
    if (caKeyEncryptionKeyFile != null && etcdEndpoints.isEmpty()) {
      throw new IllegalStateException("caKeyEncryptionKeyFile goes with etcd: it seals the CA's keys kept there");
    }
    this.joinTokens = Map.copyOf(b.joinTokens);
    if (!etcdEndpoints.isEmpty() && b.stateDirectory != null) {
      throw new IllegalStateException("stateDirectory and etcd exclude each other: etcd keeps registered instances");
    }
    this.registrations = new Registrations(Optional.ofNullable(b.stateDirectory), b.registrationGrace,
        Clock.systemUTC());
    this.xdsPlaintext = b.xdsPlaintext;
    this.serverNames = List.copyOf(b.serverNames);
    this.trustBundleFile = b.trustBundleFile;
    this.clients = new ClientRegistry(metrics, Clock.systemUTC(), registrations,
        () -> config().map(MeshConfig::trustDomain).orElse(""), b.plaintextRegistration);
    this.ads = new AdsService(clients);
    // With etcd, every replica serves the instances of all replicas, read from etcd.
    this.state = new MeshState(ads, metrics, Clock.systemUTC(),
        etcdEndpoints.isEmpty() ? registrations::instances : () -> etcdSource.instances());
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Loads the config file, then opens the xDS and admin ports.
   *
   * @throws MeshConfigException when the file is invalid; nothing is started then
   * @throws IOException when the file cannot be read or a port cannot be bound
   * @throws IllegalStateException when the admin token file is missing, unreadable or empty, or
   *     the admin API would bind beyond loopback without one; when the CA key-encryption key file
   *     is not as expected, or a replica over etcd has neither it nor a CA directory, or its CA
   *     would differ from the one the other replicas share through etcd (the message says what to
   *     change); nothing is started then, and nothing is written to etcd
   */
  public synchronized ControlServer start() throws IOException, MeshConfigException {
    if (xdsServer != null) {
      throw new IllegalStateException("already started");
    }
    Optional<AdminToken> adminToken = Optional.ofNullable(adminTokenFile).map(AdminToken::load);
    AdminToken.checkExposure(adminBindAddress, adminToken);
    // Checked strictly before anything starts, like the admin token.
    KeyEncryptionKey kek = caKeyEncryptionKeyFile == null ? null : KeyEncryptionKey.load(caKeyEncryptionKeyFile);
    if (!etcdEndpoints.isEmpty() && kek == null && caDirectory == null) {
      throw new IllegalStateException(EtcdCa.NEEDS_SHARED_CA);
    }
    metrics.gauges(clients::connected,
        () -> state.served().map(s -> s.config().services().size()).orElse(0));
    watcherExecutor = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "meshlet-config-watcher");
      t.setDaemon(true);
      return t;
    });
    try {
      MeshConfig initial;
      if (etcdEndpoints.isEmpty()) {
        watcher = new FileWatcher(configFile, state, watcherExecutor, pollInterval);
        // Registrations change on gRPC threads; the new snapshot is built on the watcher's thread.
        registrations.onChange(() -> watcherExecutor.execute(state::registrationsChanged));
        watcherExecutor.scheduleWithFixedDelay(registrations::expireRestored, 1, 1, TimeUnit.SECONDS);
        initial = watcher.loadInitial();
      } else {
        etcdStore = new EtcdStore(etcdEndpoints, etcdPrefix, etcdTimeout);
        etcdSource = new EtcdSource(etcdStore, state, watcherExecutor, Clock.systemUTC());
        initial = etcdSource.loadInitial(Optional.ofNullable(configFile));
        registrar = new EtcdRegistrar(etcdStore, registrations, leaseTtl);
        // This replica's streams go to etcd; the snapshot follows from the watch, like every replica's.
        registrations.onChange(registrar::changed);
        metrics.etcdGauge(() -> etcdSource.unreachableSince().isPresent() ? 0 : 1);
      }
      if (kubernetes) {
        startKubernetes();
      }
      CertificateAuthority ca;
      if (etcdStore != null) {
        etcdCa = EtcdCa.establish(etcdStore, kek, caKeyEncryptionKeyFile, caDirectory, initial.trustDomain(),
            Clock.systemUTC());
        ca = etcdCa.ca();
        etcdSource.onCaChange(etcdCa::changed);
      } else {
        ca = CertificateAuthority.loadOrCreate(initial.trustDomain(), caDirectory, Clock.systemUTC());
      }
      identity = new IdentityService(ca, joinTokens,
          () -> state.served().map(s -> s.config().mtls().certTtl()).orElse(Duration.ofHours(1)));
      metrics.identityCounters(identity::signed, identity::refused);
      if (joinTokens.isEmpty()) {
        log.info("no join tokens configured: the CA refuses every certificate request (see --join-tokens)");
      }
      io.grpc.ServerCredentials credentials;
      if (xdsPlaintext) {
        credentials = io.grpc.InsecureServerCredentials.create();
        log.warn("xDS and the CA's identity API are served in PLAINTEXT (--xds-plaintext): anyone on the path "
            + "can read join tokens and change where calls go. For local trials and tests only.");
      } else {
        Path bundle = trustBundleFile != null ? trustBundleFile
            : caDirectory != null ? caDirectory.resolve(TRUST_BUNDLE_FILE)
            : (temporaryTrustBundle = java.nio.file.Files.createTempFile("meshlet-trust-bundle", ".pem"));
        List<String> names = new java.util.ArrayList<>(serverNames);
        names.add(bindAddress);
        names.addAll(ServerIdentity.localNames());
        serverIdentity = new ServerIdentity(ca, names, bundle, Clock.systemUTC());
        serverIdentity.refresh();
        Runnable refresh = () -> {
          try {
            serverIdentity.refresh();
          } catch (CertificateAuthority.SuspendedException e) {
            log.error("could not renew the control server's certificate, the current one stays: {}", e.getMessage());
          } catch (RuntimeException e) {
            log.error("could not renew the control server's certificate; the current one stays", e);
          }
        };
        watcherExecutor.scheduleWithFixedDelay(refresh, 10, 10, TimeUnit.SECONDS);
        // A rotation here or on another replica: new certificate and trust bundle file at once.
        ca.onRootsChanged(() -> watcherExecutor.execute(refresh));
        credentials = serverIdentity.credentials();
      }
      xdsServer = NettyServerBuilder.forAddress(new InetSocketAddress(bindAddress, requestedXdsPort), credentials)
          .intercept(io.meshlet.controlplane.internal.serving.Peer.interceptor())
          .addService(ads)
          .addService(loadReports)
          .addService(identity)
          .permitKeepAliveTime(10, TimeUnit.SECONDS)
          .permitKeepAliveWithoutCalls(true)
          // A registered instance whose host vanished is noticed within keepAliveTime + timeout.
          .keepAliveTime(KEEPALIVE.toSeconds(), TimeUnit.SECONDS)
          .keepAliveTimeout(5, TimeUnit.SECONDS)
          .build()
          .start();
      adminServer = new AdminServer(new InetSocketAddress(adminBindAddress, requestedAdminPort), state,
          clients, etcdSource == null ? registrations::instances : etcdSource::instances, metrics, ca,
          Optional.ofNullable(etcdSource), adminToken);
      adminServer.xdsTransport(xdsPlaintext
          ? "PLAINTEXT (--xds-plaintext): join tokens are refused and anyone on the path could change where "
              + "calls go; for local trials and tests only"
          : "tls, trust bundle " + serverIdentity.trustBundleFile());
      adminServer.traffic(loadStore, loadReportInterval);
      metrics.loadReports(loadStore);
      if (etcdCa != null) {
        adminServer.caSharing(etcdCa::describe);
      }
      if (kubernetesSource != null) {
        adminServer.kubernetes(() -> {
          List<String> ignored = state.kubernetesIgnored();
          String health = kubernetesSource.health();
          return ignored.isEmpty() ? health : health + "; " + String.join("; ", ignored);
        });
      }
      adminServer.start();
      if (watcher != null) {
        watcher.start();
      } else {
        etcdSource.start();
        registrar.start();
      }
    } catch (IOException | MeshConfigException | RuntimeException e) {
      close();
      throw e;
    }
    log.info("Meshlet control server up: xDS ({}) on {}:{}, admin on http://{}:{}/ ({}), following {}",
        xdsPlaintext ? "PLAINTEXT" : "TLS, trust bundle " + serverIdentity.trustBundleFile(),
        bindAddress, xdsPort(), adminBindAddress, adminPort(),
        adminToken.isPresent() ? "bearer token from " + adminTokenFile : "no token",
        etcdStore == null ? configFile : "etcd " + String.join(",", etcdEndpoints) + " " + etcdStore.intentKey());
    if (adminToken.isEmpty()) {
      log.warn("the admin API on {} asks for no credential: any local user and process can read the mesh, "
          + "replace its config and rotate its CA (set --admin-token-file)", adminBindAddress);
    }
    return this;
  }

  private void startKubernetes() throws IOException {
    io.fabric8.kubernetes.client.Config config;
    if (kubeconfig != null) {
      config = io.fabric8.kubernetes.client.Config.fromKubeconfig(java.nio.file.Files.readString(kubeconfig));
    } else {
      // In a pod: the service account's token and CA; elsewhere KUBECONFIG or ~/.kube/config.
      config = io.fabric8.kubernetes.client.Config.autoConfigure(null);
    }
    kubernetesClient = new io.fabric8.kubernetes.client.KubernetesClientBuilder().withConfig(config).build();
    kubernetesSource = new KubernetesSource(kubernetesClient, kubernetesNamespaces, Clock.systemUTC());
    state.kubernetes(kubernetesSource::instances);
    java.util.concurrent.atomic.AtomicBoolean pending = new java.util.concurrent.atomic.AtomicBoolean();
    // Informer events come in bursts (a rollout): one new snapshot per burst, built on the watcher's thread.
    kubernetesSource.onChange(() -> {
      if (pending.compareAndSet(false, true)) {
        watcherExecutor.execute(() -> {
          pending.set(false);
          state.registrationsChanged();
        });
      }
    });
    kubernetesSource.start(Duration.ofSeconds(10));
    watcherExecutor.scheduleWithFixedDelay(kubernetesSource::checkWatching, 1, 1, TimeUnit.SECONDS);
    watcherExecutor.execute(state::registrationsChanged);
  }

  /** The bound xDS port. */
  public int xdsPort() {
    return xdsServer.getPort();
  }

  /** The bound admin HTTP port. */
  public int adminPort() {
    return adminServer.port();
  }

  /** The version of the config served now, a content hash; empty before the first load. */
  public Optional<String> version() {
    return state.served().map(MeshState.Served::version);
  }

  /** The config served now; empty before the first load. */
  public Optional<MeshConfig> config() {
    return state.served().map(MeshState.Served::config);
  }

  /** Whether xDS and the identity API are served in plaintext ({@link Builder#xdsPlaintext}). */
  public boolean xdsPlaintext() {
    return xdsPlaintext;
  }

  /**
   * The trust bundle file clients verify this server with (PEM, the CA's roots, rewritten on a
   * rotation); empty when xDS is plaintext.
   */
  public Optional<Path> trustBundleFile() {
    return Optional.ofNullable(serverIdentity).map(ServerIdentity::trustBundleFile);
  }

  /** Blocks until the xDS server stops. */
  public void awaitTermination() throws InterruptedException {
    xdsServer.awaitTermination();
  }

  @Override
  public synchronized void close() {
    // Streams closed by this shutdown are not workloads leaving: keep their instances on file.
    registrations.close();
    if (watcher != null) {
      watcher.close();
    }
    if (registrar != null) {
      registrar.close();
    }
    if (etcdSource != null) {
      etcdSource.close();
    }
    if (kubernetesSource != null) {
      kubernetesSource.close();
    }
    if (kubernetesClient != null) {
      kubernetesClient.close();
    }
    if (watcherExecutor != null) {
      watcherExecutor.shutdownNow();
    }
    if (adminServer != null) {
      adminServer.close();
    }
    if (xdsServer != null) {
      xdsServer.shutdownNow();
      try {
        xdsServer.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      log.info("Meshlet control server stopped");
    }
    if (etcdStore != null) {
      etcdStore.close();
    }
    if (temporaryTrustBundle != null) {
      try {
        java.nio.file.Files.deleteIfExists(temporaryTrustBundle);
      } catch (IOException e) {
        log.debug("could not delete {}", temporaryTrustBundle, e);
      }
    }
  }

  /** Settings of a {@link ControlServer}. */
  public static final class Builder {
    private Path configFile;
    private String bindAddress = DEFAULT_BIND_ADDRESS;
    private String adminBindAddress = DEFAULT_ADMIN_BIND_ADDRESS;
    private Path adminTokenFile;
    private int xdsPort = DEFAULT_XDS_PORT;
    private int adminPort = DEFAULT_ADMIN_PORT;
    private Duration pollInterval = Duration.ofMillis(250);
    private Path caDirectory;
    private Path caKeyEncryptionKeyFile;
    private Map<String, String> joinTokens = Map.of();
    private Path stateDirectory;
    private Duration registrationGrace = DEFAULT_REGISTRATION_GRACE;
    private List<String> etcdEndpoints = List.of();
    private String etcdPrefix = EtcdStore.DEFAULT_PREFIX;
    private Duration leaseTtl = DEFAULT_LEASE_TTL;
    private Duration etcdTimeout = EtcdStore.DEFAULT_TIMEOUT;
    private boolean xdsPlaintext;
    private boolean plaintextRegistration;
    private List<String> serverNames = List.of();
    private Path trustBundleFile;
    private Duration loadReportInterval = DEFAULT_LOAD_REPORT_INTERVAL;
    private boolean kubernetes;
    private List<String> kubernetesNamespaces = List.of();
    private Path kubeconfig;

    private Builder() {}

    /**
     * How often clients report their load ({@code load_reporting_interval}): the console's
     * traffic is this late. {@link #DEFAULT_LOAD_REPORT_INTERVAL} unless set.
     */
    public Builder loadReportInterval(Duration interval) {
      if (interval.compareTo(Duration.ofMillis(200)) < 0 || interval.compareTo(Duration.ofMinutes(1)) > 0) {
        throw new IllegalArgumentException("loadReportInterval: " + interval + " (expected: 200ms..1m)");
      }
      this.loadReportInterval = interval;
      return this;
    }

    /**
     * Takes the endpoints of services from the Kubernetes API: EndpointSlices and Services in the
     * namespaces given (every namespace when the list is empty), reached with the pod's service
     * account (in a cluster) or the {@link #kubeconfig}. The intent still comes from the config
     * file or etcd; docs/kubernetes.md says which source wins for a service's endpoints.
     */
    public Builder kubernetes(List<String> namespaces) {
      this.kubernetes = true;
      this.kubernetesNamespaces = List.copyOf(namespaces);
      return this;
    }

    /** With {@link #kubernetes}: a kubeconfig file to reach the API server with, instead of in-cluster config. */
    public Builder kubeconfig(Path file) {
      this.kubeconfig = file;
      return this;
    }

    /**
     * Serves xDS and the CA's identity API in plaintext instead of TLS: for local trials and
     * tests only (anyone on the path could read join tokens, which the CA then refuses, and change
     * where calls go). Off unless set.
     */
    public Builder xdsPlaintext(boolean plaintext) {
      this.xdsPlaintext = plaintext;
      return this;
    }

    /**
     * Whether a server on {@link #xdsPlaintext} accepts instance registrations, which then bind
     * to no identity. Off unless set; a TLS server accepts a registration only from a stream
     * presenting the SVID of the instance's service.
     */
    public Builder allowPlaintextRegistration(boolean allow) {
      this.plaintextRegistration = allow;
      return this;
    }

    /**
     * DNS names and IP addresses clients reach this server by, put in its certificate besides
     * localhost, the loopback addresses, the bind address and this machine's host name.
     */
    public Builder serverNames(List<String> names) {
      this.serverNames = List.copyOf(names);
      return this;
    }

    /**
     * Where to write the trust bundle clients verify this server with; {@code trust-bundle.pem}
     * in the {@link #caDirectory} unless set, or a temporary file without one.
     */
    public Builder trustBundleFile(Path file) {
      this.trustBundleFile = file;
      return this;
    }

    /**
     * Client URLs of an etcd cluster (e.g. {@code http://10.0.0.1:2379}) that holds the intent and
     * the registered instances, shared by every replica. A {@link #configFile} given as well only
     * seeds etcd when it holds no intent yet.
     */
    public Builder etcd(List<String> endpoints) {
      this.etcdEndpoints = List.copyOf(endpoints);
      return this;
    }

    /** The etcd key prefix; {@value EtcdStore#DEFAULT_PREFIX} unless set. */
    public Builder etcdPrefix(String prefix) {
      this.etcdPrefix = EtcdStore.checkPrefix(prefix);
      return this;
    }

    /**
     * How long one call to etcd may take before it counts as failed (the first read at start-up
     * included); 3 s unless set. Longer on a slow or overloaded etcd.
     */
    public Builder etcdTimeout(Duration timeout) {
      if (timeout.toMillis() < 100) {
        throw new IllegalArgumentException("etcdTimeout: " + timeout + " (expected: at least 100ms)");
      }
      this.etcdTimeout = timeout;
      return this;
    }

    /** How long a replica's registered instances outlive it in etcd; 15 s unless set. */
    public Builder leaseTtl(Duration ttl) {
      if (ttl.toSeconds() < 1) {
        throw new IllegalArgumentException("leaseTtl: " + ttl + " (expected: at least 1s)");
      }
      this.leaseTtl = ttl;
      return this;
    }

    /**
     * Where registered instances are kept across restarts ({@code registrations.json}); unless
     * set they live in memory, and a restart forgets them until their workloads reconnect.
     */
    public Builder stateDirectory(Path dir) {
      this.stateDirectory = dir;
      return this;
    }

    /** How long instances restored from the state directory have to reconnect; 30 s unless set. */
    public Builder registrationGrace(Duration grace) {
      if (grace.isNegative()) {
        throw new IllegalArgumentException("registrationGrace: " + grace + " (expected: >= 0)");
      }
      this.registrationGrace = grace;
      return this;
    }

    /** The mesh config file to serve and follow. Required unless {@link #etcd} is set. */
    public Builder configFile(Path file) {
      this.configFile = file;
      return this;
    }

    /** The address the xDS port binds to; 127.0.0.1 unless set. The admin port has its own. */
    public Builder bindAddress(String address) {
      this.bindAddress = Objects.requireNonNull(address, "address");
      return this;
    }

    /**
     * The address the admin port binds to; 127.0.0.1 unless set. Anything but a loopback address
     * needs an {@link #adminTokenFile}: {@link ControlServer#start()} refuses it otherwise.
     */
    public Builder adminBindAddress(String address) {
      this.adminBindAddress = Objects.requireNonNull(address, "address");
      return this;
    }

    /**
     * A file holding the bearer token (one line, at least 32 characters, not readable by every
     * user) that admin writes and the reads that show the mesh ask for; {@code /healthz} and
     * {@code /metrics} stay open. Unless set, the admin API asks for no credential, which
     * {@link ControlServer#start()} allows on loopback only.
     */
    public Builder adminTokenFile(Path file) {
      this.adminTokenFile = file;
      return this;
    }

    /**
     * Where the CA keeps its key and root ({@code ca.key}, {@code ca.crt}); created if missing.
     * Unless set, the CA lives in memory and a restart makes a new root.
     */
    public Builder caDirectory(Path dir) {
      this.caDirectory = dir;
      return this;
    }

    /**
     * With {@link #etcd}: a file holding the key (32 random bytes in base64, from
     * {@code openssl rand -base64 32}; not readable by every user) that seals the CA's private keys
     * kept in etcd, so that every replica given the same file signs with the same CA and follows
     * its rotations. Checked at {@link ControlServer#start()}. Without it, replicas over etcd need
     * the same {@link #caDirectory} and cannot rotate the CA.
     */
    public Builder caKeyEncryptionKeyFile(Path file) {
      this.caKeyEncryptionKeyFile = file;
      return this;
    }

    /** Join tokens by service: the secret a workload of that service shows to get a certificate. */
    public Builder joinTokens(Map<String, String> tokens) {
      this.joinTokens = Map.copyOf(tokens);
      return this;
    }

    /** The xDS (gRPC) port; 0 picks a free one. */
    public Builder xdsPort(int port) {
      this.xdsPort = checkPort(port);
      return this;
    }

    /** The admin HTTP port; 0 picks a free one. */
    public Builder adminPort(int port) {
      this.adminPort = checkPort(port);
      return this;
    }

    /** How often the config file is checked for edits. */
    public Builder pollInterval(Duration interval) {
      if (interval.isNegative() || interval.isZero()) {
        throw new IllegalArgumentException("pollInterval: " + interval + " (expected: > 0)");
      }
      this.pollInterval = interval;
      return this;
    }

    public ControlServer build() {
      return new ControlServer(this);
    }


    private static int checkPort(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port: " + port + " (expected: 0..65535)");
      }
      return port;
    }
  }
}
