package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.EtcdCluster;
import io.meshlet.controlplane.testing.MeshFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

/**
 * The admin API with {@code --admin-token-file}: every endpoint that shows or changes the mesh
 * answers 401 without a bearer credential and 403 with a wrong one, changing nothing, and serves
 * the right one; {@code /healthz} and {@code /metrics} stay open. Without a token, the API may
 * bind to loopback only. {@code PUT /config} runs against a replica over a one-member etcd
 * (skipped without {@code etcd} on the PATH).
 */
class AdminAuthIT {

  private static final ObjectMapper JSON = new ObjectMapper();
  static final String TOKEN = "3f1c0f9e4b2a7d6c5e8f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";
  static final String WRONG = "3f1c0f9e4b2a7d6c5e8f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2e";

  @TempDir static Path dir;
  static Path tokenFile;
  static ControlServer server;
  static EtcdCluster etcd;
  static ControlServer replica;
  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();

  @BeforeAll
  static void start() throws Exception {
    Path file = new MeshFile(dir).write(MeshFile.CANARY).path();
    tokenFile = Files.writeString(dir.resolve("admin.token"), TOKEN + "\n", StandardCharsets.US_ASCII);
    Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
    server = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).adminTokenFile(tokenFile).build()
        .start();
    if (EtcdCluster.binary().isPresent()) {
      etcd = EtcdCluster.start(1);
      replica = ControlServer.builder().xdsPlaintext(true).etcd(etcd.endpointList()).caKeyEncryptionKeyFile(etcd.caKeyEncryptionKey()).configFile(file).xdsPort(0).adminPort(0)
          .adminTokenFile(tokenFile).build().start();
    }
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(server, replica, etcd);
  }

  @BeforeEach
  void captureLogs() {
    logs.start();
    ((Logger) LoggerFactory.getLogger("io.meshlet.controlplane")).addAppender(logs);
  }

  @AfterEach
  void releaseLogs() {
    ((Logger) LoggerFactory.getLogger("io.meshlet.controlplane")).detachAppender(logs);
    // Whatever happened, the token never reaches the log.
    assertThat(logs.list).extracting(ILoggingEvent::getFormattedMessage)
        .noneMatch(m -> m.contains(TOKEN) || m.contains(WRONG));
  }

  /** A request to {@code server}'s admin port, with this {@code Authorization} header unless null. */
  static HttpResponse<String> send(ControlServer to, String method, String path, String authorization,
      String body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + to.adminPort() + path))
        .timeout(Duration.ofSeconds(10))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    if (method.equals("PUT")) {
      b.header("If-Match", "*").header("Content-Type", "application/yaml");
    }
    try {
      return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static JsonNode config(ControlServer of) throws IOException {
    HttpResponse<String> r = send(of, "GET", "/config", "Bearer " + TOKEN, null);
    assertThat(r.statusCode()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  /** Every protected endpoint, as the request that would use it. */
  static Stream<Arguments> protectedEndpoints() {
    return Stream.of(
        Arguments.of("GET", "/config"),
        Arguments.of("HEAD", "/config"),
        Arguments.of("GET", "/clients"),
        Arguments.of("GET", "/"),
        Arguments.of("GET", "/index.html"),
        Arguments.of("GET", "/traffic"),
        Arguments.of("GET", "/history"),
        Arguments.of("GET", "/history/diff?from=a&to=b"),
        Arguments.of("POST", "/ca/rotate?overlap=2h"),
        Arguments.of("PUT", "/config"),
        Arguments.of("GET", "/no-such-endpoint"));
  }

  /** Credentials that are not a bearer token, each answered 401. */
  static Stream<String> noCredential() {
    return Stream.of(null, "", "Bearer", "Bearer   ", "Basic YWRtaW46" + TOKEN, TOKEN, "Token " + TOKEN);
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("protectedEndpoints")
  void withoutACredentialEachProtectedEndpointAnswers401AndChangesNothing(String method, String path)
      throws Exception {
    for (ControlServer target : targets(method)) {
      JsonNode before = config(target);
      for (String authorization : noCredential().toList()) {
        logs.list.clear();
        HttpResponse<String> r = send(target, method, path, authorization, method.equals("PUT") ? "services: {}\n" : null);

        assertThat(r.statusCode()).as("%s %s with Authorization: %s", method, path, authorization).isEqualTo(401);
        assertThat(r.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"meshlet-admin\"");
        if (!method.equals("HEAD")) {
          assertThat(JSON.readTree(r.body()).path("error").asText())
              .startsWith(method + " " + path.replaceAll("\\?.*", "") + " needs a credential (expected: "
                  + "Authorization: Bearer <the token in --admin-token-file>");
        }
        assertOneWarning(path);
      }
      assertThat(config(target)).isEqualTo(before);
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("protectedEndpoints")
  void withAWrongTokenEachProtectedEndpointAnswers403AndChangesNothing(String method, String path)
      throws Exception {
    for (ControlServer target : targets(method)) {
      JsonNode before = config(target);
      for (String wrong : List.of(WRONG, TOKEN.substring(1), TOKEN + "0", "x")) {
        logs.list.clear();
        HttpResponse<String> r = send(target, method, path, "Bearer " + wrong,
            method.equals("PUT") ? "services: {}\n" : null);

        assertThat(r.statusCode()).as("%s %s", method, path).isEqualTo(403);
        if (!method.equals("HEAD")) {
          assertThat(JSON.readTree(r.body()).path("error").asText()).isEqualTo("the bearer token is not the admin "
              + "token (expected: the token in --admin-token-file); nothing was done");
        }
        assertOneWarning(path);
      }
      assertThat(config(target)).isEqualTo(before);
    }
  }

  /** The server following a file, and for {@code PUT} the replica over etcd when there is one. */
  private static List<ControlServer> targets(String method) {
    return method.equals("PUT") && replica != null ? List.of(server, replica) : List.of(server);
  }

  /** One WARN from the admin API, naming the remote address and the path. */
  private void assertOneWarning(String path) {
    List<ILoggingEvent> warnings = logs.list.stream()
        .filter(e -> e.getLoggerName().endsWith(".AdminServer") && e.getLevel() == Level.WARN).toList();
    assertThat(warnings).hasSize(1);
    assertThat(warnings.get(0).getFormattedMessage()).contains(path, "from /127.0.0.1:");
    assertThat(warnings.get(0).getThrowableProxy()).isNull();
  }

  @Test
  void theRightTokenReadsEveryProtectedEndpoint() throws Exception {
    String bearer = "Bearer " + TOKEN;
    assertThat(send(server, "GET", "/config", bearer, null).statusCode()).isEqualTo(200);
    assertThat(send(server, "HEAD", "/config", bearer, null).statusCode()).isEqualTo(200);
    assertThat(send(server, "GET", "/clients", bearer, null).statusCode()).isEqualTo(200);
    assertThat(send(server, "GET", "/", bearer, null).body()).contains("catalog");
    assertThat(send(server, "GET", "/index.html", "bearer  " + TOKEN + " ", null).statusCode()).isEqualTo(200);
    // Past the token, the API answers as ever: a server following a file takes no PUT.
    assertThat(send(server, "PUT", "/config", bearer, "services: {}\n").statusCode()).isEqualTo(405);
    assertThat(send(server, "GET", "/no-such-endpoint", bearer, null).statusCode()).isEqualTo(404);
  }

  @Test
  void theRightTokenRotatesTheCaOnceTheRefusedRotationsStartedNone() throws Exception {
    for (String authorization : new String[] {null, "Bearer " + WRONG}) {
      send(server, "POST", "/ca/rotate?overlap=2h", authorization, null);
    }
    // Had a refused call started a rotation, this one would be answered 409.
    HttpResponse<String> r = send(server, "POST", "/ca/rotate?overlap=2h", "Bearer " + TOKEN, null);

    assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
    assertThat(send(server, "POST", "/ca/rotate?overlap=2h", "Bearer " + TOKEN, null).statusCode()).isEqualTo(409);
  }

  @Test
  void theRightTokenWritesTheIntentTheRefusedWritesChangedNothing() throws Exception {
    EtcdCluster.assumeEtcdInstalled();
    JsonNode before = config(replica);
    String version = before.path("version").asText();
    long revision = before.path("intentRevision").asLong();
    for (String authorization : new String[] {null, "Bearer " + WRONG}) {
      send(replica, "PUT", "/config", authorization, "services: {}\n");
    }
    assertThat(config(replica).path("intentRevision").asLong()).isEqualTo(revision);
    assertThat(config(replica).path("version").asText()).isEqualTo(version);

    HttpResponse<String> r = send(replica, "PUT", "/config", "Bearer " + TOKEN,
        MeshFile.CANARY.replace("9001", "9002"));

    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(JSON.readTree(r.body()).path("intentRevision").asLong()).isGreaterThan(revision);
  }

  @Test
  void healthzAndMetricsNeedNoToken() throws Exception {
    for (String authorization : new String[] {null, "Bearer " + WRONG, "Bearer " + TOKEN}) {
      HttpResponse<String> health = send(server, "GET", "/healthz", authorization, null);
      assertThat(health.statusCode()).isEqualTo(200);
      assertThat(JSON.readTree(health.body()).path("adminAuth").asText()).isEqualTo("bearer token");
      HttpResponse<String> metrics = send(server, "GET", "/metrics", authorization, null);
      assertThat(metrics.statusCode()).isEqualTo(200);
      assertThat(metrics.body()).contains("meshlet_");
    }
  }

  @Test
  void theConsolePageAndScriptNeedNoTokenAndHoldNoMeshData() throws Exception {
    for (String path : List.of("/console", "/console/console.js", "/console/console.css")) {
      HttpResponse<String> r = send(server, "GET", path, null, null);
      assertThat(r.statusCode()).as(path).isEqualTo(200);
      assertThat(r.body()).as(path).doesNotContain("catalog");
      assertThat(r.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(
          csp -> assertThat(csp).contains("script-src 'self'"));
    }
  }

  @Test
  void withoutATokenTheAdminApiBindsToLoopbackOnly() throws Exception {
    ControlServer.Builder wide = ControlServer.builder().xdsPlaintext(true).configFile(new MeshFile(dir).path()).xdsPort(0)
        .adminPort(0).adminBindAddress("0.0.0.0");

    assertThatThrownBy(() -> wide.build().start()).isInstanceOf(IllegalStateException.class)
        .hasMessage("--admin-bind 0.0.0.0 is not a loopback address and no --admin-token-file is given: the admin "
            + "API shows the whole mesh and changes its config and CA (expected: --admin-token-file FILE with a "
            + "bearer token, or --admin-bind 127.0.0.1)");

    try (ControlServer local = ControlServer.builder().xdsPlaintext(true).configFile(new MeshFile(dir).path()).xdsPort(0)
        .adminPort(0).adminBindAddress("localhost").build().start()) {
      HttpResponse<String> health = send(local, "GET", "/healthz", null, null);
      assertThat(JSON.readTree(health.body()).path("adminAuth").asText()).isEqualTo("none: the admin API is "
          + "open to every local caller (loopback only; see --admin-token-file)");
      // Open on loopback, as tests, samples and the demo use it.
      assertThat(send(local, "GET", "/config", null, null).statusCode()).isEqualTo(200);
    }
  }

  @Test
  void withATokenTheAdminApiMayBindBeyondLoopback() throws Exception {
    try (ControlServer wide = ControlServer.builder().xdsPlaintext(true).configFile(new MeshFile(dir).path()).xdsPort(0)
        .adminPort(0).adminBindAddress("0.0.0.0").adminTokenFile(tokenFile).build().start()) {
      assertThat(send(wide, "GET", "/config", null, null).statusCode()).isEqualTo(401);
      assertThat(send(wide, "GET", "/config", "Bearer " + TOKEN, null).statusCode()).isEqualTo(200);
    }
  }
}
