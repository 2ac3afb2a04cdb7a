package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import io.meshlet.MeshListener;
import io.meshlet.config.InboundPolicy;
import io.meshlet.config.MeshSnapshot;
import io.meshlet.config.MtlsMode;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.SmartLifecycle;

/**
 * Keeps the embedded web server (servlet or reactive) from serving unprotected while the mesh says the service is
 * protected: it compares what the service's inbound policy asks ({@code mtls.mode}, authorization)
 * with what the running server can enforce, and
 *
 * <ul>
 *   <li>at start-up, before the server starts listening, fails start-up with a
 *       {@link MeshletInboundException} naming what to change when the config is there (it is with
 *       {@code meshlet.await-config-on-startup}, which this waits for);
 *   <li>afterwards, on every config, logs at ERROR and turns every request away with 503 while the
 *       server cannot give what the mesh asks, and serves again once it can (a later config);
 *   <li>before the first config, turns requests away with 503: the policy is not known yet, and
 *       serving them could serve a service the mesh protects unprotected.
 * </ul>
 *
 * <p>What a server can enforce: Jetty under {@link MeshletJettyInbound} (an identity and
 * {@code mesh-client-http}) takes mTLS with the rotating SVID and plaintext on one port, and
 * authorizes; Tomcat under {@link MeshletTomcatInbound} (an identity) takes strict mTLS only, as its
 * connector cannot tell TLS from plaintext on one port, so {@code permissive} is refused there; any
 * other server (Undertow, Jetty or Tomcat without an identity) takes no mTLS from the starter. All
 * but Jetty under the mesh authorize when {@code io.meshlet.inbound.MeshServletFilter} is registered.
 * Under WebFlux, Reactor Netty under {@link MeshletNettyInbound} (an identity) takes strict mTLS only,
 * as Tomcat does, and {@link MeshletAuthorizationWebFilter} authorizes on any reactive server; other
 * reactive servers (Tomcat, Jetty, Undertow under WebFlux) take no mTLS from the starter. An allow list under {@code mtls: off}
 * is enforced as on Jetty: callers present no certificate, so only requests the rules open to anyone
 * are served, others get 403; a WARN says so.
 *
 * <p>Thread-safe. A request reads one volatile field and compares one snapshot reference; the
 * verdict is computed again only when the config changes.
 */
final class MeshletInboundGuard implements SmartLifecycle, MeshListener {

  private static final Logger log = LoggerFactory.getLogger(MeshletInboundGuard.class);

  /** Before the web server starts listening ({@code WebServerStartStopLifecycle}: {@code MAX_VALUE - 2048}). */
  static final int PHASE = Integer.MAX_VALUE - 4096;

  /** What the name of a reactive (WebFlux) web server other than Reactor Netty starts with here: "reactive (WebFlux) Tomcat". */
  static final String REACTIVE = "reactive (WebFlux)";

  /** The name of the Reactor Netty server of a WebFlux application. */
  static final String NETTY = "Reactor Netty";

  /**
   * What the embedded server can do for the mesh.
   *
   * @param mtls whether it takes mTLS with the workload's SVID and requires client certificates there
   * @param plaintext whether it takes plaintext callers
   * @param authorization whether the service's allow list is enforced
   * @param identity whether the application has a workload identity
   */
  record Server(String name, boolean mtls, boolean plaintext, boolean authorization, boolean identity) {}

  /**
   * What the guard decided for one config.
   *
   * @param serving whether requests may go on
   * @param problem when not serving, what the mesh asks that this server cannot give (or that no config is here)
   * @param action when not serving, what to change
   * @param warning when serving, a caveat worth a WARN, else null
   */
  record Verdict(boolean serving, String problem, String action, String warning) {
    static Verdict serve(String warning) {
      return new Verdict(true, null, null, warning);
    }

    static Verdict refuse(String problem, String action) {
      return new Verdict(false, problem, action, null);
    }
  }

  private record Evaluated(MeshSnapshot snapshot, Verdict verdict) {}

  private final String service;
  private final ObjectProvider<MeshClient> mesh;
  private final Supplier<Server> server;
  private final Duration timeout;
  private final boolean await;
  private volatile Evaluated current;
  private volatile boolean running;

  /**
   * @param service the service's name in the mesh
   * @param mesh the client, looked up lazily: it hears this listener, so it is made after it
   * @param server the running web server, null until the context has made it
   */
  MeshletInboundGuard(String service, ObjectProvider<MeshClient> mesh, Supplier<Server> server, Duration timeout,
      boolean await) {
    this.service = Objects.requireNonNull(service, "service");
    this.mesh = mesh;
    this.server = server;
    this.timeout = timeout;
    this.await = await;
    this.current = new Evaluated(null, waiting(service));
  }

