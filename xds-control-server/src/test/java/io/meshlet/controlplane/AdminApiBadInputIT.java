package io.meshlet.controlplane;

import static io.meshlet.controlplane.testing.RawAdsClient.CLUSTER;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.EtcdCluster;
import io.meshlet.controlplane.testing.IntentAdmin;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.RawAdsClient;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
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
 * Bad input to the admin API is refused precisely and changes nothing: malformed headers and
 * bodies, wrong types, huge bodies, unknown endpoints and subsets, bad CA rotations, concurrent
 * conflicting writes and raw protocol garbage. {@code PUT /config} runs against a replica over a
 * real one-member etcd (skipped without {@code etcd} on the PATH); the rest against a server
 * following a file. Each refusal is logged once at WARN, without a stack trace.
 */
class AdminApiBadInputIT {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX = MeshConfigParser.MAX_BYTES;
  private static final String INTENT = MeshFile.CANARY;

  @TempDir static Path dir;
  static ControlServer fileServer;
  static EtcdCluster etcd;
  static ControlServer replica;

  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();

  @BeforeAll
  static void start() throws Exception {
    Path file = new MeshFile(dir).write(INTENT).path();
    fileServer = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build().start();
    if (EtcdCluster.binary().isPresent()) {
      etcd = EtcdCluster.start(1);
      // Given a file too, a replica seeds etcd with it while etcd holds no intent yet.
      replica = ControlServer.builder().xdsPlaintext(true).etcd(etcd.endpointList()).caKeyEncryptionKeyFile(etcd.caKeyEncryptionKey()).configFile(file)
          .xdsPort(0).adminPort(0).build().start();
    }
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(fileServer, replica, etcd);
  }

  @BeforeEach
  void captureLogs() {
    logs.start();
    meshletLogger().addAppender(logs);
  }

  @AfterEach
  void releaseLogs() {
    meshletLogger().detachAppender(logs);
    // A client mistake is never worth a stack trace or an ERROR.
    assertThat(adminLogs()).filteredOn(e -> e.getThrowableProxy() != null || e.getLevel() == Level.ERROR)
        .extracting(ILoggingEvent::getFormattedMessage).isEmpty();
  }

  /**
   * What the admin API and the config state logged; not the etcd replica's background loggers,
   * which may warn about a slow etcd on a loaded machine.
   */
  private List<ILoggingEvent> adminLogs() {
    return logs.list.stream().filter(e -> e.getLoggerName().endsWith(".AdminServer")
        || e.getLoggerName().endsWith(".MeshState")).toList();
  }

  private static Logger meshletLogger() {
    return (Logger) LoggerFactory.getLogger("io.meshlet.controlplane");
  }

  // ---- unknown endpoints, wrong methods (file mode) ----

  static Stream<Arguments> wrongEndpointsAndMethods() {
    String known = "GET /healthz, /config, /clients, /traffic, /history, /history/diff, /metrics, /console or /; "
        + "PUT /config (with etcd); POST /ca/rotate";
    return Stream.of(
        Arguments.of("GET", "/nope", 404, null, "no such endpoint: /nope (expected: " + known + ")"),
        Arguments.of("POST", "/config/extra", 404, null, "no such endpoint: /config/extra (expected: " + known + ")"),
        Arguments.of("DELETE", "/config", 405, "GET, HEAD", "DELETE /config is not supported (expected: GET, HEAD)"),
        Arguments.of("POST", "/healthz", 405, "GET, HEAD", "POST /healthz is not supported (expected: GET, HEAD)"),
        Arguments.of("GET", "/ca/rotate", 405, "POST", "GET /ca/rotate is not supported (expected: POST)"),
        Arguments.of("PUT", "/config", 405, "GET, HEAD", "PUT /config is not supported: this server follows a "
            + "file, edit it (PUT /config needs serve --etcd)"));
  }

  @ParameterizedTest(name = "{0} {1} -> {2}")
  @MethodSource("wrongEndpointsAndMethods")
  void unknownEndpointsAndWrongMethodsAreRefusedNamingWhatExists(String method, String path, int status,
      String allow, String message) {
    Response r = Response.send(fileServer.adminPort(), method + " " + path + " HTTP/1.1\r\n"
        + "Content-Type: application/yaml\r\n", INTENT.getBytes(StandardCharsets.UTF_8));
    assertThat(r.status()).as(r.body()).isEqualTo(status);
    assertThat(r.error()).isEqualTo(message);
    assertThat(r.headers().get("allow")).isEqualTo(allow);
    assertOneWarning(method + " " + path);
  }

