package io.meshlet.controlplane.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.meshlet.controlplane.Violation;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP API: {@code /healthz}, {@code /config}, {@code /clients}, {@code /metrics}
 * and a page at {@code /} that shows the same.
 */
public final class AdminServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final HttpServer server;
  private final ExecutorService executor;
  private final MeshState state;
  private final ClientRegistry clients;
  private final java.util.function.Supplier<List<Registrations.Instance>> registrations;
  private final ServerMetrics metrics;
  private final CertificateAuthority ca;
  private final java.util.Optional<EtcdSource> etcd;

  /**
   * @param registrations the registered instances {@code /config} lists
   * @param etcd the etcd source, when the intent lives in etcd: {@code PUT /config} writes to it
   */
  public AdminServer(InetSocketAddress address, MeshState state, ClientRegistry clients,
      java.util.function.Supplier<List<Registrations.Instance>> registrations, ServerMetrics metrics,
      CertificateAuthority ca, java.util.Optional<EtcdSource> etcd) throws IOException {
    this.ca = ca;
    this.etcd = etcd;
    this.state = state;
    this.clients = clients;
    this.registrations = registrations;
    this.metrics = metrics;
    this.server = HttpServer.create(address, 64);
    this.executor = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "meshlet-admin");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.createContext("/", this::handle);
  }

  public void start() {
    server.start();
  }

  /** The bound port. */
  public int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      if (path.equals("/ca/rotate")) {
        rotate(exchange);
        return;
      }
      if (path.equals("/config") && exchange.getRequestMethod().equals("PUT")) {
        putConfig(exchange);
        return;
      }
      if (path.equals("/config") && etcd.isPresent() && wantsYaml(exchange)) {
        getYaml(exchange);
        return;
      }
      if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        json(exchange, 405, Map.of("error", exchange.getRequestMethod() + " " + path
            + " is not supported (expected: GET" + (path.equals("/config") ? " or PUT" : "") + ")"));
        return;
      }
      switch (path) {
        case "/healthz" -> healthz(exchange);
        case "/config" -> json(exchange, 200, config());
        case "/clients" -> json(exchange, 200, Map.of("clients", clientList()));
        case "/metrics" -> send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render());
        case "/", "/index.html" -> send(exchange, 200, "text/html; charset=utf-8", AdminPage.render(
            state, clients.clients()));
        default -> json(exchange, 404, Map.of("error", "no such endpoint: " + path
            + " (expected: /healthz, /config, /clients, /metrics or /)"));
      }
    } catch (RuntimeException e) {
      log.error("admin request {} failed", exchange.getRequestURI(), e);
    }
  }

  /** {@code POST /ca/rotate?overlap=2h}: starts a CA key rotation. */
  private void rotate(HttpExchange exchange) throws IOException {
    if (!exchange.getRequestMethod().equals("POST")) {
      exchange.getResponseHeaders().set("Allow", "POST");
      json(exchange, 405, Map.of("error", exchange.getRequestMethod() + " /ca/rotate is not supported (expected: POST)"));
      return;
    }
    String query = exchange.getRequestURI().getRawQuery();
    String overlapText = null;
    boolean force = false;
    if (query != null) {
      for (String pair : query.split("&")) {
        if (pair.startsWith("overlap=")) {
          overlapText = java.net.URLDecoder.decode(pair.substring("overlap=".length()), StandardCharsets.UTF_8);
        } else if (pair.equals("force=true")) {
          force = true;
        }
      }
    }
    java.util.Optional<java.time.Duration> overlap = overlapText == null ? java.util.Optional.empty()
        : io.meshlet.controlplane.MeshConfigParser.parseDuration(overlapText);
    java.time.Duration ttl = state.served().map(s -> s.config().mtls().certTtl()).orElse(java.time.Duration.ofHours(1));
    if (overlap.isEmpty() || (!force && overlap.get().compareTo(ttl.multipliedBy(2)) < 0)) {
      json(exchange, 400, Map.of("error", "overlap: " + (overlapText == null ? "missing" : "'" + overlapText + "'")
          + " (expected: a duration such as 2h, at least twice mtls.certTtl ("
          + io.meshlet.controlplane.MeshConfigParser.formatDuration(ttl) + "), or force=true when every "
          + "workload renews more often than half the overlap)"));
      return;
    }
    try {
      CertificateAuthority.Rotation r = ca.rotate(overlap.get());
      json(exchange, 202, Map.of("newRootSerial", r.newRootSerial(), "newKeySignsFrom", r.switchAt().toString(),
          "oldRootTrustedUntil", r.oldRootTrustedUntil().toString()));
    } catch (IllegalStateException e) {
      json(exchange, 409, Map.of("error", e.getMessage()));
    }
  }

  private void healthz(HttpExchange exchange) throws IOException {
    Map<String, Object> body = new LinkedHashMap<>();
    var served = state.served();
    body.put("status", served.isPresent() ? "serving" : "starting");
    served.ifPresent(s -> body.put("version", s.version()));
    body.put("connectedClients", clients.connected());
    // Still 200 while etcd is away: the replica serves the last good config, which is what
    // clients need; taking every replica out of a load balancer at once would serve nothing.
    etcd.ifPresent(e -> body.put("etcd", e.unreachableSince()
        .map(since -> "unreachable since " + since + "; serving the last good config")
        .orElse("connected")));
    json(exchange, served.isPresent() ? 200 : 503, body);
  }

  Map<String, Object> config() {
    Map<String, Object> body = new LinkedHashMap<>();
    state.served().ifPresentOrElse(s -> {
      body.put("version", s.version());
      body.put("source", s.source());
      body.put("loadedAt", s.at().toString());
      body.put("resourceVersions", Map.of(
          "Listener", s.resources().listenersVersion(),
          "RouteConfiguration", s.resources().routesVersion(),
          "Cluster", s.resources().clustersVersion(),
          "ClusterLoadAssignment", s.resources().endpointsVersion()));
      body.put("intent", IntentTree.of(s.config()));
      etcd.ifPresent(e -> body.put("intentRevision", e.intentRevision()));
      body.put("registered", registrations.get().stream().map(AdminServer::instance).toList());
    }, () -> body.put("version", null));
    body.put("lastRefused", state.lastRefusal().map(r -> {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("source", r.source());
      m.put("at", r.at().toString());
      m.put("errors", r.violations().stream().map(Violation::toString).toList());
      return m;
    }).orElse(null));
    return body;
  }

  private static boolean wantsYaml(HttpExchange exchange) {
    String accept = exchange.getRequestHeaders().getFirst("Accept");
    return accept != null && (accept.contains("application/yaml") || accept.contains("text/yaml"));
  }

  /**
   * {@code GET /config} with {@code Accept: application/yaml}, with etcd: the intent as stored, read
   * from etcd now, with its revision as the ETag. A server following a file answers JSON as ever.
   */
  private void getYaml(HttpExchange exchange) throws IOException {
    java.util.Optional<EtcdStore.Intent> intent;
    try {
      intent = etcd.get().store().readIntent();
    } catch (IOException e) {
      json(exchange, 503, Map.of("error", e.getMessage()));
      return;
    }
    if (intent.isEmpty()) {
      json(exchange, 404, Map.of("error", "no intent at " + etcd.get().store().intentKey()));
      return;
    }
    exchange.getResponseHeaders().set("ETag", "\"" + intent.get().modRevision() + "\"");
    send(exchange, 200, "application/yaml; charset=utf-8", intent.get().text());
  }

  /**
   * {@code PUT /config} with a mesh.yaml body and {@code If-Match: "<intentRevision>"} (or
   * {@code *}): validated like a file (400 with every error, nothing written), then written in one
   * transaction that checks the revision (409 when someone else wrote first).
   */
  private void putConfig(HttpExchange exchange) throws IOException {
    if (etcd.isEmpty()) {
      exchange.getResponseHeaders().set("Allow", "GET, HEAD");
      json(exchange, 405, Map.of("error", "PUT /config is not supported: this server follows a file, edit it "
          + "(PUT /config needs serve --etcd)"));
      return;
    }
    String ifMatch = exchange.getRequestHeaders().getFirst("If-Match");
    long expected;
    if (ifMatch == null) {
      json(exchange, 428, Map.of("error", "If-Match: missing (expected: the intentRevision from GET /config, "
          + "e.g. If-Match: \"42\", or * to overwrite whatever is there)"));
      return;
    } else if (ifMatch.trim().equals("*")) {
      expected = -1;
    } else {
      try {
        expected = Long.parseLong(ifMatch.trim().replace("\"", ""));
      } catch (NumberFormatException e) {
        json(exchange, 400, Map.of("error", "If-Match: " + ifMatch + " (expected: a revision such as \"42\", or *)"));
        return;
      }
    }
    byte[] body = exchange.getRequestBody().readNBytes(io.meshlet.controlplane.MeshConfigParser.MAX_BYTES + 1);
    String text = new String(body, StandardCharsets.UTF_8);
    io.meshlet.controlplane.MeshConfig config;
    try {
      config = io.meshlet.controlplane.MeshConfigParser.parse(text, "PUT /config");
    } catch (io.meshlet.controlplane.MeshConfigException e) {
      state.refuse("PUT /config", e.violations());
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("error", e.getMessage());
      m.put("errors", e.violations().stream().map(Violation::toString).toList());
      json(exchange, 400, m);
      return;
    }
    java.util.OptionalLong written;
    try {
      written = etcd.get().store().writeIntent(text, expected);
    } catch (IOException e) {
      json(exchange, 503, Map.of("error", e.getMessage() + "; nothing was written"));
      return;
    }
    if (written.isEmpty()) {
      json(exchange, 409, Map.of("error", "the intent is no longer at revision " + expected + ": someone else "
          + "wrote first; GET /config again, redo your change and retry"));
      return;
    }
    log.info("PUT /config: intent written at revision {} ({} services)", written.getAsLong(),
        config.services().size());
    exchange.getResponseHeaders().set("ETag", "\"" + written.getAsLong() + "\"");
    json(exchange, 200, Map.of("intentRevision", written.getAsLong(), "services", config.services().size()));
  }

  static Map<String, Object> instance(Registrations.Instance i) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("service", i.service());
    m.put("address", i.address());
    m.put("labels", i.labels());
    m.put("nodeId", i.nodeId());
    return m;
  }

  List<Map<String, Object>> clientList() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (ClientRegistry.ClientView c : clients.clients()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("nodeId", c.nodeId());
      m.put("cluster", c.cluster());
      m.put("stream", c.streamId());
      m.put("protocol", c.protocol());
      m.put("connectedAt", c.connectedAt().toString());
      Map<String, Object> resources = new LinkedHashMap<>();
      c.resources().forEach((type, t) -> {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("subscribed", t.subscribed());
        r.put("sentVersion", t.sentVersion());
        r.put("ackedVersion", t.ackedVersion());
        r.put("lastNack", t.lastNack().map(n -> Map.of(
            "version", n.version(), "message", n.message(), "at", n.at().toString())).orElse(null));
        resources.put(type, r);
      });
      m.put("resources", resources);
      c.instance().ifPresent(i -> m.put("instance", instance(i)));
      c.registrationError().ifPresent(e -> m.put("registrationRefused", e));
      out.add(m);
    }
    return out;
  }

  private static void json(HttpExchange exchange, int status, Object body) throws IOException {
    String text;
    try {
      text = JSON.writeValueAsString(body) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    send(exchange, status, "application/json", text);
  }

  private static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }
}