  static Verdict waiting(String service) {
    return Verdict.refuse("meshlet: service '" + service + "' has no mesh config yet, so its inbound policy"
        + " (mtls.mode, authorization) is not known", "not serving until the first config arrives; set"
        + " meshlet.await-config-on-startup=true to start listening only once it is here");
  }

  /**
   * What a server can do under a policy: serve, with an optional warning, or refuse with what to change.
   * Pure; the rule in one place.
   */
  static Verdict decide(String service, InboundPolicy policy, Server server) {
    String escape = "or set meshlet.inbound.enabled=false to take responsibility for the inbound policy yourself";
    String asks = "meshlet: service '" + service + "' asks for mtls " + policy.mtls().name().toLowerCase(Locale.ROOT);
    String useJetty = "use spring-boot-starter-jetty (exclude spring-boot-starter-"
        + server.name().toLowerCase(Locale.ROOT) + ")";
    // Servers that take TLS or plaintext on a port, so strict mTLS only, which they take at start-up.
    boolean strictOnly = server.name().equals("Tomcat") || server.name().equals(NETTY);
    if (policy.mtls() == MtlsMode.PERMISSIVE && server.name().equals("Tomcat") && server.identity()) {
      // Whether Tomcat took mTLS or not: it serves one of the two, and permissive asks for both.
      return Verdict.refuse(asks + ", but the embedded Tomcat server cannot take plaintext and mTLS on one port",
          "set mtls.mode strict (or off) for the service in the mesh config, or " + useJetty
              + " for a permissive rollout, " + escape);
    }
    if (policy.mtls() == MtlsMode.PERMISSIVE && server.name().equals(NETTY) && server.identity()) {
      return Verdict.refuse(asks + ", but the embedded Reactor Netty server cannot take plaintext and mTLS on one"
          + " port", "set mtls.mode strict (or off) for the service in the mesh config, or serve it with Spring MVC"
          + " on spring-boot-starter-jetty for a permissive rollout, " + escape);
    }
    if (policy.mtls() != MtlsMode.OFF && !server.mtls()) {
      if (server.name().equals("Jetty") && !server.identity()) {
        return Verdict.refuse(asks + ", but this application has no workload identity, so the embedded Jetty"
            + " server cannot take mTLS", "set meshlet.identity.source (ca or files), " + escape);
      }
      if (server.name().equals("Jetty")) {
        return Verdict.refuse(asks + ", but the embedded Jetty server is not under the mesh's mTLS without"
            + " mesh-client-http", "add io.meshlet:mesh-client-http, " + escape);
      }
      if (strictOnly && !server.identity()) {
        return Verdict.refuse(asks + ", but this application has no workload identity, so the embedded "
            + server.name() + " server cannot take mTLS", "set meshlet.identity.source (ca or files), " + escape);
      }
      if (strictOnly) {
        return Verdict.refuse(asks + ", but the embedded " + server.name() + " server was started in plaintext, as"
            + " the mode at start-up asked, and cannot change while it serves", "restart the service (with"
            + " meshlet.await-config-on-startup=true " + server.name() + " starts with the mode the mesh asks then), "
            + escape);
      }
      if (server.name().startsWith(REACTIVE)) {
        String kind = server.name().substring(REACTIVE.length()).trim();
        return Verdict.refuse(asks + ", but the embedded web server is " + server.name() + ", which the starter"
            + " cannot put under the mesh's mTLS", "run WebFlux on Reactor Netty (spring-boot-starter-webflux's"
            + " default server: remove spring-boot-starter-" + kind.toLowerCase(Locale.ROOT) + ")"
            + (server.identity() ? "" : " and set meshlet.identity.source") + ", " + escape);
      }
      return Verdict.refuse(asks + ", but the embedded web server is " + server.name() + ", which the starter"
          + " cannot put under the mesh's mTLS", useJetty + " or spring-boot-starter-tomcat"
          + (server.identity() ? "" : " and set meshlet.identity.source") + ", " + escape);
    }
    if (restricts(policy) && !server.authorization()) {
      return Verdict.refuse("meshlet: service '" + service + "' has an authorization allow list, but nothing"
          + " enforces it on the embedded " + server.name() + " server", "add io.meshlet:mesh-client-http (its"
          + " MeshServletFilter enforces it on any servlet container), " + escape);
    }
    if (policy.mtls() == MtlsMode.OFF && !server.plaintext()) {
      return Verdict.serve("meshlet: service '" + service + "' has mtls.mode off, but the embedded "
          + server.name() + " server was started under strict mTLS and cannot change while it serves: callers"
          + " without a certificate cannot connect until the service is restarted");
    }
    if (restricts(policy) && policy.mtls() == MtlsMode.OFF) {
      return Verdict.serve("meshlet: service '" + service + "' has an authorization allow list while mtls.mode is"
          + " off: callers present no certificate, so only requests its rules open to anyone are served and"
          + " the others get 403 (set mtls.mode permissive or strict so that callers can be identified)");
    }
    return Verdict.serve(null);
  }

