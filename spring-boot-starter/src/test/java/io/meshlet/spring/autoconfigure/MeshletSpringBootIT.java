package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.meshlet.MeshClient;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.inbound.MeshJetty;
import io.meshlet.okhttp.MeshOkHttp;
import jakarta.servlet.http.HttpServletRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;

/**
 * Two Spring Boot services with the starter, on embedded Jetty, with identities from the control
 * server's CA and strict mTLS: each gets its SVID with its join token over TLS, registers its own
 * instance on an xDS stream that presents that SVID, they call each other by service name
 * over mTLS and learn who called, a caller not on catalog's allow list is refused, and a service
 * shut down leaves the mesh. The test application is {@code frontend}; {@code catalog} runs beside
 * it in the same JVM.
 */
@SpringBootTest(classes = MeshletSpringBootIT.App.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class MeshletSpringBootIT {

  static final Map<String, String> TOKENS = Map.of("frontend", "frontend-token-0123456789",
      "catalog", "catalog-token-0123456789", "payments", "payments-token-0123456789");

  @TempDir static Path dir;
  static ControlServer server;
  static ConfigurableApplicationContext catalog;

  /** Both services: {@code /items} answers with the caller; {@code /ask/{service}} calls another. */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  @RestController
  static class App {
    private final RestClient rest;
    private final String name;

    App(RestClient.Builder builder, org.springframework.core.env.Environment env) {
      this.rest = builder.build();
      this.name = env.getProperty("spring.application.name");
    }

    @GetMapping("/items")
    String items(HttpServletRequest request) {
      return name + " answers " + request.getAttribute(MeshJetty.CALLER_ATTRIBUTE);
    }

    /** Jetty, though Tomcat is on the test class path too (for MeshletTomcatIT) and Boot would pick it first. */
    @Bean
    BootTestLine.Jetty jetty() {
      return new BootTestLine.Jetty();
    }

    @GetMapping("/ask/{service}")
    String ask(@PathVariable String service) {
      return rest.get().uri("http://" + service + "/items").retrieve().body(String.class);
    }
  }

  static String[] properties(String service) {
    return new String[] {
        "spring.application.name=" + service,
        "server.address=127.0.0.1",
        "meshlet.control-servers=127.0.0.1:" + server.xdsPort(),
        "meshlet.control-server-trust-bundle=" + server.trustBundleFile().orElseThrow(),
        "meshlet.identity.source=ca",
        "meshlet.identity.join-token=" + TOKENS.get(service),
        "meshlet.await-config-on-startup=true",
        "meshlet.instance.labels.version=v1",
        "meshlet.grpc.certificate-directory=" + dir.resolve(service + "-certs"),
        "spring.main.banner-mode=off",
    };
  }

  @BeforeAll
  static void startControlServerAndCatalog() throws Exception {
    MeshFile file = new MeshFile(dir).write("""
        trustDomain: example.org
        mtls: { mode: strict, certTtl: 1h }
        services:
          catalog:
            routes: [ { to: [ {} ], retries: { attempts: 2, on: [connect-failure, reset] } } ]
            authorization: { allow: [ spiffe://example.org/service/frontend ] }
          frontend: {}
        """);
    server = ControlServer.builder().configFile(file.path()).xdsPort(0).adminPort(0).caDirectory(dir.resolve("ca"))
        .pollInterval(Duration.ofMillis(100)).joinTokens(TOKENS).build().start();
    catalog = new SpringApplicationBuilder(App.class).properties(properties("catalog"))
        .properties("server.port=0").run();
  }

  @DynamicPropertySource
  static void frontendProperties(DynamicPropertyRegistry registry) {
    for (String p : properties("frontend")) {
      int eq = p.indexOf('=');
      registry.add(p.substring(0, eq), () -> p.substring(eq + 1));
    }
  }

  @AfterAll
  static void stop() {
    if (catalog != null) {
      catalog.close();
    }
    if (server != null) {
      server.close();
    }
  }

  @Autowired RestClient.Builder rest;
  @Autowired MeshClient mesh;
  @Autowired org.springframework.context.ApplicationContext self;

  static int port(ConfigurableApplicationContext context) {
    return BootTestLine.port(context);
  }

  static List<String> endpoints(MeshClient client, String cluster) {
    return client.snapshot().cluster(cluster).map(ClusterConfig::endpoints).orElse(List.of()).stream()
        .map(EndpointConfig::address).toList();
  }

  @Test
  void theServicesRegisterCallEachOtherOverMtlsAndRefuseOthers() throws Exception {
    // Registered: both instances are in EDS and on /clients.
    String catalogAddress = "127.0.0.1:" + port(catalog);
    String frontendAddress = "127.0.0.1:" + BootTestLine.port(self);
    Await.until("both instances in EDS", Duration.ofSeconds(20),
        () -> endpoints(mesh, "catalog").contains(catalogAddress) && endpoints(mesh, "frontend").contains(frontendAddress));
    JsonNode clients = new AdminClient(server.adminPort()).json("/clients");
    assertThat(clients.findValues("instance")).extracting(i -> i.get("address").asText())
        .contains(catalogAddress, frontendAddress);

    // frontend -> catalog, and catalog -> frontend, each seeing the other's SPIFFE ID.
    RestClient client = rest.build();
    assertThat(client.get().uri("http://catalog/items").retrieve().body(String.class))
        .isEqualTo("catalog answers spiffe://example.org/service/frontend");
    assertThat(client.get().uri("http://catalog/ask/frontend").retrieve().body(String.class))
        .isEqualTo("frontend answers spiffe://example.org/service/catalog");

    // payments is not on catalog's allow list; a plaintext caller cannot connect at all.
    try (CaIdentitySource payments = CaIdentitySource.builder().service("payments")
        .joinToken(TOKENS.get("payments")).controlServers("127.0.0.1:" + server.xdsPort())
        .controlServerTrust(server.trustBundleFile().orElseThrow()).build().start()) {
      assertThat(payments.awaitIdentity(Duration.ofSeconds(20))).isNotNull();
      try (Response r = MeshOkHttp.client(mesh, payments::current)
          .newCall(new Request.Builder().url("http://catalog/items").build()).execute()) {
        assertThat(r.code()).isEqualTo(403);
        assertThat(r.header("x-meshlet-denied")).isEqualTo("true");
      }
    }
    okhttp3.OkHttpClient plain = new okhttp3.OkHttpClient.Builder().readTimeout(Duration.ofSeconds(5)).build();
    assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> {
      try (Response r = plain.newCall(new Request.Builder().url("http://" + catalogAddress + "/items").build())
          .execute()) {
        r.body().string();
      }
    })).isInstanceOf(java.io.IOException.class);

    // catalog shuts down: it leaves EDS and /config.
    catalog.close();
    catalog = null;
    Await.until("catalog to leave EDS", Duration.ofSeconds(20), () -> !endpoints(mesh, "catalog").contains(catalogAddress));
    assertThat(new AdminClient(server.adminPort()).json("/config").get("registered"))
        .extracting(i -> i.get("service").asText()).containsExactly("frontend");
  }
}
