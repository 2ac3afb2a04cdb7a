package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.okhttp.MeshOkHttp;
import io.meshlet.inbound.MeshServletFilter;
import jakarta.servlet.http.HttpServletRequest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * A Spring Boot service with the starter on embedded Tomcat, Boot's default server: under strict
 * mTLS its connector takes only callers with a certificate from the mesh's CA, {@link MeshServletFilter}
 * refuses callers the allow list does not name and hands the application the caller's ID, and the
 * server's certificate rotates under traffic with no failed request. What Tomcat cannot give fails
 * start-up naming what to change: permissive (plaintext and mTLS on one port), or mTLS without a
 * workload identity; a config that arrives later asking for it turns requests away with 503. An allow
 * list under {@code mtls: off} is still enforced, and {@code meshlet.inbound.enabled=false} hands the
 * policy to the application with a warning. Control servers run on TLS with the CA, as in
 * production, except for the late one, which runs in plaintext so that it needs no trust bundle
 * before it exists.
 */
@ExtendWith(OutputCaptureExtension.class)
class MeshletTomcatIT {

  static final Map<String, String> TOKENS = Map.of("catalog", "catalog-token-0123456789",
      "frontend", "frontend-token-0123456789", "payments", "payments-token-0123456789");

  @TempDir Path dir;
  ControlServer server;
  final List<ConfigurableApplicationContext> apps = new ArrayList<>();
  final List<AutoCloseable> closeables = new ArrayList<>();

  /** catalog: {@code /items} and {@code /admin} answer with the caller and the path they saw. */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  @RestController
  static class App {
    @Bean
    BootTestLine.Tomcat tomcat() {
      return new BootTestLine.Tomcat();
    }

