// Long by design: one ApplicationContextRunner case per bean and property of the starter, shared by
// both Boot lines (the boot3 module compiles this same file).
package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshlet.MeshClient;
import io.meshlet.MeshListener;
import io.meshlet.controlplane.internal.ca.CertificateAuthority;
import io.meshlet.grpc.MeshGrpc;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.FileIdentitySource;
import io.meshlet.okhttp.MeshOkHttp;
import io.meshlet.okhttp.MeshOkHttpInterceptor;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.context.propagation.ContextPropagators;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.boot.test.context.assertj.AssertableWebApplicationContext;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.core.Ordered;
import io.meshlet.inbound.MeshServletFilter;
import java.util.List;
import java.util.Map;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.client.RestClient;

/**
 * Every conditional bean of {@link MeshletAutoConfiguration}: present by default, backing off for
 * the application's own, absent without its library or with {@code meshlet.enabled=false}, and
 * start-up failures for missing settings. No control server runs here: the client points at a
 * closed port and keeps retrying in the background until the context closes. It is configured as
 * for a control server on TLS, the default, with the trust bundle of a CA made for the test.
 */
class MeshletAutoConfigurationTest {

  /** A loopback port nothing listens on. */
  static final String NOWHERE = "127.0.0.1:1";

  @TempDir static Path caDir;
  /** A control server's trust bundle: the root of a CA of trust domain example.org, PEM. */
  static Path trustBundle;
  /** The property naming it. */
  static String trust;

  @TempDir Path dir;

  private ApplicationContextRunner runner;

  @BeforeAll
  static void makeTrustBundle() throws Exception {
    CertificateAuthority.loadOrCreate("example.org", caDir.resolve("ca"), Clock.systemUTC());
    trustBundle = Files.copy(caDir.resolve("ca/ca.crt"), caDir.resolve("trust-bundle.pem"));
    trust = "meshlet.control-server-trust-bundle=" + trustBundle;
  }

