package io.meshlet.okhttp;

import io.meshlet.inbound.MeshJetty;
import io.meshlet.inbound.MeshHttpsServerFilter;
import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.MeshFile;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every HTTP server adapter reads a request's path alike, normalized as Envoy does, so no spelling
 * of {@code /admin} gets a caller around a rule on {@code /admin}: each attempt below, sent byte
 * for byte over a socket, is refused (403, or 400 when the path cannot be normalized safely, by
 * the adapter or by the server before it; 404 from the JDK server for a path starting with
 * {@code //}) or reaches the application as a path outside
 * {@code /admin}. Paths the rule does not cover still work, and the application sees the
 * normalized path the rule saw.
 */
class InboundPathBypassIT {

  @TempDir static Path dir;
  static ControlServer server;
  static MeshClient catalogMesh;
  static Server jetty;
  static int jettyPort;
  static HttpServer jdk;
  static ExecutorService jdkThreads;

  @BeforeAll
  static void start() throws Exception {
    // /admin is for ops only; everything else is open, to plaintext callers too.
    Path file = new MeshFile(dir).write("""
        trustDomain: example.org
        mtls: { mode: permissive }
        services:
          catalog:
            endpoints: [ { address: 127.0.0.1:9 } ]
            authorization:
              rules:
                - match: { pathPrefix: /admin }
                  allow: [ spiffe://example.org/service/ops ]
        """).path();
    server = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build().start();
    catalogMesh = MeshClient.builder().xdsPlaintext().serviceName("catalog").controlServers("127.0.0.1:" + server.xdsPort())
        .build().start();
    Await.until("catalog's authorization", Duration.ofSeconds(20),
        () -> catalogMesh.snapshot().inbound("catalog").grants().isPresent());

    jetty = new Server();
    ServerConnector connector = new ServerConnector(jetty);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    jetty.addConnector(connector);
    jetty.setHandler(MeshJetty.inbound(catalogMesh, new Handler.Abstract() {
      @Override
      public boolean handle(org.eclipse.jetty.server.Request request, org.eclipse.jetty.server.Response response,
          org.eclipse.jetty.util.Callback callback) {
        String body = "app saw " + request.getHttpURI().getDecodedPath();
        response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
        return true;
      }
    }));
    jetty.start();
    jettyPort = connector.getLocalPort();

    jdk = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    jdkThreads = Executors.newFixedThreadPool(2);
    jdk.setExecutor(jdkThreads);
    jdk.createContext("/", exchange -> {
      byte[] body = ("app saw " + exchange.getRequestURI().getPath()).getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }).getFilters().add(new MeshHttpsServerFilter(catalogMesh));
    jdk.start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (jetty != null) {
      jetty.stop();
    }
    if (jdk != null) {
      jdk.stop(0);
      jdkThreads.shutdownNow();
    }
    Closeables.closeAll(catalogMesh, server);
  }

  /** The adapters, by name, with their ports. */
  static Stream<String> adapters() {
    return Stream.of("MeshJetty", "MeshHttpsServerFilter");
  }

  static int port(String adapter) {
    return adapter.equals("MeshJetty") ? jettyPort : jdk.getAddress().getPort();
  }

  /** A status and a body. */
  record Reply(int status, String body) {}

  /** Sends {@code GET <target> HTTP/1.1} exactly as written, no client in between to tidy it up. */
  static Reply get(int port, String target) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + target + " HTTP/1.1\r\nHost: catalog\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      in.transferTo(all);
      String text = all.toString(StandardCharsets.UTF_8);
      int status = Integer.parseInt(text.substring(9, 12));
      int end = text.indexOf("\r\n\r\n");
      return new Reply(status, end < 0 ? "" : text.substring(end + 4));
    }
  }

  /** Spellings that mean, or that some server reads as, {@code /admin}. */
  static Stream<String> attempts() {
    return Stream.of(
        "/admin", "/admin/", "/admin/x", "/admin.json", "/admin%20",
        "/public/../admin", "/public/./../admin/x", "/public/%2e%2e/admin", "/public/%2E%2E/admin",
        "/public/.%2e/admin", "/public/%2e./admin",
        "//admin", "///admin/x", "/public//../admin", "/./admin", "/%2e/admin",
        "/%61dmin", "/%61%64%6D%69%6E", "/adm%69n/x",
        "/admin%2F..", "/admin%2f..", "/public/..%2Fadmin", "/public/..%2fadmin", "/public%2F..%2Fadmin",
        "/%2Fadmin", "/%2e%2e/admin", "/../admin", "/public/../../admin",
        "/admin;x", "/public/..;/admin", "/admin;/x", "/;/admin",
        "/admin?x=/public", "/admin#", "/admin#/public", "/admin/%2e", "/admin/.",
        "/public\\..\\admin", "/public%5C..%5Cadmin", "/public/..%5cadmin", "\\admin",
        "/admin%00", "/admin%00/../public", "/admin%", "/admin%zz",
        "http://catalog/admin", "http://catalog/public/../admin");
  }

  static Stream<Arguments> attemptsOnEveryAdapter() {
    return adapters().flatMap(a -> attempts().map(p -> Arguments.of(a, p)));
  }

  @ParameterizedTest(name = "{0}: GET {1}")
  @MethodSource("attemptsOnEveryAdapter")
  void noSpellingOfAdminGetsAroundTheRule(String adapter, String target) throws Exception {
    Reply r = get(port(adapter), target);

    // 404 only from the JDK's HttpServer itself, which finds no context for a path starting "//".
    assertThat(r.status()).as("%s GET %s answered %s", adapter, target, r).isIn(400, 403, 404);
    assertThat(r.body()).doesNotContain("app saw");
    if (r.status() == 404) {
      assertThat(r.body()).isEqualTo("<h1>404 Not Found</h1>No context found for request");
    }
  }

  /** Paths the rule does not cover, and the path the application then sees. */
  static Stream<Arguments> allowed() {
    return Stream.of(
        Arguments.of("/public", "/public"),
        Arguments.of("/public/items?q=/admin", "/public/items"),
        Arguments.of("/", "/"),
        // Not "//public": both servers refuse it before an adapter sees it (Jetty: 400 ambiguous empty
        // segment; the JDK: 404 no context). RequestPathTest shows the merge for servers that pass it.
        Arguments.of("/public/./x/../items", "/public/items"),
        Arguments.of("/admin/../public", "/public"),
        Arguments.of("/%70ublic", "/public"),
        Arguments.of("/public/a%20b", "/public/a b"),
        Arguments.of("/public/caf%C3%A9", "/public/café"),
        Arguments.of("/public/a%3Bb", "/public/a;b"),
        // Case-sensitive, as Envoy's path matching is by default; the application sees /ADMIN, not /admin.
        Arguments.of("/ADMIN", "/ADMIN"),
        Arguments.of("/Admin/x", "/Admin/x"),
        Arguments.of("/administrator", null));
  }

  static Stream<Arguments> allowedOnEveryAdapter() {
    return adapters().flatMap(a -> allowed().map(x -> Arguments.of(a, x.get()[0], x.get()[1])));
  }

  @ParameterizedTest(name = "{0}: GET {1}")
  @MethodSource("allowedOnEveryAdapter")
  void pathsTheRuleDoesNotCoverStillWorkAndTheApplicationSeesThemNormalized(String adapter, String target,
      String seen) throws Exception {
    Reply r = get(port(adapter), target);

    if (seen == null) {
      // A prefix rule is a string prefix, as in Envoy: /administrator is under /admin.
      assertThat(r.status()).isEqualTo(403);
      return;
    }
    assertThat(r).as("%s GET %s", adapter, target).isEqualTo(new Reply(200, "app saw " + seen));
  }
}