    @GetMapping({"/items", "/admin"})
    String items(HttpServletRequest request) {
      return request.getRequestURI() + " for " + request.getAttribute(MeshServletFilter.CALLER_ATTRIBUTE);
    }
  }

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
    apps.forEach(ConfigurableApplicationContext::close);
    if (server != null) {
      server.close();
    }
  }

  ControlServer startControlServer(String mesh, int port, boolean plaintext) throws Exception {
    MeshFile file = new MeshFile(dir).write(mesh);
    ControlServer.Builder b = ControlServer.builder().configFile(file.path()).xdsPort(port).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).xdsPlaintext(plaintext);
    if (!plaintext) {
      b.caDirectory(dir.resolve("ca")).joinTokens(TOKENS);
    }
    server = b.build().start();
    return server;
  }

  /** catalog on Tomcat, with its identity from the CA, waiting for its config at start-up. */
  ConfigurableApplicationContext catalog(String... more) {
    return catalog(App.class, more);
  }

  ConfigurableApplicationContext catalog(Class<?> extra, String... more) {
    List<String> p = new ArrayList<>(List.of(
        "spring.application.name=catalog",
        "server.address=127.0.0.1",
        "server.port=0",
        "meshlet.control-servers=127.0.0.1:" + server.xdsPort(),
        "meshlet.control-server-trust-bundle=" + server.trustBundleFile().orElseThrow(),
        "meshlet.identity.source=ca",
        "meshlet.identity.join-token=" + TOKENS.get("catalog"),
        "meshlet.await-config-on-startup=true",
        "meshlet.grpc.enabled=false",
        "spring.main.banner-mode=off"));
    p.addAll(List.of(more));
    return run(p, extra);
  }

  ConfigurableApplicationContext run(List<String> properties, Class<?>... sources) {
    ConfigurableApplicationContext app = new SpringApplicationBuilder(App.class).sources(sources)
        .properties(properties.toArray(String[]::new)).run();
    apps.add(app);
    assertThat(BootTestLine.webServerClass(app))
        .isEqualTo("TomcatWebServer");
    return app;
  }

  static int port(ConfigurableApplicationContext app) {
    return BootTestLine.port(app);
  }

  /** An answer: status, headers as sent, body. */
  record Answer(int status, String head, String body) {}

  /** One HTTP/1.1 request with the target sent byte for byte: HTTP clients resolve "..", Tomcat must see it. */
  static Answer get(int port, String target) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + target + " HTTP/1.1\r\nHost: catalog\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      in.transferTo(all);
      String text = all.toString(StandardCharsets.UTF_8);
      int end = text.indexOf("\r\n\r\n");
      String head = text.substring(0, end);
      String body = text.substring(end + 4);
      if (head.toLowerCase().contains("transfer-encoding: chunked")) {
        body = unchunk(body);
      }
      return new Answer(Integer.parseInt(head.substring(9, 12)), head, body);
    }
  }

  private static String unchunk(String chunked) {
    StringBuilder out = new StringBuilder();
    int i = 0;
    while (true) {
      int eol = chunked.indexOf("\r\n", i);
      int size = Integer.parseInt(chunked.substring(i, eol).trim(), 16);
      if (size == 0) {
        return out.toString();
      }
      out.append(chunked, eol + 2, eol + 2 + size);
      i = eol + 2 + size + 2;
    }
  }

  static final String STRICT_MESH = """
      trustDomain: example.org
      mtls: { mode: strict, certTtl: 1m }
      services:
        catalog:
          routes: [ { to: [ {} ], retries: { attempts: 2, on: [connect-failure, reset] } } ]
          authorization: { allow: [ spiffe://example.org/service/frontend ] }
      """;

  /** A caller's identity from the control server's CA, renewed after 5% of its life: every 3 s or so. */
  CaIdentitySource identity(String service) throws InterruptedException {
    CaIdentitySource s = CaIdentitySource.builder().service(service).joinToken(TOKENS.get(service))
        .controlServers("127.0.0.1:" + server.xdsPort()).controlServerTrust(server.trustBundleFile().orElseThrow())
        .renewAt(0.05).build().start();
    closeables.add(s);
    assertThat(s.awaitIdentity(Duration.ofSeconds(20))).isNotNull();
    return s;
  }

  /** A caller's mesh client, once it sees catalog's instance. */
  MeshClient caller(String service, int catalogPort) {
    MeshClient mesh = MeshClient.builder().serviceName(service).controlServers("127.0.0.1:" + server.xdsPort())
        .controlServerTrust(server.trustBundleFile().orElseThrow()).build().start();
    closeables.add(mesh);
    Await.until("catalog's instance in EDS", Duration.ofSeconds(20), () -> mesh.snapshot().cluster("catalog")
        .map(c -> c.endpoints().stream().anyMatch(e -> e.address().equals("127.0.0.1:" + catalogPort)))
        .orElse(false));
    return mesh;
  }

  static String call(OkHttpClient http, String url) throws IOException {
    try (Response r = http.newCall(new Request.Builder().url(url).build()).execute()) {
      return r.code() + " " + r.body().string();
    }
  }

  /** catalog's own identity, renewed as often as the callers': the server's certificate rotates under traffic. */
  @Configuration(proxyBeanMethods = false)
  static class FastRotation {
    @Bean(destroyMethod = "close")
    CaIdentitySource catalogIdentity(org.springframework.core.env.Environment env) {
      return CaIdentitySource.builder().service("catalog").joinToken(TOKENS.get("catalog"))
          .controlServers(env.getProperty("meshlet.control-servers"))
          .controlServerTrust(Path.of(env.getProperty("meshlet.control-server-trust-bundle")))
          .renewAt(0.05).build().start();
    }
  }

  @Test
  void underStrictMtlsTomcatServesMeshCallersWithTheirIdAndRefusesOthersAndCallersWithoutCertificates()
      throws Exception {
    startControlServer(STRICT_MESH, 0, false);
    int port = port(catalog());
    MeshClient mesh = caller("frontend", port);

    // frontend is on the allow list: served, over mTLS, and the application sees its SPIFFE ID.
    CaIdentitySource frontend = identity("frontend");
    assertThat(call(MeshOkHttp.client(mesh, frontend::current), "http://catalog/items"))
        .isEqualTo("200 /items for spiffe://example.org/service/frontend");
    // payments has a certificate from the mesh's CA but is not on the list: 403 from MeshServletFilter.
    CaIdentitySource payments = identity("payments");
    try (Response r = MeshOkHttp.client(mesh, payments::current)
        .newCall(new Request.Builder().url("http://catalog/items").build()).execute()) {
      assertThat(r.code()).isEqualTo(403);
      assertThat(r.header("x-meshlet-denied")).isEqualTo("true");
      assertThat(r.body().string())
          .isEqualTo("caller spiffe://example.org/service/payments may not call GET /items on service 'catalog'\n");
    }
    // No certificate: TLS without one fails the handshake, and plaintext gets no answer from the application.
    javax.net.ssl.X509TrustManager trustAll = new javax.net.ssl.X509TrustManager() {
      @Override
      public void checkClientTrusted(java.security.cert.X509Certificate[] chain, String authType) {}

      @Override
      public void checkServerTrusted(java.security.cert.X509Certificate[] chain, String authType) {}

      @Override
      public java.security.cert.X509Certificate[] getAcceptedIssuers() {
        return new java.security.cert.X509Certificate[0];
      }
    };
    javax.net.ssl.SSLContext noCertificate = javax.net.ssl.SSLContext.getInstance("TLS");
    noCertificate.init(null, new javax.net.ssl.TrustManager[] {trustAll}, null);
    OkHttpClient anonymous = new OkHttpClient.Builder().sslSocketFactory(noCertificate.getSocketFactory(), trustAll)
        .hostnameVerifier((h, s) -> true).readTimeout(Duration.ofSeconds(5)).build();
    assertThat(catchThrowable(() -> call(anonymous, "https://127.0.0.1:" + port + "/items")))
        .isInstanceOf(IOException.class);
    Throwable plaintext = catchThrowable(() -> get(port, "/items"));
    if (plaintext == null) {
      Answer a = get(port, "/items");
      assertThat(a.status()).isEqualTo(400);
      assertThat(a.body()).doesNotContain("/items for");
    }
  }

  @Test
  void underStrictMtlsTomcatsCertificateRotatesUnderTrafficWithNoFailedRequest() throws Exception {
    startControlServer(STRICT_MESH, 0, false);
    ConfigurableApplicationContext app = catalog(FastRotation.class);
    int port = port(app);
    MeshClient mesh = caller("frontend", port);
    CaIdentitySource frontend = identity("frontend");
    // Connections kept 200 ms: new handshakes all along, each presenting the certificate current then.
    OkHttpClient http = MeshOkHttp.decorate(new OkHttpClient.Builder()
        .connectionPool(new okhttp3.ConnectionPool(1, 200, TimeUnit.MILLISECONDS)), mesh, frontend::current).build();
    CaIdentitySource catalogIdentity = app.getBean(CaIdentitySource.class);
    String firstSerial = presentedSerial(port, frontend);
    int ok = 0;
    List<String> failures = new ArrayList<>();
    long end = System.nanoTime() + Duration.ofSeconds(8).toNanos();
    while (System.nanoTime() < end) {
      try (Response r = http.newCall(new Request.Builder().url("http://catalog/items").build()).execute()) {
        String body = r.body().string();
        if (r.code() == 200 && body.equals("/items for spiffe://example.org/service/frontend")) {
          ok++;
        } else {
          failures.add(r.code() + " " + body);
        }
      } catch (IOException e) {
        failures.add(e.toString());
      }
    }
    assertThat(failures).as("failed requests while certificates rotated (%d succeeded)", ok).isEmpty();
    assertThat(ok).isPositive();
    // Tomcat presents the rotated certificate, with no reload: its key manager reads the current one.
    String now = catalogIdentity.current().chain().get(0).getSerialNumber().toString(16);
    assertThat(now).as("catalog's certificate rotated").isNotEqualTo(firstSerial);
    String presented = presentedSerial(port, frontend);
    assertThat(presented).as("the certificate Tomcat presents").isNotEqualTo(firstSerial);
  }

  /** The serial of the certificate Tomcat presents to a new mTLS connection. */
  static String presentedSerial(int port, CaIdentitySource caller) throws IOException {
    javax.net.ssl.SSLContext tls = io.meshlet.identity.SpiffeTls.context(caller::current,
        io.meshlet.identity.SpiffeTls.allowAny());
    try (javax.net.ssl.SSLSocket socket = (javax.net.ssl.SSLSocket) tls.getSocketFactory()
        .createSocket("127.0.0.1", port)) {
      socket.setSoTimeout(10_000);
      socket.startHandshake();
      return ((java.security.cert.X509Certificate) socket.getSession().getPeerCertificates()[0])
          .getSerialNumber().toString(16);
    }
  }

  @Test
  void whenTheMeshAsksForStrictMtlsOnTomcatWithoutAnIdentityThenStartupFailsNamingWhatToChange() throws Exception {
    startControlServer("""
        trustDomain: example.org
        mtls: { mode: strict, certTtl: 1h }
        services:
          catalog: { authorization: { allow: [ spiffe://example.org/service/frontend ] } }
        """, 0, false);

    Throwable failure = catchThrowable(() -> run(List.of("spring.application.name=catalog",
        "server.address=127.0.0.1", "server.port=0", "meshlet.control-servers=127.0.0.1:" + server.xdsPort(),
        "meshlet.control-server-trust-bundle=" + server.trustBundleFile().orElseThrow(),
        "meshlet.instance.register=false", "meshlet.await-config-on-startup=true", "meshlet.grpc.enabled=false",
        "spring.main.banner-mode=off")));

    assertThat(failure).hasRootCauseInstanceOf(MeshletInboundException.class).rootCause().hasMessage(
        "meshlet: service 'catalog' asks for mtls strict, but this application has no workload identity, so the"
            + " embedded Tomcat server cannot take mTLS: set meshlet.identity.source (ca or files), or set"
            + " meshlet.inbound.enabled=false to take responsibility for the inbound policy yourself");
  }

  @Test
  void whenTheMeshAsksForPermissiveMtlsOnTomcatThenStartupFailsNamingWhatToChange() throws Exception {
    startControlServer("""
        trustDomain: example.org
        mtls: { mode: permissive, certTtl: 1h }
        services:
          catalog: {}
        """, 0, false);

    assertThat(catchThrowable(this::catalog)).rootCause().isInstanceOf(MeshletInboundException.class)
        .hasMessage("meshlet: service 'catalog' asks for mtls permissive, but the embedded Tomcat server cannot take"
            + " plaintext and mTLS on one port: set mtls.mode strict (or off) for the service in the mesh config,"
            + " or use spring-boot-starter-jetty (exclude spring-boot-starter-tomcat) for a permissive rollout, or"
            + " set meshlet.inbound.enabled=false to take responsibility for the inbound policy yourself");
  }

  @Test
  void withMtlsOffAnAllowListIsEnforcedOnTheNormalizedPathAndCallersWithoutCertificatesAreRefused(
      CapturedOutput output) throws Exception {
    startControlServer("""
        trustDomain: example.org
        mtls: { mode: off }
        services:
          catalog:
            authorization:
              rules: [ { match: { pathPrefix: /admin }, allow: [ spiffe://example.org/service/ops ] } ]
        """, 0, false);
    int port = port(catalog());

    // Open paths are served, the application seeing the path the rules saw.
    assertThat(get(port, "/items")).extracting(Answer::status, Answer::body).containsExactly(200, "/items for null");
    assertThat(get(port, "/admin/../items").body()).isEqualTo("/items for null");
    // /admin is only for ops, who cannot be identified without mTLS: no caller gets it, however spelled.
    for (String admin : List.of("/admin", "/items/../admin", "//admin", "/%61dmin", "/./admin")) {
      Answer a = get(port, admin);
      assertThat(a.status()).as(admin).isEqualTo(403);
      assertThat(a.head()).as(admin).containsIgnoringCase("x-meshlet-denied: true");
      assertThat(a.body()).as(admin)
          .isEqualTo("caller without a client certificate may not call GET /admin on service 'catalog'\n");
    }
    // Paths no reading of which is safe for every application are refused.
    assertThat(get(port, "/admin;x").status()).isEqualTo(400);
    assertThat(get(port, "/items/..;/admin").status()).isEqualTo(400);
    assertThat(output).contains("has an authorization allow list while mtls.mode is off");
  }

  @Test
  void withInboundDisabledTomcatStartsAndAWarningSaysThePolicyIsTheApplications(CapturedOutput output)
      throws Exception {
    startControlServer("""
        trustDomain: example.org
        mtls: { mode: strict, certTtl: 1h }
        services:
          catalog: { authorization: { allow: [ spiffe://example.org/service/frontend ] } }
        """, 0, false);
    int port = port(catalog("meshlet.inbound.enabled=false"));

    assertThat(get(port, "/admin").status()).isEqualTo(200);
    assertThat(output).containsPattern("WARN .*meshlet.inbound.enabled=false: the starter leaves the embedded web"
        + " server as it is; the inbound policy of service 'catalog' \\(mtls.mode and authorization in the mesh"
        + " config\\) is the application's to enforce");
  }

  @Test
  void aConfigThatArrivesAfterStartupAskingForMtlsStopsTomcatServingWith503AndAnError(CapturedOutput output)
      throws Exception {
    int xdsPort;
    try (ServerSocket s = new ServerSocket(0)) {
      xdsPort = s.getLocalPort();
    }
    // No control server yet: catalog starts (it does not wait) but serves nothing while its policy is unknown.
    ConfigurableApplicationContext app = run(List.of("spring.application.name=catalog",
        "server.address=127.0.0.1", "server.port=0", "meshlet.control-servers=127.0.0.1:" + xdsPort,
        "meshlet.xds-plaintext=true", "meshlet.instance.register=false", "meshlet.grpc.enabled=false",
        "spring.main.banner-mode=off"));
    int port = port(app);
    Answer waiting = get(port, "/items");
    assertThat(waiting.status()).isEqualTo(503);
    assertThat(waiting.body()).startsWith("meshlet: service 'catalog' has no mesh config yet");

    startControlServer("""
        trustDomain: example.org
        mtls: { mode: strict, certTtl: 1h }
        services:
          catalog: {}
        """, xdsPort, true);
    Await.until("the strict config to stop catalog serving", Duration.ofSeconds(30),
        () -> output.toString().contains("asks for mtls strict"));
    Answer refused = get(port, "/items");
    assertThat(refused.status()).isEqualTo(503);
    assertThat(refused.body()).startsWith("meshlet: service 'catalog' asks for mtls strict, but this application has"
        + " no workload identity, so the embedded Tomcat server cannot take mTLS: set meshlet.identity.source");
    assertThat(output).containsPattern("ERROR .*asks for mtls strict.*every request gets 503");

    // The mesh turns mTLS off: the same server can give that, and serves again.
    new MeshFile(dir).write("""
        trustDomain: example.org
        mtls: { mode: off }
        services:
          catalog: {}
        """);
    Await.until("catalog to serve again", Duration.ofSeconds(30), () -> {
      try {
        return get(port, "/items").status() == 200;
      } catch (IOException e) {
        return false;
      }
    });
  }
}
