package io.meshlet.spring.autoconfigure;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The {@code meshlet.*} settings of the Spring Boot starter. Immutable: bound once through the
 * constructor. Checked when the beans that need them are made; see {@link MeshletAutoConfiguration}.
 */
@ConfigurationProperties("meshlet")
public final class MeshletProperties {

  /** Whether to connect this application to the mesh. */
  private final boolean enabled;

  /** This service's name in the mesh. Defaults to spring.application.name. */
  private final String serviceName;

  /** Control servers as host:port, tried in order, failing over to the next. Required. */
  private final List<String> controlServers;

  /** The xDS node id this client presents. Defaults to "<service>~<host>~<pid>". */
  private final String nodeId;

  /**
   * The zone this application runs in, e.g. eu-west-1a (in Kubernetes, its node's
   * topology.kubernetes.io/zone, passed in through the downward API). Presented to the control
   * server by the mesh client and by grpc-java's bootstrap (node.locality.zone), so that services
   * with locality.preferLocal are called in this zone first; the registered instance is put in it.
   * The environment variable MESHLET_ZONE sets it too (Spring's relaxed binding). Empty for none.
   */
  private final String zone;

  /**
   * How long a call made before the first config has arrived waits for it; with
   * await-config-on-startup, also how long start-up waits.
   */
  private final Duration firstConfigTimeout;

  /**
   * Whether application start-up waits, up to first-config-timeout, for the first config (and the
   * first certificate when an identity source is set) and fails without it. When false, start-up
   * does not wait, the health indicator reports OUT_OF_SERVICE until the config arrives, and a
   * warning is logged if it has not arrived within first-config-timeout.
   */
  private final boolean awaitConfigOnStartup;

  /** Where the workload's mTLS identity comes from. */
  private final Identity identity;

  /** gRPC channels through grpc-java's own xDS client. */
  private final Grpc grpc;

  /** The meshlet health indicator. */
  private final Health health;

  /** This application's own instance, registered with the control server while it runs. */
  private final Instance instance;

  /** Inbound mTLS and authorization for the embedded web server. */
  private final Inbound inbound;

  /** Whether the mesh client holds the whole mesh or only the services this application calls. */
  private final OnDemand onDemand;

  /**
   * The control server's trust bundle: the PEM file it writes as trust-bundle.pem in its
   * --ca-dir. xDS and the CA are reached over TLS, and only a server whose certificate this
   * bundle vouches for, with the control server's SPIFFE ID, is accepted. This or xds-plaintext
   * is required.
   */
  private final Path controlServerTrustBundle;

  /**
   * Whether to reach the control servers in plaintext, for a server started with
   * --xds-plaintext (local trials and tests; never in production). Excludes
   * control-server-trust-bundle and identity.source=ca.
   */
  private final boolean xdsPlaintext;

  public MeshletProperties(@DefaultValue("true") boolean enabled, String serviceName,
      @DefaultValue List<String> controlServers, String nodeId,
      @DefaultValue("10s") Duration firstConfigTimeout, @DefaultValue("false") boolean awaitConfigOnStartup,
      @DefaultValue Identity identity, @DefaultValue Grpc grpc, @DefaultValue Health health,
      @DefaultValue Instance instance, @DefaultValue Inbound inbound, Path controlServerTrustBundle,
      @DefaultValue("false") boolean xdsPlaintext, @DefaultValue("") String zone, @DefaultValue OnDemand onDemand) {
    this.zone = zone;
    this.onDemand = onDemand;
    this.controlServerTrustBundle = controlServerTrustBundle;
    this.xdsPlaintext = xdsPlaintext;
    this.enabled = enabled;
    this.serviceName = serviceName;
    this.controlServers = List.copyOf(controlServers);
    this.nodeId = nodeId;
    this.firstConfigTimeout = firstConfigTimeout;
    this.awaitConfigOnStartup = awaitConfigOnStartup;
    this.identity = identity;
    this.grpc = grpc;
    this.health = health;
    this.instance = instance;
    this.inbound = inbound;
  }

  public Path getControlServerTrustBundle() {
    return controlServerTrustBundle;
  }

  public boolean isXdsPlaintext() {
    return xdsPlaintext;
  }

  public Instance getInstance() {
    return instance;
  }

  public Inbound getInbound() {
    return inbound;
  }

  public OnDemand getOnDemand() {
    return onDemand;
  }

  /** {@code meshlet.on-demand.*}: holding only the services this application calls. */
  public static final class OnDemand {

    /**
     * Whether the mesh client subscribes only to the services this application names (services)
     * and calls, instead of to the whole mesh: the first call to another service waits for its
     * config from the control server (one or two round trips). For a large mesh of which this
     * application calls a few services. Applies to the HTTP clients; gRPC channels use grpc-java's
     * own xDS client, which subscribes per channel target anyway.
     */
    private final boolean enabled;

    /**
     * Services subscribed to at start, so that their first calls do not wait, e.g.
     * catalog,inventory. A service whose name has a dot is recognised as a mesh host only once
     * subscribed: name such services here.
     */
    private final List<String> services;

    public OnDemand(@DefaultValue("false") boolean enabled, @DefaultValue List<String> services) {
      this.enabled = enabled;
      this.services = List.copyOf(services);
    }

    public boolean isEnabled() {
      return enabled;
    }

    public List<String> getServices() {
      return services;
    }
  }

  /** {@code meshlet.instance.*}: this application's own instance. */
  public static final class Instance {

