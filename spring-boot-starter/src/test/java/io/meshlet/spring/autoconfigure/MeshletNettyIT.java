package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.okhttp.MeshOkHttp;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * A WebFlux service with the starter on Reactor Netty, under strict mTLS with an allow list: the server
 * takes only callers with a certificate from the mesh's CA (a caller without one fails the handshake),
 * {@link MeshletAuthorizationWebFilter} answers 403 to a mesh caller not on the list and hands the
 * application the caller's SPIFFE ID, and the denial is counted in the application's own
 * {@link MeterRegistry}; the server's certificate rotates with no restart. The control server runs on TLS
 * with the CA, as in production; one context.
 */
@SpringBootTest(classes = MeshletNettyIT.App.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = "spring.main.web-application-type=reactive")
@DirtiesContext
class MeshletNettyIT {

  static final Map<String, String> TOKENS = Map.of("catalog", "catalog-token-0123456789",
      "frontend", "frontend-token-0123456789", "payments", "payments-token-0123456789");

  static final String STRICT_MESH = """
      trustDomain: example.org
      mtls: { mode: strict, certTtl: 1m }
      services:
        catalog:
          routes: [ { to: [ {} ] } ]
          authorization: { allow: [ spiffe://example.org/service/frontend ] }
      """;

  static Path dir;
  static ControlServer server;
  static final List<AutoCloseable> closeables = new ArrayList<>();

  /** catalog: {@code /items} answers with the path and the caller it saw. */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  @RestController
  static class App {
    @Bean
    BootTestLine.Netty netty() {
      return new BootTestLine.Netty();
    }

    /** catalog's identity, renewed after 5% of its minute: the server's certificate rotates every 3 s or so. */
    @Bean(destroyMethod = "close")
    CaIdentitySource catalogIdentity(org.springframework.core.env.Environment env) {
      return CaIdentitySource.builder().service("catalog").joinToken(TOKENS.get("catalog"))
          .controlServers(env.getProperty("meshlet.control-servers"))
          .controlServerTrust(Path.of(env.getProperty("meshlet.control-server-trust-bundle")))
          .renewAt(0.05).build().start();
    }

    @GetMapping("/items")
    Mono<String> items(ServerWebExchange exchange) {
      return Mono.just(exchange.getRequest().getPath().value() + " for "
          + exchange.getAttribute(MeshletAuthorizationWebFilter.CALLER_ATTRIBUTE));
    }
  }

