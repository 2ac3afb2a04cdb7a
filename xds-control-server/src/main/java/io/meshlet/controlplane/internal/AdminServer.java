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
  private final Registrations registrations;
  private final ServerMetrics metrics;
  private final CertificateAuthority ca;

  public AdminServer(InetSocketAddress address, MeshState state, ClientRegistry clients, Registrations registrations,
      ServerMetrics metrics, CertificateAuthority ca) throws IOException {
    this.ca = ca;
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
      if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        json(exchange, 405, Map.of("error", exchange.getRequestMethod() + " " + path
            + " is not supported (expected: GET)"));
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
      body.put("registered", registrations.instances().stream().map(AdminServer::instance).toList());
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