    /**
     * Whether to register this application as an instance of its service while it runs: its gRPC
     * server when grpc.server-port is set, else its web server, once that has started; removed
     * before a graceful shutdown stops serving.
     */
    private final boolean register;

    /**
     * The host callers reach this instance at. Defaults to server.address when set, else this
     * machine's address.
     */
    private final String host;

    /** Labels that subsets select on, e.g. meshlet.instance.labels.version=v1. */
    private final java.util.Map<String, String> labels;

    public Instance(@DefaultValue("true") boolean register, String host,
        @DefaultValue java.util.Map<String, String> labels) {
      this.register = register;
      this.host = host;
      this.labels = java.util.Map.copyOf(labels);
    }

    public boolean isRegister() {
      return register;
    }

    public String getHost() {
      return host;
    }

    public java.util.Map<String, String> getLabels() {
      return labels;
    }
  }

  /** {@code meshlet.inbound.*}: the embedded web server's inbound policy. */
  public static final class Inbound {

    /**
     * Whether the starter puts the embedded servlet web server under the service's inbound policy:
     * Jetty takes mTLS with this workload's identity (and plaintext unless the service's mtls.mode
     * is strict); any servlet server enforces the service's authorization (with mesh-client-http);
     * and start-up fails, or requests get 503, while the mesh asks for mTLS or authorization the
     * server cannot give (Tomcat, Undertow). false leaves the server as it is and the inbound policy
     * to the application.
     */
    private final boolean enabled;

    public Inbound(@DefaultValue("true") boolean enabled) {
      this.enabled = enabled;
    }

    public boolean isEnabled() {
      return enabled;
    }
  }

  public boolean isEnabled() {
    return enabled;
  }

  public String getServiceName() {
    return serviceName;
  }

  public List<String> getControlServers() {
    return controlServers;
  }

  public String getNodeId() {
    return nodeId;
  }

  public String getZone() {
    return zone;
  }

  public Duration getFirstConfigTimeout() {
    return firstConfigTimeout;
  }

  public boolean isAwaitConfigOnStartup() {
    return awaitConfigOnStartup;
  }

  public Identity getIdentity() {
    return identity;
  }

  public Grpc getGrpc() {
    return grpc;
  }

  public Health getHealth() {
    return health;
  }

  /** Where the workload identity comes from. */
  public enum Source {
    /** No identity: plaintext calls only. */
    NONE,
    /** Certificates from the control server's CA, requested with the service's join token. */
    CA,
    /** PEM files kept fresh by an outside issuer (SPIRE, cert-manager). */
    FILES
  }

  /** {@code meshlet.identity.*}: the workload's SPIFFE identity for mTLS. */
  public static final class Identity {

    /** Where the workload identity comes from: none, ca (the control server's CA) or files. */
    private final Source source;

    /** This service's join token, for source ca. Never logged. */
    private final String joinToken;

    /** The CA as host:port, for source ca. Defaults to the first control server. */
    private final String caAddress;

    /** The directory holding cert.pem, key.pem and ca.pem, for source files. */
    private final Path directory;

    /** How often the identity files are checked for changes, for source files. */
    private final Duration pollInterval;

    public Identity(@DefaultValue("none") Source source, String joinToken, String caAddress, Path directory,
        @DefaultValue("5s") Duration pollInterval) {
      this.source = source;
      this.joinToken = joinToken;
      this.caAddress = caAddress;
      this.directory = directory;
      this.pollInterval = pollInterval;
    }

    public Source getSource() {
      return source;
    }

    public String getJoinToken() {
      return joinToken;
    }

    public String getCaAddress() {
      return caAddress;
    }

    public Path getDirectory() {
      return directory;
    }

    public Duration getPollInterval() {
      return pollInterval;
    }

    @Override
    public String toString() {
      return "Identity[source=" + source + ", caAddress=" + caAddress + ", directory=" + directory + "]";
    }
  }

  /** {@code meshlet.grpc.*}: grpc-java's xDS client. */
  public static final class Grpc {

    /**
     * Where the certificate files for grpc-java's file_watcher provider are written when the
     * identity comes from the CA. Defaults to a new temporary directory, deleted on shutdown. With
     * identity source files, grpc reads identity.directory itself.
     */
    private final Path certificateDirectory;

    /**
     * The port of a gRPC server to start: an xDS server (XdsServerBuilder) serving every
     * io.grpc.BindableService bean, with the mesh's mTLS and authorization. None unless set.
     */
    private final Integer serverPort;

    /**
     * Whether to configure gRPC at all (the xDS bootstrap, channels, a server) when
     * mesh-client-grpc is on the class path. An application that makes no gRPC calls can turn it
     * off and start faster.
     */
    private final boolean enabled;

    public Grpc(Path certificateDirectory, Integer serverPort, @DefaultValue("true") boolean enabled) {
      this.certificateDirectory = certificateDirectory;
      this.serverPort = serverPort;
      this.enabled = enabled;
    }

    public boolean isEnabled() {
      return enabled;
    }

    public Integer getServerPort() {
      return serverPort;
    }

    public Path getCertificateDirectory() {
      return certificateDirectory;
    }
  }

  /** {@code meshlet.health.*}: the meshlet health indicator. */
  public static final class Health {

    /**
     * Whether the health indicator reports DOWN while no control server is connected, even though
     * the last good config is still in force. Off by default, so that a control server restart
     * does not take every instance out of its load balancer.
     */
    private final boolean requireConnection;

    public Health(@DefaultValue("false") boolean requireConnection) {
      this.requireConnection = requireConnection;
    }

    public boolean isRequireConnection() {
      return requireConnection;
    }
  }
}