  /** The control server, started before the context that needs its port and trust bundle. */
  @DynamicPropertySource
  static void mesh(DynamicPropertyRegistry registry) throws Exception {
    dir = Files.createTempDirectory("meshlet-netty-it");
    MeshFile file = new MeshFile(dir).write(STRICT_MESH);
    server = ControlServer.builder().configFile(file.path()).xdsPort(0).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).caDirectory(dir.resolve("ca")).joinTokens(TOKENS).build().start();
    registry.add("spring.application.name", () -> "catalog");
    registry.add("server.address", () -> "127.0.0.1");
    registry.add("meshlet.control-servers", () -> "127.0.0.1:" + server.xdsPort());
    registry.add("meshlet.control-server-trust-bundle", () -> server.trustBundleFile().orElseThrow().toString());
    registry.add("meshlet.identity.source", () -> "ca");
    registry.add("meshlet.identity.join-token", () -> TOKENS.get("catalog"));
    registry.add("meshlet.await-config-on-startup", () -> "true");
    registry.add("meshlet.grpc.enabled", () -> "false");
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
    if (server != null) {
      server.close();
    }
  }

  @Autowired ApplicationContext context;
  @Autowired MeterRegistry meters;

  @Test
  void underStrictMtlsNettyServesMeshCallersWithTheirIdRefusesOthersWith403AndCallersWithoutCertificates()
      throws Exception {
    assertThat(BootTestLine.webServerClass(context)).isEqualTo("NettyWebServer");
    int port = BootTestLine.port(context);
    MeshClient mesh = caller("frontend", port);

    // frontend is on the allow list: served, over mTLS, and the application sees its SPIFFE ID.
    CaIdentitySource frontend = identity("frontend");
    assertThat(call(MeshOkHttp.client(mesh, frontend::current), "http://catalog/items"))
        .isEqualTo("200 /items for spiffe://example.org/service/frontend");

    // payments has a certificate from the mesh's CA but is not on the list: 403 from the WebFilter, counted.
    CaIdentitySource payments = identity("payments");
    try (Response r = MeshOkHttp.client(mesh, payments::current)
        .newCall(new Request.Builder().url("http://catalog/items").build()).execute()) {
      assertThat(r.code()).isEqualTo(403);
      assertThat(r.header("x-meshlet-denied")).isEqualTo("true");
      assertThat(r.body().string())
          .isEqualTo("caller spiffe://example.org/service/payments may not call GET /items on service 'catalog'\n");
    }
    Counter denied = meters.find("meshlet.server.denied").counter();
    assertThat(denied).as("meshlet.server.denied in the application's MeterRegistry").isNotNull();
    assertThat(denied.count()).isEqualTo(1.0);

    // No client certificate: the handshake (or the first read after it, under TLS 1.3) fails; nothing is served.
    assertThat(catchThrowable(() -> withoutCertificate(port))).isInstanceOf(IOException.class);
    // Plaintext: no answer from the application.
    assertThat(plaintext(port)).doesNotContain("/items for");
  }

  @Test
  void nettyPresentsTheRotatedCertificateToNewConnectionsWithNoRestart() throws Exception {
    int port = BootTestLine.port(context);
    CaIdentitySource frontend = identity("frontend");
    CaIdentitySource catalog = context.getBean(CaIdentitySource.class);
    String first = presentedSerial(port, frontend);
    Await.until("catalog's certificate to rotate", Duration.ofSeconds(20),
        () -> !serial(catalog.current().chain().get(0)).equals(first));
    assertThat(presentedSerial(port, frontend)).as("the certificate Reactor Netty presents").isNotEqualTo(first);
  }

  static String serial(X509Certificate certificate) {
    return certificate.getSerialNumber().toString(16);
  }

  /** The serial of the certificate the server presents to a new mTLS connection. */
  static String presentedSerial(int port, CaIdentitySource caller) throws IOException {
    SSLContext tls = SpiffeTls.context(caller::current, SpiffeTls.allowAny());
    try (SSLSocket socket = (SSLSocket) tls.getSocketFactory().createSocket("127.0.0.1", port)) {
      socket.setSoTimeout(10_000);
      socket.startHandshake();
      return serial((X509Certificate) socket.getSession().getPeerCertificates()[0]);
    }
  }

  /** A TLS connection that trusts any server and presents no certificate, sending one request. */
  static String withoutCertificate(int port) throws Exception {
    X509TrustManager trustAll = new X509TrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    };
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(null, new TrustManager[] {trustAll}, null);
    try (SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      s.startHandshake();
      s.getOutputStream().write("GET /items HTTP/1.1\r\nHost: catalog\r\nConnection: close\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      s.getInputStream().transferTo(all);
      return all.toString(StandardCharsets.UTF_8);
    }
  }

  /** What a plaintext request gets back: nothing, or no answer from the application. */
  static String plaintext(int port) {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write("GET /items HTTP/1.1\r\nHost: catalog\r\nConnection: close\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      s.getInputStream().transferTo(all);
      return all.toString(StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      return e.toString();
    }
  }

  /** A caller's identity from the control server's CA. */
  static CaIdentitySource identity(String service) throws InterruptedException {
    CaIdentitySource s = CaIdentitySource.builder().service(service).joinToken(TOKENS.get(service))
        .controlServers("127.0.0.1:" + server.xdsPort()).controlServerTrust(server.trustBundleFile().orElseThrow())
        .build().start();
    closeables.add(s);
    assertThat(s.awaitIdentity(Duration.ofSeconds(20))).isNotNull();
    return s;
  }

  /** A caller's mesh client, once it sees catalog's instance. */
  static MeshClient caller(String service, int catalogPort) {
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
}
