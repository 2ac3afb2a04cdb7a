package io.meshlet.controlplane.internal.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.intent.Violation;
import io.meshlet.internal.wire.Durations;
import io.meshlet.controlplane.internal.ca.CertificateAuthority;
import io.meshlet.controlplane.internal.intent.IntentTree;
import io.meshlet.controlplane.internal.intent.MeshYamlReader;
import io.meshlet.controlplane.internal.lrs.LoadStore;
import io.meshlet.controlplane.internal.metrics.ServerMetrics;
import io.meshlet.controlplane.internal.source.ClientRegistry;
import io.meshlet.controlplane.internal.source.EtcdSource;
import io.meshlet.controlplane.internal.source.EtcdStore;
import io.meshlet.controlplane.internal.source.MeshState;
import io.meshlet.controlplane.internal.source.Registrations;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP API: {@code /healthz}, {@code /config}, {@code /clients}, {@code /metrics}
 * and a page at {@code /} that shows the same.
 *
 * <p>With a {@link AdminToken token}, every request but {@code /healthz} and {@code /metrics}
 * (which show no service, instance or client) needs {@code Authorization: Bearer <token>}: 401
 * without one, 403 with a wrong one, checked before anything else is read or done. Without a
 * token the API is open; {@link AdminToken#checkExposure} allows that on loopback only.
 *
 * <p>About 600 lines: one handler per endpoint, each short; the page is in {@link AdminPage}.
 */
public final class AdminServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final String ENDPOINTS =
      "GET /healthz, /config, /clients, /traffic, /history, /history/diff, /metrics, /console or /; "
      + "PUT /config (with etcd); POST /ca/rotate";
  /** The longest rotation overlap: a root's lifetime. */
  private static final Duration MAX_OVERLAP = CertificateAuthority.ROOT_LIFETIME;

  private final AdminHttpServer server;
  private final MeshState state;
  private final ClientRegistry clients;
  private final Supplier<List<Registrations.Instance>> registrations;
  private final ServerMetrics metrics;
  private final CertificateAuthority ca;
  private final Optional<EtcdSource> etcd;
  private final Optional<AdminToken> token;

  /**
   * @param registrations the registered instances {@code /config} lists
   * @param etcd the etcd source, when the intent lives in etcd: {@code PUT /config} writes to it
   * @param token the bearer token protected endpoints ask for; empty: open to whoever can connect
   */
  public AdminServer(InetSocketAddress address, MeshState state, ClientRegistry clients,
      Supplier<List<Registrations.Instance>> registrations, ServerMetrics metrics,
      CertificateAuthority ca, Optional<EtcdSource> etcd, Optional<AdminToken> token) throws IOException {
    this.token = token;
    this.ca = ca;
    this.etcd = etcd;
    this.state = state;
    this.clients = clients;
    this.registrations = registrations;
    this.metrics = metrics;
    this.server = new AdminHttpServer(address, this::handle);
  }

  public void start() throws IOException {
    server.start();
  }

  /** The bound port. */
  public int port() {
    return server.port();
  }

  @Override
  public void close() {
    server.close();
  }

  private void handle(Exchange exchange) throws IOException {
    long start = System.nanoTime();
    try (exchange) {
      try {
        route(exchange);
      } catch (RuntimeException e) {
        // A bug, not a client mistake: the stack trace belongs in the log, the client gets a 500.
        log.error("admin request {} {} failed", shortened(exchange.getRequestMethod()),
            shortened(exchange.getRequestURI().toString()), e);
        if (exchange.getResponseCode() == -1) {
          json(exchange, 500, Map.of("error", "internal error: " + e + "; the server log has the details"));
        }
      }
    } finally {
      metrics.adminRequest(exchange.getRequestMethod(), exchange.getResponseCode(), System.nanoTime() - start);
    }
  }

  private void route(Exchange exchange) throws IOException {
    String path = exchange.getRequestURI().getPath();
    String method = exchange.getRequestMethod();
    if (!OPEN.contains(path) && !authenticated(exchange)) {
      return;
    }
    String allow = allowed(path);
    if (allow == null) {
      refuse(exchange, 404, "no such endpoint: " + shortened(path) + " (expected: " + ENDPOINTS + ")");
      return;
    }
    if (path.equals("/config") && method.equals("PUT") && etcd.isEmpty()) {
      exchange.getResponseHeaders().set("Allow", allow);
      refuse(exchange, 405, "PUT /config is not supported: this server follows a file, edit it "
          + "(PUT /config needs serve --etcd)");
      return;
    }
    if (!List.of(allow.split(", ")).contains(method)) {
      exchange.getResponseHeaders().set("Allow", allow);
      refuse(exchange, 405, shortened(method) + " " + path + " is not supported (expected: " + allow + ")");
      return;
    }
    if (!method.equals("GET") && !method.equals("HEAD") && crossOrigin(exchange)) {
      // A web page open in an operator's browser may POST to a loopback admin port without a
      // preflight; curl and scripts send no Origin.
      refuse(exchange, 403, method + " " + path + " from a web page (Origin: "
          + shortened(exchange.getRequestHeaders().getFirst("Origin")) + ") is refused (expected: a request "
          + "without an Origin header, as curl and scripts send)");
      return;
    }
    if (path.equals("/ca/rotate")) {
      rotate(exchange);
      return;
    }
    if (path.equals("/config") && method.equals("PUT")) {
      putConfig(exchange);
      return;
    }
    if (path.equals("/history/diff")) {
      historyDiff(exchange);
      return;
    }
    if (Console.serves(path)) {
      Console.send(exchange, path);
      return;
    }
    if (path.equals("/config") && etcd.isPresent() && wantsYaml(exchange)) {
      getYaml(exchange);
      return;
    }
    switch (path) {
      case "/healthz" -> healthz(exchange);
      case "/config" -> json(exchange, 200, config());
      case "/clients" -> json(exchange, 200, Map.of("clients", clientList()));
      case "/traffic" -> json(exchange, 200, traffic());
      case "/history" -> json(exchange, 200, history());
      case "/metrics" -> send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render());
      default -> send(exchange, 200, "text/html; charset=utf-8", AdminPage.render(state, clients.clients()));
    }
  }

  /** What needs no token: neither shows a service, an instance or a client. */
  private static final java.util.Set<String> OPEN = java.util.Set.of("/healthz", "/metrics",
      // The console's page and script show nothing of the mesh: its JSON calls carry the token.
      "/console", Console.SCRIPT, Console.STYLE);

  /**
   * Whether the request may go on: no token is configured, or it carries the token. Otherwise
   * answers 401 (no bearer credential, with {@code WWW-Authenticate: Bearer}) or 403 (a wrong
   * one) and returns false; the request body is not read. The log line never shows what was sent.
   */
  private boolean authenticated(Exchange exchange) throws IOException {
    if (token.isEmpty()) {
      return true;
    }
    List<String> headers = exchange.getRequestHeaders().getOrDefault("Authorization", List.of());
    String credential = headers.size() == 1 ? bearer(headers.get(0)) : null;
    if (credential == null) {
      exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"meshlet-admin\"");
      refuse(exchange, 401, exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath()
          + " needs a credential (expected: Authorization: Bearer <the token in --admin-token-file>"
          + (headers.isEmpty() ? "" : headers.size() > 1 ? "; got more than one Authorization header"
              : "; got another scheme") + ")");
      return false;
    }
    if (!token.get().matches(credential)) {
      refuse(exchange, 403, "the bearer token is not the admin token (expected: the token in "
          + "--admin-token-file); nothing was done");
      return false;
    }
    return true;
  }

  /** The token of an {@code Authorization: Bearer <token>} header; null for any other scheme. */
  private static String bearer(String header) {
    String h = header.strip();
    if (h.length() < 7 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String credential = h.substring(7).strip();
    return credential.isEmpty() ? null : credential;
  }

  /** Whether a browser sent this from a page of another origin than the admin API's own. */
  private static boolean crossOrigin(Exchange exchange) {
    String origin = exchange.getRequestHeaders().getFirst("Origin");
    String host = exchange.getRequestHeaders().getFirst("Host");
    return origin != null && !origin.equals("http://" + host);
  }

  /** The methods {@code path} answers, as an {@code Allow} header lists them; null for no such endpoint. */
  private String allowed(String path) {
    return switch (path) {
      case "/healthz", "/clients", "/metrics", "/", "/index.html", "/traffic", "/history", "/history/diff",
          "/console", Console.SCRIPT, Console.STYLE -> "GET, HEAD";
      case "/config" -> etcd.isPresent() ? "GET, HEAD, PUT" : "GET, HEAD";
      case "/ca/rotate" -> "POST";
      default -> null;
    };
  }

  /** A value from the request as an error message echoes it: at most 100 characters, then how long it was. */
  static String shortened(String value) {
    return value.length() <= 100 ? value : value.substring(0, 100) + "... (" + value.length() + " characters)";
  }

  /**
   * Answers a request the API refuses, with the message as {@code {"error": ...}}, and logs it once
   * at WARN: the client made a mistake, so no stack trace. A browser's {@code /favicon.ico} is
   * logged at DEBUG.
   */
  private static void refuse(Exchange exchange, int status, String message) throws IOException {
    if (exchange.getRequestURI().getPath().equals("/favicon.ico")) {
      log.debug("admin: refused {} /favicon.ico: {} {}", exchange.getRequestMethod(), status, message);
    } else {
      log.warn("admin: refused {} {} from {}: {} {}", shortened(exchange.getRequestMethod()),
          shortened(exchange.getRequestURI().toString()), exchange.getRemoteAddress(), status, message);
    }
    json(exchange, status, Map.of("error", message));
  }

  /**
   * {@code POST /ca/rotate?overlap=2h}: starts a CA key rotation. 400 for a missing, malformed or
   * too short overlap and for unknown parameters, 409 while a rotation is under way.
   */
  private void rotate(Exchange exchange) throws IOException {
    Map<String, String> params = new LinkedHashMap<>();
    String query = exchange.getRequestURI().getRawQuery();
    if (query != null && !query.isEmpty()) {
      for (String pair : query.split("&", -1)) {
        int eq = pair.indexOf('=');
        String name = eq < 0 ? pair : pair.substring(0, eq);
        String value;
        try {
          value = URLDecoder.decode(eq < 0 ? "" : pair.substring(eq + 1), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
          refuse(exchange, 400, shortened(name) + ": '" + shortened(pair.substring(eq + 1))
              + "' is not URL-encoded correctly ("
              + "expected: e.g. overlap=2h)");
          return;
        }
        if (!name.equals("overlap") && !name.equals("force")) {
          refuse(exchange, 400, "unknown parameter '" + shortened(name) + "' (expected: overlap, force)");
          return;
        }
        if (params.put(name, value) != null) {
          refuse(exchange, 400, name + ": given more than once (expected: once)");
          return;
        }
      }
    }
    String force = params.getOrDefault("force", "false");
    if (!force.equals("true") && !force.equals("false")) {
      refuse(exchange, 400, "force: '" + shortened(force) + "' (expected: true or false)");
      return;
    }
    String overlapText = params.get("overlap");
    Optional<Duration> overlap = overlapText == null ? Optional.empty()
        : Durations.parse(overlapText);
    Duration ttl = state.served().map(s -> s.config().mtls().certTtl()).orElse(Duration.ofHours(1));
    String tooShort = "at least twice mtls.certTtl ("
        + Durations.format(ttl) + "), or force=true when every "
        + "workload renews more often than half the overlap";
    if (overlap.isEmpty()) {
      refuse(exchange, 400, "overlap: " + (overlapText == null ? "missing" : "'" + shortened(overlapText) + "'")
          + " (expected: a duration such as 2h, " + tooShort + ")");
      return;
    }
    if (overlap.get().isZero() || overlap.get().compareTo(MAX_OVERLAP) > 0
        || (force.equals("false") && overlap.get().compareTo(ttl.multipliedBy(2)) < 0)) {
      refuse(exchange, 400, "overlap: '" + overlapText + "' (expected: "
          + (overlap.get().compareTo(MAX_OVERLAP) > 0
              ? "at most " + Durations.format(MAX_OVERLAP) + ", a root's lifetime"
              : overlap.get().isZero() ? "more than 0" : "a duration such as 2h, " + tooShort)
          + ")");
      return;
    }
    try {
      CertificateAuthority.Rotation r = ca.rotate(overlap.get());
      json(exchange, 202, Map.of("newRootSerial", r.newRootSerial(), "newKeySignsFrom", r.switchAt().toString(),
          "oldRootTrustedUntil", r.oldRootTrustedUntil().toString()));
    } catch (CertificateAuthority.RotationNotShared e) {
      refuse(exchange, 409, e.getMessage());
    } catch (IllegalStateException e) {
      refuse(exchange, 409, e.getMessage() + " (expected: one rotation at a time; the next can start when this "
          + "one's overlap has ended)");
    } catch (IOException e) {
      // The new key could not be saved in --ca-dir: the rotation did not start.
      log.error("CA key rotation not started: {}", e.toString());
      json(exchange, 500, Map.of("error", "the CA key rotation did not start: " + e.getMessage()
          + " (check that --ca-dir is writable and has space); nothing changed"));
    }
  }

  private volatile String xdsTransport = "tls";
  private volatile java.util.function.Supplier<String> caSharing;

  /** How the CA is shared between replicas over etcd, as /healthz says it. */
  public void caSharing(java.util.function.Supplier<String> description) {
    this.caSharing = description;
  }

  private volatile java.util.function.Supplier<String> kubernetes;

  /** The Kubernetes source's state, as /healthz says it. */
  public void kubernetes(java.util.function.Supplier<String> description) {
    this.kubernetes = description;
  }

  /** How xDS and the CA are served, as /healthz says it: TLS, or plaintext with its warning. */
  public void xdsTransport(String description) {
    this.xdsTransport = description;
  }

  private void healthz(Exchange exchange) throws IOException {
    Map<String, Object> body = new LinkedHashMap<>();
    var served = state.served();
    body.put("status", served.isPresent() ? "serving" : "starting");
    served.ifPresent(s -> body.put("version", s.version()));
    body.put("connectedClients", clients.connected());
    body.put("xds", xdsTransport);
    body.put("adminAuth", token.isPresent() ? "bearer token"
        : "none: the admin API is open to every local caller (loopback only; see --admin-token-file)");
    // Still 200 while etcd is away: the replica serves the last good config, which is what
    // clients need; taking every replica out of a load balancer at once would serve nothing.
    java.util.function.Supplier<String> sharing = caSharing;
    if (sharing != null) {
      body.put("ca", sharing.get());
    }
    java.util.function.Supplier<String> kube = kubernetes;
    if (kube != null) {
      // Still 200 while the API server is away: the last good endpoints are served.
      body.put("kubernetes", kube.get());
    }
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

  private static boolean wantsYaml(Exchange exchange) {
    String accept = exchange.getRequestHeaders().getFirst("Accept");
    return accept != null && (accept.contains("application/yaml") || accept.contains("text/yaml"));
  }

  /**
   * {@code GET /config} with {@code Accept: application/yaml}, with etcd: the intent as stored, read
   * from etcd now, with its revision as the ETag. A server following a file answers JSON as ever.
   */
  private void getYaml(Exchange exchange) throws IOException {
    Optional<EtcdStore.Intent> intent;
    try {
      intent = etcd.get().store().readIntent();
    } catch (IOException e) {
      refuse(exchange, 503, e.getMessage());
      return;
    }
    if (intent.isEmpty()) {
      refuse(exchange, 404, "no intent at " + etcd.get().store().intentKey());
      return;
    }
    exchange.getResponseHeaders().set("ETag", "\"" + intent.get().modRevision() + "\"");
    send(exchange, 200, "application/yaml; charset=utf-8", intent.get().text());
  }

  /**
   * {@code PUT /config} with a mesh.yaml body and {@code If-Match: "<intentRevision>"} (or
   * {@code *}): validated like a file (400 with every error, nothing written), then written in one
   * transaction that checks the revision (409 when someone else wrote first).
   *
   * <p>Refused before the body is read: no or a malformed {@code If-Match} (428, 400), a
   * {@code Content-Type} other than YAML, JSON or plain text in UTF-8 (415), a
   * {@code Content-Length} over {@link MeshYamlReader#MAX_BYTES} (413). A
   * chunked body is read up to that limit and no further. A body refused for what it holds (too
   * large, not UTF-8, invalid) shows as {@code lastRefused} on {@code GET /config}.
   */
  private void putConfig(Exchange exchange) throws IOException {
    List<String> ifMatches = exchange.getRequestHeaders().getOrDefault("If-Match", List.of());
    if (ifMatches.isEmpty()) {
      refuse(exchange, 428, "If-Match: missing (expected: the intentRevision from GET /config, "
          + "e.g. If-Match: \"42\", or * to overwrite whatever is there)");
      return;
    }
    OptionalLong expected = ifMatches.size() == 1 ? revision(ifMatches.get(0)) : OptionalLong.empty();
    if (expected.isEmpty()) {
      refuse(exchange, 400, "If-Match: " + shortened(String.join(", ", ifMatches)) + " (expected: one revision, the ETag of "
          + "GET /config with Accept: application/yaml, such as \"42\", or *; weak tags and lists never match)");
      return;
    }
    String type = exchange.getRequestHeaders().getFirst("Content-Type");
    Optional<String> typeProblem = contentTypeProblem(type);
    if (typeProblem.isPresent()) {
      refuse(exchange, 415, "Content-Type: " + shortened(type) + " (expected: " + typeProblem.get() + ")");
      return;
    }
    int max = MeshYamlReader.MAX_BYTES;
    String length = exchange.getRequestHeaders().getFirst("Content-Length");
    if (length != null && length.strip().matches("\\d{1,19}") && new BigInteger(length.strip())
        .compareTo(BigInteger.valueOf(max)) > 0) {
      // Not read: the server drains a little and closes the connection.
      exchange.getResponseHeaders().set("Connection", "close");
      refuseBody(exchange, 413, new Violation("PUT /config", 0, "", "", length.strip() + " bytes",
          "at most " + max + " bytes"));
      return;
    }
    byte[] body = exchange.getRequestBody().readNBytes(max + 1);
    if (body.length > max) {
      exchange.getResponseHeaders().set("Connection", "close");
      refuseBody(exchange, 413, new Violation("PUT /config", 0, "", "", "more than " + max + " bytes",
          "at most " + max + " bytes"));
      return;
    }
    MeshConfig config;
    try {
      config = MeshYamlReader.parse(body, "PUT /config");
    } catch (MeshConfigException e) {
      refuseBody(exchange, 400, e);
      return;
    }
    String text = new String(body, StandardCharsets.UTF_8);
    OptionalLong written;
    try {
      written = etcd.get().store().writeIntent(text, expected.getAsLong());
    } catch (IOException e) {
      refuse(exchange, 503, e.getMessage() + "; nothing was written");
      return;
    }
    if (written.isEmpty()) {
      refuse(exchange, 409, "the intent is no longer at revision " + expected.getAsLong() + ": someone else "
          + "wrote first; GET /config again, redo your change and retry");
      return;
    }
    state.history().writtenByAdmin(written.getAsLong(), "PUT /config from " + exchange.getRemoteAddress());
    log.info("PUT /config: intent written at revision {} ({} services)", written.getAsLong(),
        config.services().size());
    exchange.getResponseHeaders().set("ETag", "\"" + written.getAsLong() + "\"");
    json(exchange, 200, Map.of("intentRevision", written.getAsLong(), "services", config.services().size()));
  }

  /**
   * The revision an {@code If-Match} names: {@code "42"} (or {@code 42}) as 42, {@code *} as -1;
   * empty for anything else, such as a weak tag, a list or a negative number.
   */
  static OptionalLong revision(String ifMatch) {
    Matcher m = IF_MATCH.matcher(ifMatch);
    if (!m.matches()) {
      return OptionalLong.empty();
    }
    if (m.group(1).equals("*")) {
      return OptionalLong.of(-1);
    }
    String digits = m.group(2) != null ? m.group(2) : m.group(3);
    return OptionalLong.of(Long.parseLong(digits));
  }

  private static final Pattern IF_MATCH =
      Pattern.compile("\\s*(\\*|\"(\\d{1,18})\"|(\\d{1,18}))\\s*");

  /** The media types a body may be sent as: YAML, and JSON since YAML reads it too. */
  static final List<String> BODY_TYPES = List.of("application/yaml", "application/x-yaml", "text/yaml",
      "text/x-yaml", "application/json", "text/plain");

  /** What is wrong with a request's {@code Content-Type}, or empty when it is fine (or absent). */
  static Optional<String> contentTypeProblem(String header) {
    if (header == null) {
      return Optional.empty();
    }
    String[] parts = header.split(";");
    String type = parts[0].strip().toLowerCase(Locale.ROOT);
    if (!BODY_TYPES.contains(type)) {
      return Optional.of("one of " + String.join(", ", BODY_TYPES) + ", in UTF-8"
          + (type.equals("application/x-www-form-urlencoded")
              ? "; curl sends this with --data-binary unless given -H 'Content-Type: application/yaml'" : ""));
    }
    for (int i = 1; i < parts.length; i++) {
      String[] param = parts[i].split("=", 2);
      if (param[0].strip().equalsIgnoreCase("charset")) {
        String charset = param.length < 2 ? "" : param[1].strip().replace("\"", "").toLowerCase(Locale.ROOT);
        if (!charset.equals("utf-8") && !charset.equals("utf8") && !charset.equals("us-ascii")) {
          return Optional.of(type + " in UTF-8: charset=utf-8, or no charset");
        }
      }
    }
    return Optional.empty();
  }

  /** Refuses a body for what it holds: recorded as the last refusal (which logs it), then answered. */
  private void refuseBody(Exchange exchange, int status, Violation violation) throws IOException {
    refuseBody(exchange, status, new MeshConfigException(List.of(violation)));
  }

  private void refuseBody(Exchange exchange, int status, MeshConfigException e)
      throws IOException {
    state.refuse("PUT /config from " + exchange.getRemoteAddress(), e.violations());
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("error", e.getMessage());
    m.put("errors", e.violations().stream().map(Violation::toString).toList());
    json(exchange, status, m);
  }

  static Map<String, Object> instance(Registrations.Instance i) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("service", i.service());
    m.put("address", i.address());
    m.put("labels", i.labels());
    m.put("nodeId", i.nodeId());
    return m;
  }

  /**
   * A client's sync state for one type: {@code NACKED} when it refused the last version sent,
   * {@code STALE} when it has not ACKed the last version sent, {@code SYNCED} when it has,
   * {@code NOT_SENT} before anything was sent.
   */
  static String sync(ClientRegistry.TypeView t) {
    if (t.lastNack().isPresent() && t.lastNack().get().version().equals(t.sentVersion())
        && !t.ackedVersion().equals(t.sentVersion())) {
      return "NACKED";
    }
    if (t.sentVersion() == null || t.sentVersion().isEmpty()) {
      return "NOT_SENT";
    }
    return t.ackedVersion().equals(t.sentVersion()) ? "SYNCED" : "STALE";
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
        r.put("sync", sync(t));
        resources.put(type, r);
      });
      m.put("resources", resources);
      c.instance().ifPresent(i -> m.put("instance", instance(i)));
      c.registrationError().ifPresent(e -> m.put("registrationRefused", e));
      m.put("transport", c.transport());
      out.add(m);
    }
    return out;
  }

  private volatile LoadStore loadStore;
  private volatile java.time.Duration loadReportInterval = java.time.Duration.ofSeconds(10);

  /** Where {@code /traffic} reads the clients' load reports from, and how often clients send them. */
  public void traffic(LoadStore store, java.time.Duration reportInterval) {
    this.loadStore = store;
    this.loadReportInterval = reportInterval;
  }

  /**
   * {@code GET /traffic[?window=1m]}: the load clients reported, per service, route target and
   * instance, and per service by calling service ({@code callers}, with the tries its authorization
   * refused as {@code denied}).
   */
  Map<String, Object> traffic() {
    LoadStore store = loadStore;
    Map<String, Object> body = new LinkedHashMap<>();
    if (store == null) {
      body.put("services", List.of());
      return body;
    }
    LoadStore.View view = store.view(TRAFFIC_WINDOW);
    body.put("at", view.at().toString());
    body.put("window", Durations.format(view.window()));
    body.put("bucket", Durations.format(view.bucket()));
    body.put("reportInterval", Durations.format(loadReportInterval));
    body.put("scope", etcd.isPresent()
        ? "the clients connected to this replica; every replica shows its own clients' load"
        : "every client connected to this server");
    List<Map<String, Object>> services = new ArrayList<>();
    for (LoadStore.Row svc : view.services()) {
      Map<String, Object> s = figures(svc.figures());
      s.put("service", svc.key().service());
      s.put("series", view.serviceSeries().getOrDefault(svc.key().service(), List.of()));
      List<Map<String, Object>> targets = new ArrayList<>();
      for (LoadStore.Row t : view.targets()) {
        if (!t.key().service().equals(svc.key().service())) {
          continue;
        }
        Map<String, Object> tm = figures(t.figures());
        tm.put("target", t.key().target());
        tm.put("cluster", t.key().target().isEmpty() ? t.key().service() : t.key().service() + "/" + t.key().target());
        List<Map<String, Object>> instances = new ArrayList<>();
        for (LoadStore.Row i : view.instances()) {
          if (i.key().service().equals(t.key().service()) && i.key().target().equals(t.key().target())) {
            Map<String, Object> im = figures(i.figures());
            im.put("instance", i.key().instance().isEmpty() ? "(per locality)" : i.key().instance());
            instances.add(im);
          }
        }
        tm.put("instances", instances);
        targets.add(tm);
      }
      s.put("targets", targets);
      List<Map<String, Object>> callers = new ArrayList<>();
      for (LoadStore.CallerRow c : view.callers()) {
        if (c.caller().service().equals(svc.key().service())) {
          Map<String, Object> cm = figures(c.figures());
          cm.remove("inFlight");
          cm.remove("latencyMs");
          cm.put("caller", c.caller().caller());
          callers.add(cm);
        }
      }
      s.put("callers", callers);
      services.add(s);
    }
    body.put("services", services);
    body.put("reporters", view.reporters().stream().map(r -> {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("nodeId", r.nodeId());
      m.put("service", r.cluster());
      m.put("agent", r.agent());
      m.put("reports", r.reports());
      m.put("lastReport", r.reports() == 0 ? null : r.lastReport().toString());
      return m;
    }).toList());
    return body;
  }

  /** The window {@code /traffic} sums over. */
  static final java.time.Duration TRAFFIC_WINDOW = java.time.Duration.ofMinutes(1);

  private static Map<String, Object> figures(LoadStore.Figures f) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("issued", f.issued());
    m.put("succeeded", f.succeeded());
    m.put("errors", f.errors());
    m.put("rps", Math.round(f.requestsPerSecond() * 100) / 100.0);
    m.put("errorRate", Math.round(f.errorRate() * 10000) / 10000.0);
    m.put("denied", f.denied());
    m.put("deniedRate", Math.round(f.deniedRate() * 10000) / 10000.0);
    m.put("inFlight", f.inFlight());
    m.put("latencyMs", f.latency().map(l -> {
      Map<String, Object> lm = new LinkedHashMap<>();
      lm.put("count", l.count());
      lm.put("mean", Math.round(l.meanMillis() * 100) / 100.0);
      lm.put("p50", Math.round(l.p50Millis() * 100) / 100.0);
      lm.put("p90", Math.round(l.p90Millis() * 100) / 100.0);
      lm.put("p99", Math.round(l.p99Millis() * 100) / 100.0);
      return lm;
    }).orElse(null));
    return m;
  }

  /** {@code GET /history}: the versions served lately, newest first, and the edits refused. */
  Map<String, Object> history() {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("versions", state.history().versions().stream().map(v -> {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("version", v.version());
      m.put("at", v.at().toString());
      m.put("origin", v.origin());
      m.put("source", v.source());
      return m;
    }).toList());
    body.put("refused", state.history().refusals().stream().map(r -> {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("at", r.at().toString());
      m.put("origin", r.origin());
      m.put("source", r.source());
      m.put("errors", r.errors());
      return m;
    }).toList());
    return body;
  }

  /** {@code GET /history/diff?from=V1&to=V2}: what changed in the intent, field by field. */
  private void historyDiff(Exchange exchange) throws IOException {
    Map<String, String> params = new LinkedHashMap<>();
    String query = exchange.getRequestURI().getRawQuery();
    if (query != null && !query.isEmpty()) {
      for (String pair : query.split("&", -1)) {
        int eq = pair.indexOf('=');
        String name = eq < 0 ? pair : pair.substring(0, eq);
        if (!name.equals("from") && !name.equals("to")) {
          refuse(exchange, 400, "unknown parameter '" + shortened(name) + "' (expected: from, to)");
          return;
        }
        params.put(name, eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    var kept = state.history().versions();
    for (String p : List.of("from", "to")) {
      String v = params.get(p);
      if (v == null || state.history().version(v).isEmpty()) {
        refuse(exchange, v == null ? 400 : 404, p + ": " + (v == null ? "missing" : "'" + shortened(v) + "'")
            + " (expected: a version from GET /history, one of " + kept.stream().limit(5)
                .map(io.meshlet.controlplane.internal.source.ConfigHistory.Version::version).toList()
            + (kept.size() > 5 ? "..." : "") + ")");
        return;
      }
    }
    var from = state.history().version(params.get("from")).get();
    var to = state.history().version(params.get("to")).get();
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("from", from.version());
    body.put("to", to.version());
    body.put("changes", io.meshlet.controlplane.internal.source.ConfigHistory.diff(from.intent(), to.intent())
        .stream().map(c -> {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("path", c.path());
          m.put("before", c.before());
          m.put("after", c.after());
          return m;
        }).toList());
    json(exchange, 200, body);
  }

  private static void json(Exchange exchange, int status, Object body) throws IOException {
    String text;
    try {
      text = JSON.writeValueAsString(body) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    send(exchange, status, "application/json", text);
  }

  static void send(Exchange exchange, int status, String type, String body) throws IOException {
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