  /** Whether some requests are open only to some callers. */
  private static boolean restricts(InboundPolicy policy) {
    return policy.grants().map(grants -> grants.stream().anyMatch(g -> !g.anyone())).orElse(false);
  }

  /** The verdict for the config in force now, computed again when it changed since the last request. */
  /** The mesh client, looked up once it exists: the bean factory stays off the request path. */
  private volatile MeshClient client;

  Verdict verdict() {
    Evaluated e = current;
    MeshClient client = this.client;
    if (client == null) {
      client = this.client = mesh.getIfAvailable();
    }
    if (client == null) {
      return e.verdict();
    }
    MeshSnapshot now = client.snapshot();
    return now == e.snapshot() ? e.verdict() : evaluate(now);
  }

  @Override
  public void onConfig(MeshSnapshot snapshot) {
    evaluate(snapshot, true);
  }

  private Verdict evaluate(MeshSnapshot snapshot) {
    return evaluate(snapshot, true);
  }

  /** @param serving whether the server is serving: a refusal then turns requests away, else it fails start-up */
  private synchronized Verdict evaluate(MeshSnapshot snapshot, boolean serving) {
    Evaluated before = current;
    if (snapshot == before.snapshot()) {
      return before.verdict();
    }
    MeshClient client = mesh.getIfAvailable();
    Server s = server.get();
    if (s == null || client == null || !hasConfig(client)) {
      return before.verdict();   // no server yet (start() decides), or no config yet: still waiting
    }
    Verdict v = decide(service, snapshot.inbound(service), s);
    current = new Evaluated(snapshot, v);
    if (!v.equals(before.verdict())) {
      if (!v.serving() && serving) {
        log.error("[{}] {}: every request gets 503 until a config asks for what this server can give. {}",
            client.nodeId(), v.problem(), v.action());
      } else if (before.snapshot() != null && !before.verdict().serving()) {
        log.info("[{}] the inbound policy of '{}' is one the embedded {} server can enforce again: serving",
            client.nodeId(), service, s.name());
      }
      if (v.warning() != null) {
        log.warn("[{}] {}", client.nodeId(), v.warning());
      }
    }
    return v;
  }

  private static boolean hasConfig(MeshClient client) {
    try {
      return client.awaitConfig(Duration.ZERO);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  @Override
  public void start() {
    running = true;
    MeshClient client = mesh.getObject();
    if (await) {
      try {
        client.awaitConfig(timeout);   // without it, MeshletStartup fails start-up a moment later
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (!hasConfig(client)) {
      log.info("[{}] no mesh config yet: the embedded web server answers 503 until it arrives and shows"
          + " what the inbound policy of '{}' asks", client.nodeId(), service);
      return;
    }
    Verdict v = evaluate(client.snapshot(), false);   // a refusal is the start-up failure's, not an ERROR line
    if (!v.serving()) {
      throw new MeshletInboundException(v.problem(), v.action());
    }
  }

  @Override
  public void stop() {
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

  /** The servlet filter that answers 503 while the guard does not let requests through. */
  Filter filter() {
    return new Gate(this);
  }

  private static final class Gate implements Filter {
    private final MeshletInboundGuard guard;

    Gate(MeshletInboundGuard guard) {
      this.guard = guard;
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
        throws IOException, ServletException {
      Verdict v = guard.verdict();
      if (v.serving()) {
        chain.doFilter(request, response);
        return;
      }
      if (response instanceof HttpServletResponse http) {
        byte[] body = (v.problem() + ": " + v.action() + "\n").getBytes(StandardCharsets.UTF_8);
        http.resetBuffer();
        http.setStatus(503);
        http.setContentType("text/plain; charset=utf-8");
        http.setContentLength(body.length);
        http.getOutputStream().write(body);
        http.flushBuffer();
      }
    }
  }
}
