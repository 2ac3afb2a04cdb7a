package io.meshlet.spring.autoconfigure;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.meshlet.MeshClient;
import io.meshlet.MeshListener;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.grpc.CertificateFiles;
import io.meshlet.identity.WorkloadIdentity;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.actuate.autoconfigure.endpoint.EndpointAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.client.RestClient;

/**
 * The starter against a real control server (with its CA, on TLS) and a WireMock upstream listed as
 * service {@code catalog}: start-up waits for the config and the certificate, the actuator endpoint
 * and health report the config version the control server serves, the auto-configured
 * {@code RestClient.Builder} reaches {@code http://catalog/...} through the mesh, and shutdown
 * closes the client. A control server with another CA, given the same join tokens, gets neither the
 * token nor a stream from the application; a server on {@code --xds-plaintext} is reached with
 * {@code meshlet.xds-plaintext=true}.
 */
class MeshletStarterIT {

  static final String TOKEN = "frontend-token-0123456789";

  @TempDir static Path dir;
  static WireMockServer catalog;
  static MeshFile meshFile;
  static ControlServer server;
  static AdminClient admin;

  @BeforeAll
  static void start() throws Exception {
    catalog = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    catalog.start();
    catalog.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("catalog")));
    meshFile = new MeshFile(dir).write(mesh(false));
    server = ControlServer.builder().configFile(meshFile.path()).xdsPort(0).adminPort(0)
        .caDirectory(dir.resolve("ca")).pollInterval(Duration.ofMillis(100)).joinTokens(Map.of("frontend", TOKEN))
        .build().start();
    admin = new AdminClient(server.adminPort());
  }

  static String mesh(boolean withPayments) {
    return """
        trustDomain: example.org
        services:
          catalog:
            endpoints: [ { address: 127.0.0.1:%d } ]
        """.formatted(catalog.port())
        + (withPayments ? "  payments:\n    endpoints: [ { address: 127.0.0.1:%d } ]\n".formatted(catalog.port()) : "");
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
    if (catalog != null) {
      catalog.stop();
    }
  }

  /** The application, configured to reach the control server at {@code xdsPort} over TLS, trusting {@link #server}. */
  static ApplicationContextRunner runner(int xdsPort) {
    return plainRunner(xdsPort)
        .withPropertyValues("meshlet.control-server-trust-bundle=" + server.trustBundleFile().orElseThrow());
  }

  /** The application with neither a trust bundle nor plaintext chosen yet. */
  static ApplicationContextRunner plainRunner(int xdsPort) {
    return new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class,
            BootTestLine.REST_CLIENT_AUTO_CONFIGURATION, EndpointAutoConfiguration.class))
        .withConfiguration(AutoConfigurations.of(BootTestLine.HEALTH_AUTO_CONFIGURATIONS))
        .withPropertyValues("spring.application.name=frontend", "meshlet.control-servers=127.0.0.1:" + xdsPort,
            "meshlet.first-config-timeout=20s", "management.endpoints.web.exposure.include=meshlet,health",
            "management.endpoint.health.show-details=always");
  }

  /** The version a client builds from what the control server serves now. */
  static String servedVersion() {
    JsonNode v = admin.json("/config").path("resourceVersions");
    return "L=" + v.path("Listener").asText() + ",R=" + v.path("RouteConfiguration").asText()
        + ",C=" + v.path("Cluster").asText() + ",E=" + v.path("ClusterLoadAssignment").asText();
  }

  static boolean listed(String nodeId) {
    return StreamSupport.stream(admin.json("/clients").path("clients").spliterator(), false)
        .anyMatch(c -> c.path("nodeId").asText().equals(nodeId));
  }

  @Test
  void endpointHealthAndRestClientWorkAgainstARealControlServer() {
    String[] nodeId = new String[1];
    runner(server.xdsPort())
        .withUserConfiguration(Events.class)
        .withPropertyValues("meshlet.identity.source=ca", "meshlet.identity.join-token=" + TOKEN,
            "meshlet.await-config-on-startup=true")
        .run(context -> {
          assertThat(context).hasNotFailed();
          MeshClient mesh = context.getBean(MeshClient.class);
          nodeId[0] = mesh.nodeId();
          String version = servedVersion();

          // Start-up waited for the config and the certificate: both are here without waiting.
          MeshletEndpoint.Report report = context.getBean(MeshletEndpoint.class).meshlet();
          assertThat(report.service()).isEqualTo("frontend");
          assertThat(report.config().version()).isEqualTo(version).startsWith("L=");
          assertThat(report.config().services()).containsExactly("catalog");
          assertThat(report.config().receivedAt()).isNotNull();
          assertThat(report.connection().connected()).isTrue();
          assertThat(report.connection().server()).isEqualTo("127.0.0.1:" + server.xdsPort());
          assertThat(report.controlServers()).containsExactly("127.0.0.1:" + server.xdsPort());
          assertThat(report.nacks()).isEmpty();
          assertThat(report.identity().spiffeId()).isEqualTo("spiffe://example.org/service/frontend");
          assertThat(Instant.parse(report.identity().expiresAt())).isAfter(Instant.now());

          BootTestLine.Health health = BootTestLine.endpointHealth(context, "meshlet");
          assertThat(health.status()).isEqualTo("UP");
          assertThat(health.details())
              .containsEntry("configVersion", version)
              .containsEntry("connected", true)
              .containsEntry("controlServer", "127.0.0.1:" + server.xdsPort());
          assertThat(BootTestLine.endpointComponents(context)).contains("meshlet");

          // The application's MeshListener beans hear the client too.
          assertThat(context.getBean(Events.class).seen).contains("connected 127.0.0.1:" + server.xdsPort(),
              "config " + version);

          // RestClient from the auto-configured builder: the logical host goes through the mesh.
          RestClient rest = context.getBean(RestClient.Builder.class).build();
          assertThat(rest.get().uri("http://catalog/items?id=3").retrieve().body(String.class)).isEqualTo("catalog");
          catalog.verify(getRequestedFor(urlEqualTo("/items?id=3")).withHeader("Host", equalTo("catalog")));

          // The control server knows this client.
          assertThat(listed(mesh.nodeId())).isTrue();

          // A new config shows up in the endpoint.
          meshFile.write(mesh(true));
          Await.until("the endpoint to show service payments", Duration.ofSeconds(10),
              () -> context.getBean(MeshletEndpoint.class).meshlet().config().services().contains("payments"));
          assertThat(context.getBean(MeshletEndpoint.class).meshlet().config().version())
              .isEqualTo(servedVersion()).isNotEqualTo(version);
          meshFile.write(mesh(false));
        });
    // Context closed: the client's stream ends and the control server forgets it.
    Await.until("the control server to drop " + nodeId[0], Duration.ofSeconds(10), () -> !listed(nodeId[0]));
  }

  @Test
  void identityFromFilesIsReadFromTheDirectory() throws Exception {
    Path certs = dir.resolve("files-identity");
    WorkloadIdentity[] fromCa = new WorkloadIdentity[1];
    runner(server.xdsPort())
        .withPropertyValues("meshlet.identity.source=ca", "meshlet.identity.join-token=" + TOKEN,
            "meshlet.await-config-on-startup=true")
        .run(context -> fromCa[0] = context.getBean(MeshIdentity.class).get());
    new CertificateFiles(certs).write(fromCa[0]);

    runner(server.xdsPort())
        .withPropertyValues("meshlet.identity.source=files", "meshlet.identity.directory=" + certs)
        .run(context -> {
          assertThat(context).hasNotFailed();
          WorkloadIdentity read = context.getBean(MeshIdentity.class).get();
          assertThat(read).isNotNull();
          assertThat(read.spiffeId()).isEqualTo("spiffe://example.org/service/frontend");
          assertThat(read.chain().get(0)).isEqualTo(fromCa[0].chain().get(0));
          assertThat(context.getBean(MeshletEndpoint.class).meshlet().identity().spiffeId())
              .isEqualTo("spiffe://example.org/service/frontend");
        });
  }

  @Test
  void whenTheControlServerGoesAwayHealthStaysUpUnlessAConnectionIsRequired() throws Exception {
    MeshFile file = new MeshFile(java.nio.file.Files.createDirectories(dir.resolve("own-server")));
    file.write(mesh(false));
    // A server on --xds-plaintext, as for a local trial: the applications choose plaintext too.
    ControlServer own = ControlServer.builder().xdsPlaintext(true).configFile(file.path()).xdsPort(0).adminPort(0)
        .build().start();
    try {
      int port = own.xdsPort();
      plainRunner(port).withUserConfiguration(FastReconnect.class)
          .withPropertyValues("meshlet.xds-plaintext=true", "meshlet.await-config-on-startup=true")
          .run(lenient -> plainRunner(port).withUserConfiguration(FastReconnect.class)
              .withPropertyValues("meshlet.xds-plaintext=true", "meshlet.await-config-on-startup=true",
                  "meshlet.health.require-connection=true")
              .run(strict -> {
                MeshletHealthIndicator lenientHealth = lenient.getBean(MeshletHealthIndicator.class);
                MeshletHealthIndicator strictHealth = strict.getBean(MeshletHealthIndicator.class);
                assertThat(lenientHealth.health().getStatus().getCode()).isEqualTo("UP");
                assertThat(strictHealth.health().getStatus().getCode()).isEqualTo("UP");

                own.close();
                Await.until("both clients to notice the control server is gone", Duration.ofSeconds(10),
                    () -> lenient.getBean(MeshletStatus.class).connection().isEmpty()
                        && strict.getBean(MeshletStatus.class).connection().isEmpty());

                var l = lenientHealth.health();
                assertThat(l.getStatus().getCode()).isEqualTo("UP");
                assertThat(l.getDetails()).containsEntry("connected", false).containsKey("lastDisconnect");
                var s = strictHealth.health();
                assertThat(s.getStatus().getCode()).isEqualTo("DOWN");
                assertThat(s.getDetails()).containsEntry("reason",
                    "no control server connected (serving the last good config)");
                // The last good config stays in force.
                assertThat(lenient.getBean(MeshletEndpoint.class).meshlet().config().services())
                    .containsExactly("catalog");
              }));
    } finally {
      own.close();
    }
  }

  /**
   * An impostor: a control server of its own CA on TLS, with the same mesh and the same join
   * tokens, so it would serve config and sign certificates for whoever reached it. Pointed at it
   * but trusting the real server's bundle, the application refuses its certificate: no stream, no
   * config, and the join token never reaches it.
   */
  @Test
  void anImpostorControlServerGetsNoStreamAndNoJoinTokenAndGivesNoConfig() throws Exception {
    MeshFile file = new MeshFile(java.nio.file.Files.createDirectories(dir.resolve("impostor")));
    file.write(mesh(false));
    ControlServer impostor = ControlServer.builder().configFile(file.path()).xdsPort(0).adminPort(0)
        .caDirectory(dir.resolve("impostor/ca")).joinTokens(Map.of("frontend", TOKEN)).build().start();
    CaLog caLog = CaLog.attach();
    try {
      String at = "127.0.0.1:" + impostor.xdsPort();
      AdminClient impostorAdmin = new AdminClient(impostor.adminPort());
      runner(impostor.xdsPort()).withUserConfiguration(FastReconnect.class)
          .withPropertyValues("meshlet.identity.source=ca", "meshlet.identity.join-token=" + TOKEN)
          .run(context -> {
            assertThat(context).hasNotFailed();
            MeshletStatus status = context.getBean(MeshletStatus.class);
            // The xDS client tried and was turned away by its own certificate check...
            Await.until("the xDS stream to the impostor to fail", Duration.ofSeconds(20),
                () -> status.lastDisconnect().filter(d -> d.server().equals(at)).isPresent());
            // ...and so was the CA client, before the token was sent.
            Await.until("the certificate request to the impostor to fail", Duration.ofSeconds(20),
                () -> caLog.failures(at) > 0);

            BootTestLine.Health health = BootTestLine.endpointHealth(context, "meshlet");
            assertThat(health.status()).isEqualTo("OUT_OF_SERVICE");
            assertThat(health.details())
                .containsEntry("connected", false).containsEntry("configVersion", "")
                .hasEntrySatisfying("lastDisconnect", d -> assertThat((String) d).startsWith(at + " at ")
                    .contains("UNAVAILABLE").contains("peer certificate does not chain to the control server"
                        + " trust bundle " + server.trustBundleFile().orElseThrow()));
            MeshletEndpoint.Report report = context.getBean(MeshletEndpoint.class).meshlet();
            assertThat(report.config().services()).isEmpty();
            assertThat(report.connection().connected()).isFalse();
            assertThat(report.identity()).isNull();
            assertThat(context.getBean(MeshIdentity.class).get()).isNull();

            // The impostor never had a stream, and its CA neither signed nor refused: no token came.
            assertThat(impostorAdmin.json("/clients").path("clients")).isEmpty();
            String metrics = impostorAdmin.get("/metrics").body();
            assertThat(metrics).contains("meshlet_xds_streams_total 0")
                .contains("meshlet_ca_certificates_signed_total 0")
                .contains("meshlet_ca_requests_refused_total 0");
          });
    } finally {
      caLog.detach();
      impostor.close();
    }
  }

  /** The CA client's log: its warnings are the one sign that a certificate request failed. */
  static final class CaLog extends ch.qos.logback.core.AppenderBase<ch.qos.logback.classic.spi.ILoggingEvent> {
    private final List<String> warnings = new CopyOnWriteArrayList<>();

    static CaLog attach() {
      CaLog log = new CaLog();
      log.start();
      logger().addAppender(log);
      return log;
    }

    static ch.qos.logback.classic.Logger logger() {
      return (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
          io.meshlet.identity.CaIdentitySource.class);
    }

    @Override
    protected void append(ch.qos.logback.classic.spi.ILoggingEvent event) {
      if (event.getLevel() == ch.qos.logback.classic.Level.WARN) {
        warnings.add(event.getFormattedMessage());
      }
    }

    /** How many certificate requests to {@code server} failed. */
    long failures(String server) {
      return warnings.stream().filter(w -> w.contains("certificate request to " + server + " failed")).count();
    }

    void detach() {
      logger().detachAppender(this);
      stop();
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class Events {
    final List<String> seen = new CopyOnWriteArrayList<>();

    @Bean
    MeshListener recordingListener() {
      return new MeshListener() {
        @Override
        public void onConnected(String server) {
          seen.add("connected " + server);
        }

        @Override
        public void onConfig(io.meshlet.config.MeshSnapshot snapshot) {
          seen.add("config " + snapshot.version());
        }
      };
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class FastReconnect {
    @Bean
    MeshClientBuilderCustomizer fastReconnect() {
      return b -> b.reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(200));
    }
  }
}