  @BeforeEach
  void makeRunner() {
    runner = new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class,
            BootTestLine.REST_CLIENT_AUTO_CONFIGURATION, BootTestLine.REST_TEMPLATE_AUTO_CONFIGURATION))
        .withPropertyValues("meshlet.service-name=frontend", "meshlet.control-servers=" + NOWHERE, trust,
            "management.endpoints.web.exposure.include=meshlet");
  }

  @AfterEach
  void bootstrapPropertyIsCleared() {
    assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY)).isNull();
  }

  @Test
  void defaultsGiveEveryBeanButTheIdentity() {
    runner.run(context -> {
      assertThat(context).hasNotFailed();
      assertThat(context).hasSingleBean(MeshClient.class).hasSingleBean(MeshletStatus.class)
          .hasSingleBean(OkHttpClient.class).hasSingleBean(MeshletRestClientCustomizer.class)
          .hasSingleBean(MeshGrpcChannels.class).hasSingleBean(MeshletEndpoint.class)
          .hasSingleBean(MeshletHealthIndicator.class);
      assertThat(context).doesNotHaveBean(CaIdentitySource.class).doesNotHaveBean(FileIdentitySource.class)
          .doesNotHaveBean(MeshIdentity.class);
      MeshClient mesh = context.getBean(MeshClient.class);
      assertThat(mesh.serviceName()).isEqualTo("frontend");
      assertThatThrownBy(mesh::start).hasMessage("already started");
      assertThat(context.getBean(OkHttpClient.class).interceptors()).first().isInstanceOf(MeshOkHttpInterceptor.class);
    });
  }

  @Test
  void whenDisabledThenNothingIsConfigured() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class,
            BootTestLine.REST_CLIENT_AUTO_CONFIGURATION, BootTestLine.REST_TEMPLATE_AUTO_CONFIGURATION))
        .withPropertyValues("meshlet.enabled=false", "management.endpoints.web.exposure.include=meshlet")
        .run(context -> {
          assertThat(context).hasNotFailed();
          assertThat(context).doesNotHaveBean(MeshClient.class).doesNotHaveBean(MeshletStatus.class)
              .doesNotHaveBean(OkHttpClient.class).doesNotHaveBean(MeshletRestClientCustomizer.class)
              .doesNotHaveBean(MeshGrpcChannels.class).doesNotHaveBean(MeshletEndpoint.class)
              .doesNotHaveBean(MeshletHealthIndicator.class).doesNotHaveBean(MeshletProperties.class);
        });
  }

  @Test
  void serviceNameDefaultsToTheApplicationName() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("spring.application.name=catalog", "meshlet.control-servers=" + NOWHERE, trust)
        .run(context -> assertThat(context.getBean(MeshClient.class).serviceName()).isEqualTo("catalog"));
  }

  @Test
  void propertiesReachTheClient() {
    runner.withPropertyValues("meshlet.node-id=frontend-7", "meshlet.first-config-timeout=250ms")
        .run(context -> {
          MeshClient mesh = context.getBean(MeshClient.class);
          assertThat(mesh.nodeId()).isEqualTo("frontend-7");
          // No config arrives from a closed port: a mesh call waits first-config-timeout, then fails.
          assertThatThrownBy(() -> mesh.calls().route("catalog", "/", h -> null))
              .isInstanceOf(java.io.InterruptedIOException.class)
              .hasMessageContaining("within 250 ms");
          assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY)).contains("\"id\":\"frontend-7~grpc\"");
        });
  }

  @Test
  void whenServiceNameIsMissingThenStartupFailsNamingTheProperty() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.control-servers=" + NOWHERE, trust)
        .run(context -> assertThat(failure(context)).hasMessage("""
            Invalid Meshlet settings (1 problem):
              meshlet.service-name: not set (expected: this service's name in the mesh; \
            spring.application.name is used when meshlet.service-name is not set)
            Set them, or meshlet.enabled=false to start without the mesh."""));
  }

  @Test
  void whenControlServersAreMissingThenStartupFailsNamingTheProperty() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.service-name=frontend", trust)
        .run(context -> assertThat(failure(context).problems()).containsExactly(
            "meshlet.control-servers: not set (expected: at least one host:port of a Meshlet control server,"
                + " e.g. meshlet.control-servers=127.0.0.1:18000)"));
  }

  @Test
  void everyProblemIsReportedAtOnce() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.control-servers=127.0.0.1:1,catalog,host:99999", "meshlet.identity.source=ca")
        .run(context -> assertThat(failure(context).problems()).containsExactly(
            "meshlet.service-name: not set (expected: this service's name in the mesh; spring.application.name"
                + " is used when meshlet.service-name is not set)",
            "meshlet.control-servers[1]: 'catalog' (expected: host:port)",
            "meshlet.control-servers[2]: 'host:99999' (expected: host:port)",
            NO_TRUST,
            "meshlet.identity.join-token: not set (expected: this service's join token when"
                + " meshlet.identity.source=ca)"));
  }

  static final String NO_TRUST = "meshlet.control-server-trust-bundle: not set (expected: the path of the control"
      + " server's trust bundle, trust-bundle.pem in its --ca-dir, so this service can tell the control server"
      + " from an impostor; or meshlet.xds-plaintext=true for a control server started with --xds-plaintext)";

  @Test
  void whenNeitherTrustBundleNorPlaintextIsSetThenStartupFailsNamingBoth() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.service-name=frontend", "meshlet.control-servers=" + NOWHERE)
        .run(context -> {
          MeshletPropertiesException e = failure(context);
          assertThat(e.problems()).containsExactly(NO_TRUST);
          assertThat(new MeshletPropertiesFailureAnalyzer().analyze(e).getDescription())
              .isEqualTo("Meshlet could not start:\n  " + NO_TRUST);
        });
  }

  @Test
  void whenBothTrustBundleAndPlaintextAreSetThenStartupFails() {
    runner.withPropertyValues("meshlet.xds-plaintext=true").run(context -> assertThat(failure(context).problems())
        .containsExactly("meshlet.xds-plaintext: true while meshlet.control-server-trust-bundle is set (expected:"
            + " one of the two: the trust bundle for a control server on TLS, the default, or plaintext for one"
            + " started with --xds-plaintext)"));
  }

  @Test
  void whenTheTrustBundleIsMissingOrNotPemThenStartupFailsNamingTheFile() throws Exception {
    Path missing = dir.resolve("nowhere/trust-bundle.pem");
    runner.withPropertyValues("meshlet.control-server-trust-bundle=" + missing)
        .run(context -> assertThat(failure(context).problems()).containsExactly("meshlet.control-server-trust-bundle: '"
            + missing + "' does not exist (expected: the control server's trust-bundle.pem, written to its --ca-dir)"));
    Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not a certificate\n");
    runner.withPropertyValues("meshlet.control-server-trust-bundle=" + garbage)
        .run(context -> assertThat(failure(context).problems()).containsExactly("meshlet.control-server-trust-bundle: '"
            + garbage + "' holds no PEM certificate that can be read (expected: the control server's"
            + " trust-bundle.pem, written to its --ca-dir)"));
  }

  @Test
  void whenIdentityComesFromTheCaThenPlaintextIsRefused() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.service-name=frontend", "meshlet.control-servers=" + NOWHERE,
            "meshlet.xds-plaintext=true", "meshlet.identity.source=ca",
            "meshlet.identity.join-token=frontend-token-0123456789")
        .run(context -> assertThat(failure(context).problems()).containsExactly("meshlet.identity.source: ca with"
            + " meshlet.xds-plaintext=true (expected: meshlet.control-server-trust-bundle instead: the join token"
            + " goes only over TLS, and a control server on --xds-plaintext refuses join tokens)"));
  }

  @Test
  void withPlaintextEveryBeanIsThereAndGrpcBootstrapsInsecure() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.service-name=frontend", "meshlet.control-servers=" + NOWHERE,
            "meshlet.xds-plaintext=true")
        .run(context -> {
          assertThat(context).hasNotFailed();
          assertThat(context).hasSingleBean(MeshClient.class).hasSingleBean(MeshGrpcChannels.class);
          assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY))
              .contains("\"channel_creds\":[{\"type\":\"insecure\"}]");
        });
  }

  @Test
  void whenDisabledThenMissingSettingsDoNotMatter() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.enabled=false")
        .run(context -> assertThat(context).hasNotFailed());
  }

  @Test
  void failureAnalysisListsTheProblems() {
    MeshletPropertiesException e = new MeshletPropertiesException(java.util.List.of("meshlet.a: b (expected: c)"));
    var analysis = new MeshletPropertiesFailureAnalyzer().analyze(new IllegalStateException(e));
    assertThat(analysis.getDescription()).isEqualTo("Meshlet could not start:\n  meshlet.a: b (expected: c)");
    assertThat(analysis.getAction()).contains("meshlet.enabled=false");
  }

  @Test
  void whenApplicationDefinesMeshClientThenAutoConfiguredOneBacksOff() {
    runner.withUserConfiguration(OwnMeshClient.class).run(context -> {
      assertThat(context).hasSingleBean(MeshClient.class);
      assertThat(context.getBean(MeshClient.class)).isSameAs(context.getBean(OwnMeshClient.class).mesh);
      // The beans built on the client use the application's.
      assertThat(context).hasSingleBean(OkHttpClient.class).hasSingleBean(MeshletHealthIndicator.class);
    });
  }

  @Test
  void whenTheApplicationHasAnOpenTelemetryThenTheMeshClientReportsToIt() {
    OpenTelemetry otel = OpenTelemetry.propagating(ContextPropagators.noop());
    runner.withBean(OpenTelemetry.class, () -> otel).run(context ->
        assertThat(context.getBean(MeshClient.class).openTelemetry()).isSameAs(otel));
  }

  @Test
  void customizersAndListenersReachTheBuilder() {
    runner.withUserConfiguration(Customizer.class).run(context -> {
      assertThat(context.getBean(MeshClient.class).nodeId()).isEqualTo("customized");
    });
  }

  @Test
  void whenIdentitySourceIsCaThenCaIdentitySourceAndMeshIdentity() {
    runner.withPropertyValues("meshlet.identity.source=ca", "meshlet.identity.join-token=frontend-token-0123456789")
        .run(context -> {
          assertThat(context).hasNotFailed();
          assertThat(context).hasSingleBean(CaIdentitySource.class).hasSingleBean(MeshIdentity.class)
              .doesNotHaveBean(FileIdentitySource.class);
          // No certificate from a closed port yet; the bean is there and keeps asking.
          assertThat(context.getBean(MeshIdentity.class).get()).isNull();
        });
  }

  @Test
  void whenIdentitySourceIsFilesThenFileIdentitySourceAndMeshIdentity() {
    runner.withPropertyValues("meshlet.identity.source=files", "meshlet.identity.directory=" + dir)
        .run(context -> {
          assertThat(context).hasNotFailed();
          assertThat(context).hasSingleBean(FileIdentitySource.class).hasSingleBean(MeshIdentity.class)
              .doesNotHaveBean(CaIdentitySource.class);
          // gRPC reads the same files.
          assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY))
              .contains("\"certificate_file\":\"" + dir.resolve("cert.pem") + "\"")
              .contains("\"ca_certificate_file\":\"" + dir.resolve("ca.pem") + "\"");
        });
  }

  @Test
  void whenIdentitySourceIsFilesWithoutDirectoryThenStartupFails() {
    runner.withPropertyValues("meshlet.identity.source=files").run(context -> assertThat(failure(context).problems())
        .containsExactly("meshlet.identity.directory: not set (expected: the directory holding cert.pem, key.pem"
            + " and ca.pem when meshlet.identity.source=files)"));
  }

  @Test
  void whenApplicationDefinesIdentitySourceThenItIsUsed() {
    runner.withUserConfiguration(OwnCaIdentity.class).run(context -> {
      assertThat(context).hasSingleBean(CaIdentitySource.class).hasSingleBean(MeshIdentity.class);
      assertThat(context.getBean(CaIdentitySource.class)).isSameAs(context.getBean(OwnCaIdentity.class).source);
    });
    runner.withUserConfiguration(OwnCaIdentity.class).withPropertyValues("meshlet.identity.source=ca",
        "meshlet.identity.join-token=frontend-token-0123456789")
        .run(context -> assertThat(context.getBean(CaIdentitySource.class))
            .isSameAs(context.getBean(OwnCaIdentity.class).source));
  }

  @Test
  void whenApplicationDefinesMeshIdentityThenAutoConfiguredOneBacksOff() {
    runner.withUserConfiguration(OwnMeshIdentity.class).withPropertyValues("meshlet.identity.source=files",
        "meshlet.identity.directory=" + dir).run(context -> {
          assertThat(context).hasSingleBean(MeshIdentity.class);
          assertThat(context.getBean(MeshIdentity.class)).isSameAs(OwnMeshIdentity.IDENTITY);
        });
  }

  @Test
  void registrationIsOnByDefaultAndOffWhenAsked() {
    runner.run(context -> assertThat(context).hasSingleBean(MeshletRegistration.class));
    runner.withPropertyValues("meshlet.instance.register=false")
        .run(context -> assertThat(context).doesNotHaveBean(MeshletRegistration.class));
  }

  @Test
  void withoutAnIdentityOnTlsTheRegistrationWarnsThatItWillBeRefused() {
    runner.run(context -> assertThat(context.getBean(MeshletRegistration.class).refusal())
        .isEqualTo("this application has no workload identity (meshlet.identity.source): a control server on TLS"
            + " accepts an instance of 'frontend' only from a stream presenting that service's SVID, and refuses"
            + " this one (set meshlet.identity.source, or meshlet.instance.register=false)"));
    runner.withPropertyValues("meshlet.identity.source=files", "meshlet.identity.directory=" + dir)
        .run(context -> assertThat(context.getBean(MeshletRegistration.class).refusal()).isNull());
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.service-name=frontend", "meshlet.control-servers=" + NOWHERE,
            "meshlet.xds-plaintext=true")
        .run(context -> assertThat(context.getBean(MeshletRegistration.class).refusal()).isNull());
  }

  @Test
  void instanceHostComesFromThePropertyThenServerAddress() {
    runner.withPropertyValues("meshlet.instance.host=10.1.2.3", "server.address=10.9.9.9")
        .run(context -> assertThat(MeshletRegistration.host(context.getBean(MeshletProperties.class),
            context.getEnvironment())).isEqualTo("10.1.2.3"));
    runner.withPropertyValues("server.address=10.9.9.9")
        .run(context -> assertThat(MeshletRegistration.host(context.getBean(MeshletProperties.class),
            context.getEnvironment())).isEqualTo("10.9.9.9"));
  }

  @Test
  void jettyInboundNeedsAnIdentityAndJettyAndCanBeTurnedOff() {
    String[] files = {"meshlet.identity.source=files", "meshlet.identity.directory=" + dir};
    runner.run(context -> assertThat(context).doesNotHaveBean(MeshletJettyInbound.class));
    runner.withPropertyValues(files).run(context -> assertThat(context).hasSingleBean(MeshletJettyInbound.class));
    runner.withPropertyValues(files).withPropertyValues("meshlet.inbound.enabled=false")
        .run(context -> assertThat(context).doesNotHaveBean(MeshletJettyInbound.class));
    runner.withPropertyValues(files).withClassLoader(new FilteredClassLoader("org.eclipse.jetty.server"))
        .run(context -> assertThat(context).doesNotHaveBean(MeshletJettyInbound.class));
  }

  /** A servlet web application (no server is started): the inbound guard's beans. */
  WebApplicationContextRunner web() {
    return new WebApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.service-name=catalog", "meshlet.control-servers=" + NOWHERE, trust,
            "meshlet.grpc.enabled=false");
  }

  static List<String> filterNames(AssertableWebApplicationContext context) {
    return context.getBeansOfType(FilterRegistrationBean.class).values().stream()
        .filter(FilterRegistrationBean::isEnabled).map(FilterRegistrationBean::getFilterName).sorted().toList();
  }

  @Test
  void whenAServletWebApplicationThenTheInboundGuardAndTheAuthorizationFilterComeFirst() {
    web().run(context -> {
      assertThat(context).hasNotFailed().hasSingleBean(MeshletInboundGuard.class);
      assertThat(filterNames(context)).containsExactly("meshletAuthorization", "meshletInboundGuard");
      Map<String, Integer> order = new java.util.HashMap<>();
      context.getBeansOfType(FilterRegistrationBean.class).values()
          .forEach(r -> order.put(r.getFilterName(), r.getOrder()));
      assertThat(order).containsEntry("meshletInboundGuard", Ordered.HIGHEST_PRECEDENCE)
          .containsEntry("meshletAuthorization", Ordered.HIGHEST_PRECEDENCE + 1);
      FilterRegistrationBean<?> authorization = context.getBeansOfType(FilterRegistrationBean.class).values()
          .stream().filter(r -> r.getFilterName().equals("meshletAuthorization")).findFirst().orElseThrow();
      assertThat(authorization.getFilter()).isInstanceOf(MeshServletFilter.class);
    });
    // With an identity too: the same, whatever the server turns out to be.
    web().withPropertyValues("meshlet.identity.source=files", "meshlet.identity.directory=" + dir)
        .run(context -> assertThat(filterNames(context)).containsExactly("meshletAuthorization", "meshletInboundGuard"));
  }

  /** A reactive web application (no server is started): the inbound guard's beans. */
  org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner reactive() {
    return new org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.service-name=catalog", "meshlet.control-servers=" + NOWHERE, trust,
            "meshlet.grpc.enabled=false");
  }

  @Test
  void whenAReactiveWebApplicationThenTheInboundGuardItsGateAndTheAuthorizationWebFilterComeFirst() {
    reactive().run(context -> {
      assertThat(context).hasNotFailed().hasSingleBean(MeshletInboundGuard.class)
          .hasSingleBean(MeshletInboundGate.class).hasSingleBean(MeshletAuthorizationWebFilter.class);
      assertThat(context.getBean(MeshletInboundGate.class).getOrder()).isEqualTo(Ordered.HIGHEST_PRECEDENCE);
      assertThat(context.getBean(MeshletAuthorizationWebFilter.class).getOrder())
          .isEqualTo(Ordered.HIGHEST_PRECEDENCE + 1);
      // No identity: Reactor Netty is not put under mTLS (the guard refuses a mesh that asks for it).
      assertThat(context).doesNotHaveBean(MeshletNettyInbound.class);
    });
    reactive().withPropertyValues("meshlet.inbound.enabled=false").run(context -> assertThat(context)
        .hasNotFailed().doesNotHaveBean(MeshletInboundGuard.class).doesNotHaveBean(MeshletInboundGate.class)
        .doesNotHaveBean(MeshletAuthorizationWebFilter.class));
  }

  @Test
  void nettyInboundNeedsAnIdentityAndReactorNettyAndCanBeTurnedOff() {
    String[] files = {"meshlet.identity.source=files", "meshlet.identity.directory=" + dir};
    reactive().withPropertyValues(files)
        .run(context -> assertThat(context).hasNotFailed().hasSingleBean(MeshletNettyInbound.class));
    reactive().withPropertyValues(files).withPropertyValues("meshlet.inbound.enabled=false")
        .run(context -> assertThat(context).doesNotHaveBean(MeshletNettyInbound.class));
    reactive().withPropertyValues(files).withClassLoader(new FilteredClassLoader("reactor.netty"))
        .run(context -> assertThat(context).doesNotHaveBean(MeshletNettyInbound.class));
  }

  /** A mesh client with no config yet: a server that takes one mode at start-up takes strict mTLS (fail closed). */
  static MeshClient unconfigured() {
    return MeshClient.builder().serviceName("catalog").controlServers(NOWHERE).xdsPlaintext().build();
  }

  @Test
  void whenTheApplicationConfiguredServerSslThenPuttingTheServerUnderTheMeshsMtlsFailsNamingTheProperties() {
    org.springframework.boot.web.server.Ssl own = new org.springframework.boot.web.server.Ssl();
    own.setKeyStore("classpath:server.p12");
    own.setClientAuth(org.springframework.boot.web.server.Ssl.ClientAuth.NEED);
    MeshIdentity identity = MeshIdentity.of(() -> null, listener -> { });
    try (MeshClient mesh = unconfigured()) {
      String action = ": remove server.ssl.* from the application's configuration (Meshlet owns the server's TLS"
          + " while the mesh asks for mTLS), or set meshlet.inbound.enabled=false to take responsibility for the"
          + " inbound policy yourself";
      BootTestLine.Netty netty = new BootTestLine.Netty();
      netty.setSsl(own);
      assertThatThrownBy(() -> new MeshletNettyInbound(mesh, identity, Duration.ZERO).customize(netty))
          .isInstanceOf(MeshletInboundException.class)
          .satisfies(e -> assertThat(((MeshletInboundException) e).problem() + ": "
              + ((MeshletInboundException) e).action()).isEqualTo("meshlet: service 'catalog' is under the mesh's"
              + " mTLS, which the starter gives the embedded Reactor Netty server with the workload's SVID, but the"
              + " application configured the server's own TLS (server.ssl.key-store, server.ssl.client-auth)"
              + action));
      BootTestLine.Tomcat tomcat = new BootTestLine.Tomcat();
      tomcat.setSsl(own);
      assertThatThrownBy(() -> new MeshletTomcatInbound(mesh, identity, Duration.ZERO).customize(tomcat))
          .isInstanceOf(MeshletInboundException.class).hasMessageContaining("the embedded Tomcat server");
      BootTestLine.Jetty jetty = new BootTestLine.Jetty();
      jetty.setSsl(own);
      assertThatThrownBy(() -> new MeshletJettyInbound(mesh, identity).customize(jetty))
          .isInstanceOf(MeshletInboundException.class).hasMessageContaining("the embedded Jetty server");

      // Without server.ssl.*, or with server.ssl.enabled=false, the server is the mesh's.
      MeshletNettyInbound inbound = new MeshletNettyInbound(mesh, identity, Duration.ZERO);
      inbound.customize(new BootTestLine.Netty());
      assertThat(inbound.mtls()).isTrue();
      org.springframework.boot.web.server.Ssl off = new org.springframework.boot.web.server.Ssl();
      off.setEnabled(false);
      off.setKeyStore("classpath:server.p12");
      BootTestLine.Tomcat tomcatOff = new BootTestLine.Tomcat();
      tomcatOff.setSsl(off);
      new MeshletTomcatInbound(mesh, identity, Duration.ZERO).customize(tomcatOff);
    }
  }

  @Test
  void whenNotAServletWebApplicationThenNoInboundGuard() {
    runner.run(context -> assertThat(context).doesNotHaveBean(MeshletInboundGuard.class)
        .doesNotHaveBean(FilterRegistrationBean.class));
  }

  @Test
  void whenMeshClientHttpIsAbsentThenTheGuardStaysWithoutTheAuthorizationFilter() {
    web().withClassLoader(new FilteredClassLoader(MeshServletFilter.class)).run(context -> {
      assertThat(context).hasNotFailed().hasSingleBean(MeshletInboundGuard.class);
      assertThat(filterNames(context)).containsExactly("meshletInboundGuard");
    });
  }

  @Test
  void whenInboundIsDisabledThenNoGuardNoFilterAndAWarningThatThePolicyIsTheApplications() {
    web().withPropertyValues("meshlet.inbound.enabled=false").run(context -> {
      assertThat(context).hasNotFailed().doesNotHaveBean(MeshletInboundGuard.class)
          .doesNotHaveBean(FilterRegistrationBean.class).hasBean("meshletInboundDisabledWarning");
    });
  }

  @Test
  void serverNamesComeFromBootsEmbeddedPackages() {
    assertThat(MeshletAutoConfiguration.ServletInboundConfiguration.serverName(
        new BootTestLine.Tomcat())).isEqualTo("Tomcat");
    assertThat(MeshletAutoConfiguration.ServletInboundConfiguration.serverName(
        new BootTestLine.Jetty())).isEqualTo("Jetty");
    assertThat(MeshletAutoConfiguration.ServletInboundConfiguration.serverName("x")).isEqualTo("String");
  }

  @Test
  void aGrpcServerOnlyWithAPortAndItsInstanceGoesInTheBootstrap() {
    runner.run(context -> assertThat(context).doesNotHaveBean(MeshletGrpcServer.class));
    runner.withPropertyValues("meshlet.grpc.server-port=9443", "meshlet.instance.host=127.0.0.1",
        "meshlet.instance.labels.version=v2", "meshlet.first-config-timeout=200ms").run(context -> {
          assertThat(context).hasSingleBean(MeshletGrpcServer.class);
          assertThat(context.getBean(MeshletGrpcServer.class).port()).isEqualTo(9443);
          assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY))
              .contains("\"meshlet.instance\":{").contains("\"address\":\"127.0.0.1:9443\"")
              .contains("\"version\":\"v2\"").contains("\"protocol\":\"grpc\"");
        });
    runner.withPropertyValues("meshlet.grpc.server-port=9443").withClassLoader(new FilteredClassLoader(MeshGrpc.class))
        .run(context -> assertThat(context).doesNotHaveBean(MeshletGrpcServer.class));
    runner.withPropertyValues("meshlet.grpc.enabled=false").run(context -> {
      assertThat(context).doesNotHaveBean(MeshGrpcChannels.class).doesNotHaveBean(MeshletGrpcServer.class);
      assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY)).isNull();
    });
  }

  @Test
  void whenApplicationDefinesOkHttpClientThenAutoConfiguredOneBacksOff() {
    runner.withBean("myOkHttp", OkHttpClient.class, OkHttpClient::new).run(context -> {
      assertThat(context).hasSingleBean(OkHttpClient.class).hasBean("myOkHttp");
      assertThat(context).hasSingleBean(MeshletRestClientCustomizer.class);
    });
  }

  @Test
  void whenOkHttpIsAbsentThenNoOkHttpClientAndNoRestClientCustomizer() {
    runner.withClassLoader(new FilteredClassLoader(OkHttpClient.class)).run(context -> {
      assertThat(context).hasNotFailed();
      assertThat(context).doesNotHaveBean(OkHttpClient.class).doesNotHaveBean(MeshletRestClientCustomizer.class)
          .hasSingleBean(MeshClient.class);
    });
  }

  @Test
  void whenMeshClientHttpIsAbsentThenNoOkHttpClient() {
    runner.withClassLoader(new FilteredClassLoader(MeshOkHttp.class)).run(context -> {
      assertThat(context).hasNotFailed();
      assertThat(context).doesNotHaveBean(OkHttpClient.class).doesNotHaveBean(MeshletRestClientCustomizer.class);
    });
  }

  @Test
  void whenSpringWebIsAbsentThenNoRestClientCustomizer() {
    runner.withClassLoader(new FilteredClassLoader(RestClient.class)).run(context -> {
      assertThat(context).hasNotFailed();
      assertThat(context).doesNotHaveBean(MeshletRestClientCustomizer.class).hasSingleBean(OkHttpClient.class);
    });
  }

  @Test
  void restClientBuilderUsesTheMeshRequestFactory() {
    runner.run(context -> {
      RestClient.Builder builder = context.getBean(RestClient.Builder.class);
      java.util.concurrent.atomic.AtomicReference<Object> factory = new java.util.concurrent.atomic.AtomicReference<>();
      builder.apply(b -> factory.set(org.springframework.test.util.ReflectionTestUtils.getField(b, "requestFactory")));
      assertThat(factory.get()).isInstanceOf(OkHttpRequestFactory.class);
    });
  }

  @Test
  void whenApplicationDefinesRestClientCustomizerThenAutoConfiguredOneBacksOff() {
    runner.withBean("mine", MeshletRestClientCustomizer.class, () -> new MeshletRestClientCustomizer(new OkHttpClient()))
        .run(context -> assertThat(context).hasSingleBean(MeshletRestClientCustomizer.class).hasBean("mine"));
  }

  @Test
  void grpcBootstrapIsInstalledFromTheProperties() {
    runner.run(context -> {
      assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY))
          .contains("\"server_uri\":\"" + NOWHERE + "\"")
          .contains("\"cluster\":\"frontend\"")
          // TLS to the control server, checked against its trust bundle; no workload certificate to present.
          .contains("\"type\":\"meshlet_tls\"").contains("\"trust_bundle_file\":\"" + trustBundle + "\"")
          .contains("\"ca_certificate_file\":\"" + trustBundle + "\"")
          .doesNotContain("\"certificate_file\"")
          .doesNotContain("certificate_providers");
    });
  }

  @Test
  void whenIdentityComesFromTheCaThenGrpcCertificatesAreWrittenToTheConfiguredDirectory() {
    Path certs = dir.resolve("certs");
    runner.withPropertyValues("meshlet.identity.source=ca", "meshlet.identity.join-token=frontend-token-0123456789",
        "meshlet.grpc.certificate-directory=" + certs).run(context -> {
          assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY))
              .contains("\"certificate_file\":\"" + certs.resolve("cert.pem") + "\"");
          assertThat(certs).isDirectory();
        });
  }

  @Test
  void whenApplicationDefinesGrpcChannelsThenAutoConfiguredOneBacksOff() {
    runner.withBean("mine", MeshGrpcChannels.class, MeshGrpcChannels::new).run(context -> {
      assertThat(context).hasSingleBean(MeshGrpcChannels.class).hasBean("mine");
      assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY)).isNull();
    });
  }

  @Test
  void whenMeshClientGrpcIsAbsentThenNoGrpcChannels() {
    runner.withClassLoader(new FilteredClassLoader(MeshGrpc.class)).run(context -> {
      assertThat(context).hasNotFailed();
      assertThat(context).doesNotHaveBean(MeshGrpcChannels.class).hasSingleBean(MeshClient.class);
      assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY)).isNull();
    });
  }

  @Test
  void whenActuatorIsAbsentThenNoEndpointAndNoHealthIndicator() {
    runner.withClassLoader(new FilteredClassLoader(Endpoint.class, BootTestLine.HEALTH_INDICATOR)).run(context -> {
      assertThat(context).hasNotFailed();
      assertThat(context).doesNotHaveBean(MeshletEndpoint.class).doesNotHaveBean(MeshletHealthIndicator.class)
          .hasSingleBean(MeshClient.class);
    });
  }

  @Test
  void whenEndpointIsNotExposedThenNoEndpoint() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class))
        .withPropertyValues("meshlet.service-name=frontend", "meshlet.control-servers=" + NOWHERE, trust)
        .run(context -> assertThat(context).doesNotHaveBean(MeshletEndpoint.class)
            .hasSingleBean(MeshletHealthIndicator.class));
  }

  @Test
  void whenHealthIndicatorIsDisabledThenNoHealthIndicator() {
    runner.withPropertyValues("management.health.meshlet.enabled=false")
        .run(context -> assertThat(context).doesNotHaveBean(MeshletHealthIndicator.class)
            .hasSingleBean(MeshletEndpoint.class));
  }

  @Test
  void whenApplicationDefinesEndpointOrHealthIndicatorThenAutoConfiguredOnesBackOff() {
    runner.withUserConfiguration(OwnActuator.class).run(context -> {
      assertThat(context).hasSingleBean(MeshletEndpoint.class).hasSingleBean(MeshletHealthIndicator.class);
      assertThat(context.getBean("meshletHealthIndicator")).isSameAs(context.getBean(OwnActuator.class).health);
      assertThat(context.getBean(MeshletEndpoint.class)).isSameAs(context.getBean(OwnActuator.class).endpoint);
    });
  }

  @Test
  void beforeTheFirstConfigHealthIsOutOfService() {
    runner.run(context -> {
      var health = context.getBean(MeshletHealthIndicator.class).health();
      assertThat(health.getStatus().getCode()).isEqualTo("OUT_OF_SERVICE");
      assertThat(health.getDetails()).containsEntry("reason", "no mesh config yet from control servers [" + NOWHERE + "]")
          .containsEntry("connected", false).containsEntry("configVersion", "");
      var report = context.getBean(MeshletEndpoint.class).meshlet();
      assertThat(report.config().version()).isEmpty();
      assertThat(report.connection().connected()).isFalse();
      assertThat(report.identity()).isNull();
    });
  }

  @Test
  void refusedConfigsShowInTheEndpointAndHealthDetails() {
    runner.run(context -> {
      MeshletStatus status = context.getBean(MeshletStatus.class);
      status.onNack("Cluster", "c1", "cluster 'catalog': lb_policy: MAGLEV (expected: one of ...)");
      status.onNack("RouteConfiguration", "r2", "route 'x': bad");

      var nacks = context.getBean(MeshletEndpoint.class).meshlet().nacks();
      assertThat(nacks).extracting(MeshletEndpoint.Nack::type, MeshletEndpoint.Nack::version,
          MeshletEndpoint.Nack::message).containsExactly(
              org.assertj.core.groups.Tuple.tuple("RouteConfiguration", "r2", "route 'x': bad"),
              org.assertj.core.groups.Tuple.tuple("Cluster", "c1",
                  "cluster 'catalog': lb_policy: MAGLEV (expected: one of ...)"));
      assertThat(nacks.get(0).at()).isNotNull();
      assertThat((String) context.getBean(MeshletHealthIndicator.class).health().getDetails().get("lastNack"))
          .startsWith("RouteConfiguration version r2 at ").endsWith(": route 'x': bad");
    });
  }

  @Test
  void theZoneReachesTheClientAndGrpcJavasBootstrap() {
    runner.withPropertyValues("meshlet.zone=eu-west-1a")
        .run(context -> {
          assertThat(context.getBean(MeshClient.class).zone()).isEqualTo("eu-west-1a");
          assertThat(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY)).contains("\"locality\":{\"zone\":\"eu-west-1a\"}");
        });
    runner.run(context -> assertThat(context.getBean(MeshClient.class).zone()).isEmpty());
  }

  @Test
  void onDemandSubscriptionsReachTheClient() {
    runner.withPropertyValues("meshlet.on-demand.enabled=true", "meshlet.on-demand.services=catalog,shop.internal")
        .run(context -> assertThat(context.getBean(MeshClient.class).onDemandServices())
            .hasValue(java.util.Set.of("catalog", "shop.internal")));
    runner.withPropertyValues("meshlet.on-demand.enabled=true")
        .run(context -> assertThat(context.getBean(MeshClient.class).onDemandServices()).hasValue(java.util.Set.of()));
    runner.run(context -> assertThat(context.getBean(MeshClient.class).onDemandServices()).isEmpty());
  }

  @Test
  void onDemandServicesWithoutOnDemandOrWithABadNameAreRefusedAtStartUp() {
    runner.withPropertyValues("meshlet.on-demand.services=catalog")
        .run(context -> assertThat(failure(context).problems()).containsExactly(
            "meshlet.on-demand.services: [catalog] set while meshlet.on-demand.enabled is false (expected:"
                + " meshlet.on-demand.enabled=true to hold only these and the services called, or no"
                + " meshlet.on-demand.services to hold the whole mesh)"));
    runner.withPropertyValues("meshlet.on-demand.enabled=true", "meshlet.on-demand.services=Catalog")
        .run(context -> assertThat(failure(context).problems()).containsExactly(
            "meshlet.on-demand.services: 'Catalog' (expected: a service name, lower-case letters, digits, '-' and '.')"));
  }

  @Test
  void aZoneThatIsNoLabelValueIsRefusedAtStartUp() {
    runner.withPropertyValues("meshlet.zone=eu west")
        .run(context -> assertThat(failure(context).problems()).containsExactly(
            "meshlet.zone: 'eu west' (expected: a zone name of letters, digits, '.', '_', '/' and '-', e.g. eu-west-1a)"));
  }

  @Test
  void whenStartupAwaitsConfigThatDoesNotComeThenStartupFails() {
    runner.withPropertyValues("meshlet.await-config-on-startup=true", "meshlet.first-config-timeout=200ms")
        .run(context -> assertThat(context).getFailure().rootCause()
            .hasMessage("Meshlet: no mesh config from control servers [" + NOWHERE + "] within"
                + " meshlet.first-config-timeout (200 ms); start-up fails because meshlet.await-config-on-startup=true"));
  }

  private static MeshletPropertiesException failure(AssertableApplicationContext context) {
    assertThat(context).hasFailed();
    Throwable t = context.getStartupFailure();
    while (t != null && !(t instanceof MeshletPropertiesException)) {
      t = t.getCause();
    }
    assertThat(t).as("a MeshletPropertiesException in %s", context.getStartupFailure()).isNotNull();
    return (MeshletPropertiesException) t;
  }

  @Configuration(proxyBeanMethods = false)
  static class OwnMeshClient {
    final MeshClient mesh = MeshClient.builder().xdsPlaintext().serviceName("own").controlServers(NOWHERE).build();

    @Bean(destroyMethod = "close")
    MeshClient myMeshClient() {
      return mesh;
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class Customizer {
    @Bean
    MeshClientBuilderCustomizer nodeIdCustomizer() {
      return b -> b.nodeId("customized").reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(100));
    }

    @Bean
    MeshListener quietListener() {
      return new MeshListener() {};
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class OwnCaIdentity {
    final CaIdentitySource source = CaIdentitySource.builder().service("own").joinToken("own-token-0123456789")
        .controlServers(NOWHERE).controlServerTrust(trustBundle).build();

    @Bean(destroyMethod = "close")
    CaIdentitySource myIdentitySource() {
      return source;
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class OwnMeshIdentity {
    static final MeshIdentity IDENTITY = MeshIdentity.of(() -> null, listener -> { });

    @Bean
    MeshIdentity myIdentity() {
      return IDENTITY;
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class OwnActuator {
    final MeshletHealthIndicator health;
    final MeshletEndpoint endpoint;

    OwnActuator() {
      MeshClient mesh = MeshClient.builder().xdsPlaintext().serviceName("own").controlServers(NOWHERE).build();
      health = new MeshletHealthIndicator(mesh, java.util.List.of(NOWHERE), new MeshletStatus(java.time.Clock.systemUTC()), true);
      endpoint = new MeshletEndpoint(mesh, java.util.List.of(NOWHERE), new MeshletStatus(java.time.Clock.systemUTC()), null);
    }

    @Bean
    MeshletHealthIndicator meshletHealthIndicator() {
      return health;
    }

    @Bean
    MeshletEndpoint myMeshletEndpoint() {
      return endpoint;
    }
  }
}