  @Test
  void aHugePathIsEchoedShortened() {
    String path = "/" + "a".repeat(100_000);
    Response r = Response.send(fileServer.adminPort(), "GET " + path + " HTTP/1.1\r\n", new byte[0]);
    assertThat(r.status()).isEqualTo(404);
    assertThat(r.error()).startsWith("no such endpoint: /" + "a".repeat(99) + "... (100001 characters)");
    assertThat(adminLogs()).filteredOn(e -> e.getLevel() == Level.WARN).singleElement()
        .satisfies(e -> assertThat(e.getFormattedMessage()).hasSizeLessThan(1000));
  }

  // ---- POST /ca/rotate (file mode) ----

  @Test
  void caRotationRefusesBadParametersThenAllowsOneRotationAtATime() {
    Map<String, String> bad = new LinkedHashMap<>();
    String tooShort = "at least twice mtls.certTtl (1h), or force=true when every workload renews more often "
        + "than half the overlap";
    bad.put("", "overlap: missing (expected: a duration such as 2h, " + tooShort + ")");
    bad.put("overlap=soon", "overlap: 'soon' (expected: a duration such as 2h, " + tooShort + ")");
    bad.put("overlap=-2h", "overlap: '-2h' (expected: a duration such as 2h, " + tooShort + ")");
    bad.put("overlap=10s", "overlap: '10s' (expected: a duration such as 2h, " + tooShort + ")");
    bad.put("overlap=0s&force=true", "overlap: '0s' (expected: more than 0)");
    bad.put("overlap=999999999h&force=true", "overlap: '999999999h' (expected: at most 8760h, a root's lifetime)");
    bad.put("overlap=3h&force=yes", "force: 'yes' (expected: true or false)");
    bad.put("overlp=3h", "unknown parameter 'overlp' (expected: overlap, force)");
    bad.put("overlap=3h&overlap=4h", "overlap: given more than once (expected: once)");
    for (Map.Entry<String, String> c : bad.entrySet()) {
      Response r = post(fileServer.adminPort(), "/ca/rotate?" + c.getKey());
      assertThat(r.status()).as(c.getKey()).isEqualTo(400);
      assertThat(r.error()).as(c.getKey()).isEqualTo(c.getValue());
    }
    assertThat(adminLogs()).filteredOn(e -> e.getLevel() == Level.WARN).hasSize(bad.size());
    // Not a URI: the JDK's HTTP server refuses it before the admin API sees it.
    assertThat(post(fileServer.adminPort(), "/ca/rotate?overlap=%zz").status()).isEqualTo(400);

    // A web page in an operator's browser cannot start one either.
    Response fromPage = Response.send(fileServer.adminPort(), "POST /ca/rotate?overlap=3h HTTP/1.1\r\n"
        + "Origin: https://evil.example\r\n", new byte[0]);
    assertThat(fromPage.status()).isEqualTo(403);
    assertThat(fromPage.error()).isEqualTo("POST /ca/rotate from a web page (Origin: https://evil.example) is "
        + "refused (expected: a request without an Origin header, as curl and scripts send)");

    // None of those started a rotation: the first good one does, and a second is a conflict.
    Response started = post(fileServer.adminPort(), "/ca/rotate?overlap=3h");
    assertThat(started.status()).as(started.body()).isEqualTo(202);
    Response second = post(fileServer.adminPort(), "/ca/rotate?overlap=3h");
    assertThat(second.status()).isEqualTo(409);
    assertThat(second.error()).startsWith("a rotation is already under way; the new key signs from ")
        .endsWith(" (expected: one rotation at a time; the next can start when this one's overlap has ended)");
  }

  // ---- raw protocol garbage (file mode) ----

