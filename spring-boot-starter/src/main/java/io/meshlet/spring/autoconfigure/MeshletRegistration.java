package io.meshlet.spring.autoconfigure;

import io.meshlet.internal.net.HostPort;
import io.meshlet.MeshClient;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationContext;
import org.springframework.context.SmartLifecycle;
import org.springframework.core.env.Environment;

/**
 * Registers the application's web server as an instance of its service once it has started, and
 * takes it out again before a graceful shutdown stops it: its lifecycle phase is later than the
 * web server's start and earlier than its graceful shutdown.
 */
public final class MeshletRegistration implements SmartLifecycle {

  private static final Logger log = LoggerFactory.getLogger(MeshletRegistration.class);

  /** After {@code WebServerStartStopLifecycle} and {@code WebServerGracefulShutdownLifecycle}. */
  static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 512;

  private final MeshClient mesh;
  private final ApplicationContext context;
  private final String host;
  private final Map<String, String> labels;
  /** Logged when registering: why the control server will refuse the registration, if it will. */
  private final String refusal;
  private volatile boolean running;

  /**
   * @param context the application context whose web server is registered; null to register
   *     nothing (when a gRPC server is the instance)
   */
  public MeshletRegistration(MeshClient mesh, ApplicationContext context, String host, Map<String, String> labels) {
    this(mesh, context, host, labels, null);
  }

  MeshletRegistration(MeshClient mesh, ApplicationContext context, String host, Map<String, String> labels,
      String refusal) {
    this.mesh = mesh;
    this.context = context;
    this.host = host;
    this.labels = Map.copyOf(labels);
    this.refusal = refusal;
  }

  /** {@code meshlet.instance.host}, else {@code server.address}, else this machine's address. */
  static String host(MeshletProperties properties, Environment env) {
    if (properties.getInstance().getHost() != null) {
      return properties.getInstance().getHost();
    }
    String serverAddress = env.getProperty("server.address");
    if (serverAddress != null && !serverAddress.equals("0.0.0.0") && !serverAddress.equals("::")) {
      return serverAddress;
    }
    try {
      return InetAddress.getLocalHost().getHostAddress();
    } catch (UnknownHostException e) {
      throw new IllegalStateException("meshlet.instance.host: not set, and this machine's address is unknown ("
          + e.getMessage() + "); set meshlet.instance.host to the address callers reach this instance at", e);
    }
  }

  @Override
  public void start() {
    Integer webPort = context == null ? null : BootLine.webServerPort(context);
    if (webPort == null) {
      log.debug("no web server: nothing to register");
      running = true;
      return;
    }
    int port = webPort;
    if (port <= 0) {
      log.warn("the web server has no port yet ({}); not registering this instance", port);
      running = true;
      return;
    }
    String address = HostPort.format(host, port);
    mesh.register(address, labels);
    if (refusal != null) {
      log.warn("[{}] registering {}, but {}", mesh.nodeId(), address, refusal);
    }
    running = true;
  }

  /** Why the control server will refuse the registration, if it will; logged when registering. */
  String refusal() {
    return refusal;
  }

  @Override
  public void stop() {
    mesh.deregister();
    running = false;
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }
}
