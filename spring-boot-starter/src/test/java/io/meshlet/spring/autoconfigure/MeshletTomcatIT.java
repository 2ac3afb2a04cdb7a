package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.okhttp.MeshServletFilter;
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
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * A Spring Boot service with the starter on embedded Tomcat, Boot's default server, which the
 * starter cannot put under the mesh's mTLS: a mesh that asks for mTLS fails its start-up (or, for a
 * config that arrives later, turns its requests away with 503), an allow list is still enforced by
 * {@link MeshServletFilter}, and {@code meshlet.inbound.enabled=false} hands the policy to the
 * application with a warning. Control servers run on TLS with the CA, as in production, except for
 * the late one, which runs in plaintext so that it needs no trust bundle before it exists.
 */
@ExtendWith(OutputCaptureExtension.class)
class MeshletTomcatIT {

  static final Map<String, String> TOKENS = Map.of("catalog", "catalog-token-0123456789");

  @TempDir Path dir;
  ControlServer server;
  final List<ConfigurableApplicationContext> apps = new ArrayList<>();

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
  void stop() {
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
    return run(p);
  }

  ConfigurableApplicationContext run(List<String> properties) {
    ConfigurableApplicationContext app =
        new SpringApplicationBuilder(App.class).properties(properties.toArray(String[]::new)).run();
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

  @Test
  void whenTheMeshAsksForStrictMtlsOnTomcatThenStartupFailsNamingWhatToChange() throws Exception {
    startControlServer("""
        trustDomain: example.org
        mtls: { mode: strict, certTtl: 1h }
        services:
          catalog: { authorization: { allow: [ spiffe://example.org/service/frontend ] } }
        """, 0, false);

    Throwable failure = catchThrowable(this::catalog);

    assertThat(failure).hasRootCauseInstanceOf(MeshletInboundException.class).rootCause().hasMessage(
        "meshlet: service 'catalog' asks for mtls strict, but the embedded web server is Tomcat, which the starter"
            + " cannot put under the mesh's mTLS yet: use spring-boot-starter-jetty (exclude"
            + " spring-boot-starter-tomcat), or set meshlet.inbound.enabled=false to take responsibility for the"
            + " inbound policy yourself");
  }

  @Test
  void whenTheMeshAsksForPermissiveMtlsOnTomcatThenStartupFailsToo() throws Exception {
    startControlServer("""
        trustDomain: example.org
        mtls: { mode: permissive, certTtl: 1h }
        services:
          catalog: {}
        """, 0, false);

    assertThat(catchThrowable(this::catalog)).rootCause().isInstanceOf(MeshletInboundException.class)
        .hasMessageStartingWith("meshlet: service 'catalog' asks for mtls permissive, but the embedded web server"
            + " is Tomcat");
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
    assertThat(refused.body()).startsWith("meshlet: service 'catalog' asks for mtls strict, but the embedded web"
        + " server is Tomcat, which the starter cannot put under the mesh's mTLS yet: use spring-boot-starter-jetty"
        + " (exclude spring-boot-starter-tomcat) and set meshlet.identity.source");
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