  static Stream<Arguments> garbage() {
    byte[] junk = new byte[4096];
    new Random(8).nextBytes(junk);
    return Stream.of(
        Arguments.of("a line that is not HTTP", "HELLO\r\n\r\n".getBytes(StandardCharsets.US_ASCII)),
        Arguments.of("TLS to a plaintext port", new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc}),
        Arguments.of("random bytes", junk),
        Arguments.of("a 1 MiB request line", ("GET /" + "x".repeat(1 << 20) + " HTTP/1.1\r\nHost: a\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII)),
        Arguments.of("a 1 MiB header", ("GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + "y".repeat(1 << 20)
            + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII)),
        Arguments.of("10,000 headers", ("GET /healthz HTTP/1.1\r\n" + "X-H: 1\r\n".repeat(10_000) + "\r\n")
            .getBytes(StandardCharsets.US_ASCII)),
        Arguments.of("a bad Content-Length", "PUT /config HTTP/1.1\r\nContent-Length: lots\r\n\r\nabc"
            .getBytes(StandardCharsets.US_ASCII)),
        Arguments.of("half a request, then hang up", "GET /heal".getBytes(StandardCharsets.US_ASCII)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("garbage")
  void rawProtocolGarbageLeavesTheServerServing(String what, byte[] bytes) throws IOException {
    try (Socket s = new Socket("127.0.0.1", fileServer.adminPort())) {
      s.setSoTimeout(5000);
      try {
        s.getOutputStream().write(bytes);
        s.shutdownOutput();
        s.getInputStream().readAllBytes(); // whatever the server answers, until it closes
      } catch (SocketException e) {
        // the server may close the connection while we still write: that is a fine answer
      }
    }
    assertThat(new AdminClient(fileServer.adminPort()).get("/healthz").statusCode()).isEqualTo(200);
  }

  @Test
  void aStalledConnectionDoesNotStopTheServer() throws IOException {
    try (Socket stalled = new Socket("127.0.0.1", fileServer.adminPort())) {
      stalled.getOutputStream().write("GET /heal".getBytes(StandardCharsets.US_ASCII));
      stalled.getOutputStream().flush();
      assertThat(new AdminClient(fileServer.adminPort()).get("/healthz").statusCode()).isEqualTo(200);
    }
    assertThat(new AdminClient(fileServer.adminPort()).get("/healthz").statusCode()).isEqualTo(200);
  }

  // ---- PUT /config: headers (etcd) ----

  static Stream<Arguments> badHeaders() {
    String ifMatch = " (expected: one revision, the ETag of GET /config with Accept: application/yaml, such as "
        + "\"42\", or *; weak tags and lists never match)";
    String types = "one of application/yaml, application/x-yaml, text/yaml, text/x-yaml, application/json, "
        + "text/plain, in UTF-8";
    return Stream.of(
        Arguments.of("", 428, "If-Match: missing (expected: the intentRevision from GET /config, e.g. If-Match: "
            + "\"42\", or * to overwrite whatever is there)"),
        Arguments.of("If-Match: abc\r\n", 400, "If-Match: abc" + ifMatch),
        Arguments.of("If-Match: W/\"2\"\r\n", 400, "If-Match: W/\"2\"" + ifMatch),
        Arguments.of("If-Match: \"-5\"\r\n", 400, "If-Match: \"-5\"" + ifMatch),
        Arguments.of("If-Match: -1\r\n", 400, "If-Match: -1" + ifMatch),
        Arguments.of("If-Match: \"1\", \"2\"\r\n", 400, "If-Match: \"1\", \"2\"" + ifMatch),
        Arguments.of("If-Match: \"1\"\r\nIf-Match: \"2\"\r\n", 400, "If-Match: \"1\", \"2\"" + ifMatch),
        Arguments.of("If-Match: \r\n", 400, "If-Match: " + ifMatch),
        Arguments.of("If-Match: \"99999999999999999999\"\r\n", 400, "If-Match: \"99999999999999999999\"" + ifMatch),
        Arguments.of("If-Match: *\r\nContent-Type: application/x-www-form-urlencoded\r\n", 415,
            "Content-Type: application/x-www-form-urlencoded (expected: " + types + "; curl sends this with "
                + "--data-binary unless given -H 'Content-Type: application/yaml')"),
        Arguments.of("If-Match: *\r\nContent-Type: text/html\r\n", 415, "Content-Type: text/html (expected: "
            + types + ")"),
        Arguments.of("If-Match: *\r\nContent-Type: application/yaml; charset=iso-8859-1\r\n", 415,
            "Content-Type: application/yaml; charset=iso-8859-1 (expected: application/yaml in UTF-8: "
                + "charset=utf-8, or no charset)"),
        // Accepted types reach the revision check: "1" is long gone.
        Arguments.of("If-Match: \"1\"\r\nContent-Type: application/json; charset=UTF-8\r\n", 409,
            "the intent is no longer at revision 1: someone else wrote first; GET /config again, redo your change "
                + "and retry"),
        Arguments.of("If-Match: 1\r\nContent-Type: text/yaml\r\n", 409,
            "the intent is no longer at revision 1: someone else wrote first; GET /config again, redo your change "
                + "and retry"));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("badHeaders")
  void malformedHeadersAreRefusedBeforeTheBodyIsRead(String headers, int status, String message) {
    Before before = before();
    Response r = Response.send(replica.adminPort(), "PUT /config HTTP/1.1\r\n" + headers,
        INTENT.replace("9001", "9002").getBytes(StandardCharsets.UTF_8));
    assertThat(r.status()).as(r.body()).isEqualTo(status);
    assertThat(r.error()).isEqualTo(message);
    before.assertUnchanged();
    assertOneWarning("PUT /config");
  }

  // ---- PUT /config: bodies (etcd) ----

  static Stream<Arguments> badBodies() {
    return Stream.of(
        Arguments.of("unclosed flow mapping", "services:\n  catalog:\n    protocol: grpc\n"
                + "    subsets: { v1: { version: v1 }\n",
            List.of("PUT /config:5: YAML syntax error: ")),
        Arguments.of("malformed JSON", "{\"services\": {\"catalog\": {\"protocol\": \"grpc\"}}",
            List.of("PUT /config:1: YAML syntax error: ")),
        Arguments.of("a string where a number is", INTENT.replace("weight: 90", "weight: lots"),
            List.of("PUT /config:9: service 'catalog': routes[0].to[0].weight: lots (expected: ")),
        Arguments.of("a list where a map is", "services: [ catalog, inventory ]\n",
            List.of("PUT /config:1: services: a list (expected: a mapping")),
        Arguments.of("an unknown field", INTENT.replace("protocol: grpc", "protcol: grpc"),
            List.of("PUT /config:3: service 'catalog': protcol: unknown field (expected: one of ")),
        Arguments.of("a list where a duration is", INTENT + "        timeout: [ 2s ]\n",
            List.of("PUT /config:10: service 'catalog': routes[0].timeout: ")),
        Arguments.of("a route to a subset that does not exist", INTENT.replace("subset: v2", "subset: v3"),
            List.of("PUT /config:9: service 'catalog': routes[0].to[1].subset: v3 (expected: a subset defined "
                + "under subsets: v1, v2)")),
        Arguments.of("JSON with wrong types", "{\"services\": {\"catalog\": {\"protocol\": 7, "
                + "\"endpoints\": \"127.0.0.1:9001\"}}}",
            List.of("PUT /config:1: service 'catalog': protocol: 7 (expected: one of http, grpc)",
                "PUT /config:1: service 'catalog': endpoints: ")),
        Arguments.of("every violation, not just the first", "services:\n  payments:\n    protocol: soap\n"
                + "    outlierDetection: { maxEjectionPercent: 140 }\n",
            List.of("PUT /config:3: service 'payments': protocol: soap (expected: one of http, grpc)",
                "PUT /config:4: service 'payments': outlierDetection.maxEjectionPercent: 140 (expected: 0..100)")),
        Arguments.of("an empty body", "", List.of("PUT /config: empty file (expected: a mapping with trustDomain, "
            + "mtls and services)")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badBodies")
  void badBodiesAreRefusedWithEveryViolationAndChangeNothing(String what, String body, List<String> errors) {
    Before before = before();
    Response r = put(body.getBytes(StandardCharsets.UTF_8), before.intent().etag(), "application/yaml");
    assertRefusedBody(r, 400, errors, before);
  }

  @Test
  void invalidUtf8IsRefusedWithItsLineAndOffset() {
    Before before = before();
    byte[] body = (INTENT.replace("pathPrefix: /", "pathPrefix: /caf\u00e9")).getBytes(StandardCharsets.ISO_8859_1);
    int at = INTENT.indexOf("pathPrefix: /") + "pathPrefix: /caf".length();
    Response r = put(body, before.intent().etag(), null);
    assertRefusedBody(r, 400, List.of("PUT /config:8: byte 0xe9 at offset " + at + " is not UTF-8 (expected: "
        + "UTF-8 text)"), before);
  }

  @Test
  void jsonBodiesAreAccepted() throws Exception {
    EtcdCluster.assumeEtcdInstalled();
    IntentAdmin.Intent now = new IntentAdmin(replica.adminPort()).read();
    String json = "{\"services\": {\"catalog\": {\"protocol\": \"grpc\", \"endpoints\": [{\"address\": "
        + "\"127.0.0.1:9001\"}], \"json\": 1}}}";
    Response refused = put(json.getBytes(StandardCharsets.UTF_8), now.etag(), "application/json");
    assertThat(refused.status()).isEqualTo(400);
    assertThat(refused.body()).contains("PUT /config:1: service 'catalog': json: unknown field");

    String version = replica.version().orElseThrow();
    Response r = put(json.replace(", \"json\": 1", "").getBytes(StandardCharsets.UTF_8), now.etag(),
        "application/json");
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    Await.until("the JSON intent served", Duration.ofSeconds(5), () -> !replica.version().orElseThrow().equals(version));
    restoreIntent();
  }

  @Test
  void hugeBodiesAre413WithoutBeingReadWhole() throws IOException {
    Before before = before();
    // A declared gigabyte is refused from its Content-Length: the few bytes sent are all there is.
    try (Socket s = new Socket("127.0.0.1", replica.adminPort())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("PUT /config HTTP/1.1\r\nHost: a\r\nIf-Match: " + before.intent().etag()
          + "\r\nContent-Length: 1073741824\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(INTENT.getBytes(StandardCharsets.UTF_8));
      out.flush();
      Response r = Response.read(s.getInputStream());
      assertRefusedBody(r, 413, List.of("PUT /config: 1073741824 bytes (expected: at most " + MAX + " bytes)"),
          before);
      assertThat(r.headers().get("connection")).isEqualTo("close");
    }

    // A chunked body is read up to the limit and no further.
    logs.list.clear();
    try (Socket s = new Socket("127.0.0.1", replica.adminPort())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("PUT /config HTTP/1.1\r\nHost: a\r\nIf-Match: " + before.intent().etag()
          + "\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      byte[] chunk = "# padding, still valid YAML\n".repeat(2000).getBytes(StandardCharsets.US_ASCII);
      CompletableFuture<Response> answer = CompletableFuture.supplyAsync(() -> {
        try {
          return Response.read(s.getInputStream());
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
      try {
        for (int sent = 0; sent <= MAX + chunk.length && !answer.isDone(); sent += chunk.length) {
          out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
          out.write(chunk);
          out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
      } catch (SocketException e) {
        // the server answered and closed while we were still sending
      }
      assertRefusedBody(answer.join(), 413, List.of("PUT /config: more than " + MAX + " bytes (expected: at most "
          + MAX + " bytes)"), before);
    }
    assertThat(new AdminClient(replica.adminPort()).get("/healthz").statusCode()).isEqualTo(200);
  }

  // ---- PUT /config: writers (etcd) ----

  @Test
  void concurrentConflictingWritesOneWinsTheOtherIsToldNothingIsLost() throws Exception {
    EtcdCluster.assumeEtcdInstalled();
    IntentAdmin admin = new IntentAdmin(replica.adminPort());
    IntentAdmin.Intent now = admin.read();
    String first = now.text() + "  writer-one: {}\n";
    String second = now.text() + "  writer-two: {}\n";
    CompletableFuture<Response> one = CompletableFuture.supplyAsync(
        () -> put(first.getBytes(StandardCharsets.UTF_8), now.etag(), null));
    CompletableFuture<Response> two = CompletableFuture.supplyAsync(
        () -> put(second.getBytes(StandardCharsets.UTF_8), now.etag(), null));
    List<Integer> statuses = List.of(one.join().status(), two.join().status());
    assertThat(statuses).containsExactlyInAnyOrder(200, 409);
    String winner = one.join().status() == 200 ? first : second;
    assertThat(admin.read().text()).isEqualTo(winner);
    assertThat((one.join().status() == 409 ? one : two).join().error())
        .startsWith("the intent is no longer at revision " + now.etag().replace("\"", "") + ": someone else");
    restoreIntent();
  }

  @Test
  void aConnectedClientSeesNoVersionFromRefusedWrites() {
    EtcdCluster.assumeEtcdInstalled();
    restoreIntent();
    try (RawAdsClient ads = new RawAdsClient(replica.xdsPort()); var stream = ads.sotw()) {
      stream.send(DiscoveryRequest.newBuilder().setNode(RawAdsClient.node("bad-input-watcher"))
          .setTypeUrl(CLUSTER).build());
      DiscoveryResponse first = stream.next(Duration.ofSeconds(5));
      stream.send(DiscoveryRequest.newBuilder().setNode(RawAdsClient.node("bad-input-watcher")).setTypeUrl(CLUSTER)
          .setVersionInfo(first.getVersionInfo()).setResponseNonce(first.getNonce()).build());

      IntentAdmin.Intent now = new IntentAdmin(replica.adminPort()).read();
      badBodies().forEach(a -> put(((String) a.get()[1]).getBytes(StandardCharsets.UTF_8), now.etag(), null));
      put(INTENT.getBytes(StandardCharsets.UTF_8), "\"1\"", null);
      put(INTENT.getBytes(StandardCharsets.UTF_8), "W/" + now.etag(), null);

      // The next write is good: the next version the client sees must be that one, nothing between.
      Response good = put((now.text() + "  after-bad-input: {}\n").getBytes(StandardCharsets.UTF_8), now.etag(), null);
      assertThat(good.status()).as(good.body()).isEqualTo(200);
      DiscoveryResponse next = stream.next(Duration.ofSeconds(5));
      Await.until("the good write served", Duration.ofSeconds(5),
          () -> replica.config().orElseThrow().services().containsKey("after-bad-input"));
      assertThat(next.getVersionInfo()).isNotEqualTo(first.getVersionInfo()).isEqualTo(
          new AdminClient(replica.adminPort()).json("/config").path("resourceVersions").path("Cluster").asText());
      assertThat(next.getResourcesList()).anySatisfy(r -> assertThat(r.getValue().toStringUtf8()).contains("after-bad-input"));
    }
    restoreIntent();
  }

  @Test
  void randomBodiesAreRefusedOrConflictNeverAnythingElse() {
    Before before = before();
    Random random = new Random(8);
    String[] pieces = {"services:", "\n", "  ", "catalog:", "protocol: ", "grpc", "{", "}", "[", "]", ",", ": ",
        "- ", "weight: ", "90", "\"", "'", "&a ", "*a", "!!binary ", "#", "\t", "\u0000", "\u00e9", "timeout: 2s",
        "subsets: ", "routes:", "to: ", "~", "null", "1e99", "-1", "{ \"services\": {} }"};
    int refused = 0;
    for (int i = 0; i < 150; i++) {
      StringBuilder body = new StringBuilder();
      if (random.nextBoolean()) {
        body.append(INTENT, 0, random.nextInt(INTENT.length()));
      }
      for (int n = random.nextInt(12); n > 0; n--) {
        body.append(pieces[random.nextInt(pieces.length)]);
      }
      // "1" is long gone: a body that happens to be valid gets a conflict and writes nothing either.
      Response r = put(body.toString().getBytes(StandardCharsets.UTF_8), "\"1\"", null);
      assertThat(r.status()).as("%s -> %s", body, r.body()).isIn(400, 409);
      if (r.status() == 400) {
        refused++;
        assertThat(r.json().path("errors")).as(body.toString()).isNotEmpty()
            .allSatisfy(e -> assertThat(e.asText()).startsWith("PUT /config").contains("(expected: "));
      }
    }
    assertThat(refused).isGreaterThan(100);
    before.assertUnchanged();
  }

  // ---- helpers ----

  private static Response post(int port, String pathAndQuery) {
    return Response.send(port, "POST " + pathAndQuery + " HTTP/1.1\r\n", new byte[0]);
  }

  private static Response put(byte[] body, String ifMatch, String contentType) {
    return Response.send(replica.adminPort(), "PUT /config HTTP/1.1\r\n"
        + (ifMatch == null ? "" : "If-Match: " + ifMatch + "\r\n")
        + (contentType == null ? "" : "Content-Type: " + contentType + "\r\n"), body);
  }

  private void assertRefusedBody(Response r, int status, List<String> errors, Before before) {
    assertThat(r.status()).as(r.body()).isEqualTo(status);
    List<String> got = new ArrayList<>();
    r.json().path("errors").forEach(e -> got.add(e.asText()));
    assertThat(got).hasSameSizeAs(errors);
    for (int i = 0; i < errors.size(); i++) {
      assertThat(got.get(i)).startsWith(errors.get(i)).contains("(expected: ");
    }
    JsonNode lastRefused = new AdminClient(replica.adminPort()).json("/config").path("lastRefused");
    assertThat(lastRefused.path("source").asText()).startsWith("PUT /config from /127.0.0.1:");
    assertThat(lastRefused.path("errors").get(0).asText()).isEqualTo(got.get(0));
    before.assertUnchanged();
    assertOneWarning("PUT /config");
  }

  private void assertOneWarning(String what) {
    assertThat(adminLogs()).filteredOn(e -> e.getLevel() == Level.WARN)
        .singleElement().satisfies(e -> assertThat(e.getFormattedMessage()).contains(what));
  }

  private static void restoreIntent() {
    var r = new IntentAdmin(replica.adminPort()).write(INTENT, "*");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    MeshConfig seed;
    try {
      seed = MeshConfigParser.parse(INTENT, "seed");
    } catch (MeshConfigException e) {
      throw new AssertionError(e);
    }
    Await.until("the seed intent served again", Duration.ofSeconds(5), () -> replica.config().orElseThrow().equals(seed));
  }

  /** What a refused request must leave as it was: the stored intent and its revision, the served version. */
  private record Before(IntentAdmin.Intent intent, String version, String served) {
    void assertUnchanged() {
      assertThat(new IntentAdmin(replica.adminPort()).read()).isEqualTo(intent);
      assertThat(replica.version()).contains(version);
      assertThat(new AdminClient(replica.adminPort()).version()).isEqualTo(served);
    }
  }

  private static Before before() {
    EtcdCluster.assumeEtcdInstalled();
    return new Before(new IntentAdmin(replica.adminPort()).read(), replica.version().orElseThrow(),
        new AdminClient(replica.adminPort()).version());
  }

  /** One HTTP/1.1 exchange over a plain socket, so that any header can be sent as written. */
  private record Response(int status, Map<String, String> headers, String body) {

    static Response send(int port, String requestLineAndHeaders, byte[] body) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        String head = requestLineAndHeaders + "Host: 127.0.0.1\r\nConnection: close\r\n"
            + (body.length == 0 && requestLineAndHeaders.startsWith("GET ") ? "" : "Content-Length: " + body.length
                + "\r\n") + "\r\n";
        out.write(head.getBytes(StandardCharsets.UTF_8));
        out.write(body);
        out.flush();
        return read(s.getInputStream());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    static Response read(InputStream in) throws IOException {
      String statusLine = line(in);
      assertThat(statusLine).startsWith("HTTP/1.1 ");
      Map<String, String> headers = new LinkedHashMap<>();
      for (String h = line(in); !h.isEmpty(); h = line(in)) {
        int colon = h.indexOf(':');
        headers.put(h.substring(0, colon).strip().toLowerCase(Locale.ROOT), h.substring(colon + 1).strip());
      }
      int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
      String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
      return new Response(Integer.parseInt(statusLine.substring(9, 12)), headers, body);
    }

    private static String line(InputStream in) throws IOException {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      for (int c = in.read(); c != '\n'; c = in.read()) {
        if (c == -1) {
          throw new IOException("connection closed in the middle of a line: " + b);
        }
        if (c != '\r') {
          b.write(c);
        }
      }
      return b.toString(StandardCharsets.UTF_8);
    }

    JsonNode json() {
      try {
        return JSON.readTree(body);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    String error() {
      return json().path("error").asText();
    }
  }
}
