package io.meshlet.spring.autoconfigure;

import io.meshlet.internal.net.HostPort;
import io.meshlet.MeshClient;
import io.meshlet.MeshListener;
import io.meshlet.grpc.CertificateFiles;
import io.meshlet.grpc.MeshGrpc;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.FileIdentitySource;
import io.meshlet.identity.WorkloadIdentity;
import io.meshlet.okhttp.MeshOkHttp;
import io.opentelemetry.api.OpenTelemetry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Comparator;
import java.util.Objects;
import java.util.stream.Stream;
import okhttp3.OkHttpClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.ApplicationContext;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.AnyNestedCondition;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.ConfigurationCondition;
import org.springframework.core.Ordered;
import org.springframework.core.env.Environment;

/**
 * Connects a Spring Boot application to the mesh from {@code meshlet.*} properties. Active unless
 * {@code meshlet.enabled=false}. Every bean backs off when the application defines its own of
 * the same type:
 * <ul>
 *   <li>{@link MeshClient}, started, closed on shutdown; every {@link MeshListener} bean hears its
 *       events and every {@link MeshClientBuilderCustomizer} bean may change its builder. It reaches
 *       the control servers over TLS, checked against {@code meshlet.control-server-trust-bundle}
 *       (or in plaintext with {@code meshlet.xds-plaintext=true}), and presents the workload
 *       identity once there is one, which is what its instance registration is bound to. Its metrics
 *       and spans, and those of the gRPC channels, go to the application's {@link OpenTelemetry} bean
 *       when there is one (Spring Boot's own, or the application's), else to {@code GlobalOpenTelemetry};
 *   <li>{@link CaIdentitySource} ({@code meshlet.identity.source=ca}) or {@link FileIdentitySource}
 *       ({@code files}), and the {@link MeshIdentity} made from either;
 *   <li>with {@code mesh-client-http}: a mesh-aware {@link OkHttpClient} (mTLS when there is an
 *       identity), and with {@code spring-web} a {@link MeshletRestClientCustomizer} and a
 *       {@link MeshletRestTemplateCustomizer} so that the auto-configured {@code RestClient.Builder}
 *       and {@code RestTemplateBuilder} send {@code http://<service>/...} through it;
 *   <li>with {@code mesh-client-grpc}: {@link MeshGrpcChannels}, after installing grpc-java's xDS
 *       bootstrap (with certificate files when there is an identity); their calls report the same
 *       metrics and spans as HTTP calls, through the {@link MeshClient}'s OpenTelemetry;
 *   <li>on a servlet web server ({@code meshlet.inbound.enabled}): mTLS and authorization on Jetty
 *       ({@link MeshletJettyInbound}), strict mTLS on Tomcat ({@link MeshletTomcatInbound}),
 *       authorization on any other than Jetty ({@code MeshServletFilter}); on a reactive (WebFlux) one,
 *       strict mTLS on Reactor Netty ({@link MeshletNettyInbound}) and authorization
 *       ({@link MeshletAuthorizationWebFilter}); on both,
 *       {@link MeshletInboundGuard}, which fails start-up (or answers 503) while the mesh asks for mTLS
 *       or authorization the running server cannot give;
 *   <li>with the actuator: the {@code meshlet} endpoint and health indicator.
 * </ul>
 * The same source serves Spring Boot 4 ({@code meshlet-spring-boot-starter}) and 3.5
 * ({@code meshlet-spring-boot3-starter}); what names types Boot 4 moved is in each line's
 * {@link MeshletBootConfigurations} and {@link BootLine}.
 */
@AutoConfiguration
@ConditionalOnProperty(prefix = "meshlet", name = "enabled", havingValue = "true", matchIfMissing = true)
@EnableConfigurationProperties(MeshletProperties.class)
@Import({MeshletBootConfigurations.JettyInboundConfiguration.class,
    MeshletBootConfigurations.TomcatInboundConfiguration.class, MeshletBootConfigurations.NettyInboundConfiguration.class,
    MeshletBootConfigurations.HealthConfiguration.class})
public final class MeshletAutoConfiguration {

  private static final Logger log = LoggerFactory.getLogger(MeshletAutoConfiguration.class);

  @Bean
  @ConditionalOnMissingBean
  MeshletStatus meshletStatus() {
    return new MeshletStatus(Clock.systemUTC());
  }

  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  MeshClient meshClient(MeshletProperties properties, Environment env, ObjectProvider<MeshListener> listeners,
      ObjectProvider<MeshClientBuilderCustomizer> customizers, ObjectProvider<MeshIdentity> identity,
      ObjectProvider<OpenTelemetry> openTelemetry, ObjectProvider<MeshletMetricsBridge> metrics) {
    MeshletSettings s = MeshletSettings.resolve(properties, env);
    MeshClient.Builder b = MeshClient.builder()
        .serviceName(s.serviceName())
        .controlServers(s.controlServers())
        .firstConfigTimeout(properties.getFirstConfigTimeout())
        .listener(new CompositeMeshListener(listeners.orderedStream().toList()));
    s.controlServerTrust().ifPresentOrElse(b::controlServerTrust, b::xdsPlaintext);
    MeshIdentity id = identity.getIfAvailable();
    if (id != null) {
      b.identity(id);   // presented to the control server: mTLS xDS, and what a registration is bound to
    }
    if (properties.getNodeId() != null) {
      b.nodeId(properties.getNodeId());
    }
    if (properties.getZone() != null && !properties.getZone().isEmpty()) {
      b.zone(properties.getZone());
    }
    if (properties.getOnDemand().isEnabled()) {
      b.subscribeOnDemand(properties.getOnDemand().getServices().toArray(String[]::new));
    }
    // The application's SDK, so that Meshlet's spans are children of its spans and reach its exporters, and its
    // Micrometer registry for metrics when the SDK has no metrics pipeline (a customizer may still change it).
    OpenTelemetry otel = openTelemetry.getIfUnique();
    MeshletMetricsBridge bridge = metrics.getIfAvailable();
    if (bridge != null) {
      otel = bridge.apply(otel);
    }
    if (otel != null) {
      b.openTelemetry(otel);
    }
    customizers.orderedStream().forEach(c -> c.customize(b));
    return b.build().start();
  }

  @Bean
  @ConditionalOnProperty(prefix = "meshlet.instance", name = "register", havingValue = "true", matchIfMissing = true)
  MeshletRegistration meshletRegistration(MeshClient mesh, MeshletProperties properties, Environment env,
      org.springframework.context.ApplicationContext context, ObjectProvider<MeshIdentity> identity) {
    // With a gRPC server, the server's instance is registered (by grpc-java's xDS stream) instead.
    boolean web = properties.getGrpc().getServerPort() == null;
    String refusal = properties.getControlServerTrustBundle() != null && identity.getIfAvailable() == null
        ? "this application has no workload identity (meshlet.identity.source): a control server on TLS accepts"
            + " an instance of '" + mesh.serviceName() + "' only from a stream presenting that service's SVID, and"
            + " refuses this one (set meshlet.identity.source, or meshlet.instance.register=false)"
        : null;
    return new MeshletRegistration(mesh, web ? context : null, MeshletRegistration.host(properties, env),
        properties.getInstance().getLabels(), refusal);
  }

  /**
   * The inbound policy on a reactive (WebFlux) web server: on Reactor Netty, strict mTLS with the
   * workload's rotating SVID ({@link MeshletNettyInbound}, with an identity) and the service's
   * authorization ({@link MeshletAuthorizationWebFilter}, on any reactive server). {@link MeshletInboundGuard}
   * fails start-up (or, for a config that arrives later, answers 503 through {@link MeshletInboundGate})
   * while the mesh asks for what the running server cannot give: {@code permissive} on Reactor Netty, mTLS
   * without an identity, or mTLS on another reactive server (Tomcat, Jetty, Undertow). Never silently
   * unprotected.
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
  @ConditionalOnClass(name = "org.springframework.web.server.WebFilter")
  @ConditionalOnProperty(prefix = "meshlet.inbound", name = "enabled", havingValue = "true", matchIfMissing = true)
  static class ReactiveInboundConfiguration {

    @Bean
    @ConditionalOnMissingBean
    MeshletInboundGuard meshletInboundGuard(MeshletProperties properties, Environment env,
        ObjectProvider<MeshClient> mesh, ApplicationContext context, ObjectProvider<MeshIdentity> identity,
        ObjectProvider<MeshletNettyInbound> nettyInbound, ObjectProvider<MeshletAuthorizationWebFilter> authorization) {
      return new MeshletInboundGuard(MeshletSettings.resolve(properties, env).serviceName(), mesh, () -> {
        Object server = BootLine.webServer(context);
        if (server == null) {
          return null;
        }
        boolean identified = identity.getIfAvailable() != null;
        boolean authorizes = authorization.getIfAvailable() != null;
        String name = ServletInboundConfiguration.serverName(server);
        if (!name.equals("Netty")) {
          return new MeshletInboundGuard.Server(MeshletInboundGuard.REACTIVE + " " + name, false, true, authorizes,
              identified);
        }
        MeshletNettyInbound netty = nettyInbound.getIfAvailable();
        boolean mtls = netty != null && netty.mtls();
        return new MeshletInboundGuard.Server(MeshletInboundGuard.NETTY, mtls, !mtls, authorizes, identified);
      }, properties.getFirstConfigTimeout(), properties.isAwaitConfigOnStartup());
    }

    @Bean
    MeshletInboundGate meshletInboundGate(MeshletInboundGuard guard) {
      return new MeshletInboundGate(guard);
    }

    /** The service's authorization, right after the gate, on any reactive server. */
    @Bean
    @ConditionalOnClass(name = "io.meshlet.inbound.internal.InboundAuthorization")
    MeshletAuthorizationWebFilter meshletAuthorizationWebFilter(MeshClient mesh) {
      return new MeshletAuthorizationWebFilter(mesh);
    }
  }

  /**
   * The inbound policy on any servlet web server: {@link MeshletInboundGuard} fails start-up (or,
   * for a config that arrives later, answers 503) while the mesh asks for what the running server
   * cannot enforce, and with {@code mesh-client-http} {@code MeshServletFilter} enforces the
   * service's authorization where Jetty's handler does not.
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
  @ConditionalOnClass(name = "jakarta.servlet.Filter")
  @ConditionalOnProperty(prefix = "meshlet.inbound", name = "enabled", havingValue = "true", matchIfMissing = true)
  static class ServletInboundConfiguration {

    /** Ahead of every filter of the application and of Spring (security, forwarded headers, ...). */
    static final int GUARD_ORDER = Ordered.HIGHEST_PRECEDENCE;

    @Bean
    @ConditionalOnMissingBean
    MeshletInboundGuard meshletInboundGuard(MeshletProperties properties, Environment env,
        ObjectProvider<MeshClient> mesh, ApplicationContext context, ObjectProvider<MeshIdentity> identity,
        ObjectProvider<MeshletJettyInbound> jettyInbound, ObjectProvider<MeshletTomcatInbound> tomcatInbound) {
      boolean servletFilter = isPresent("io.meshlet.inbound.MeshServletFilter", context.getClassLoader());
      return new MeshletInboundGuard(MeshletSettings.resolve(properties, env).serviceName(), mesh, () -> {
        Object server = BootLine.webServer(context);
        if (server == null) {
          return null;
        }
        String name = serverName(server);
        boolean identified = identity.getIfAvailable() != null;
        if (name.equals("Jetty") && jettyInbound.getIfAvailable() != null) {
          // Its connector tells TLS from plaintext on one port; its handler authorizes.
          return new MeshletInboundGuard.Server(name, true, true, true, identified);
        }
        MeshletTomcatInbound tomcat = name.equals("Tomcat") ? tomcatInbound.getIfAvailable() : null;
        boolean mtls = tomcat != null && tomcat.mtls();
        return new MeshletInboundGuard.Server(name, mtls, !mtls, servletFilter, identified);
      }, properties.getFirstConfigTimeout(), properties.isAwaitConfigOnStartup());
    }

    @Bean
    FilterRegistrationBean<jakarta.servlet.Filter> meshletInboundGuardFilter(MeshletInboundGuard guard) {
      FilterRegistrationBean<jakarta.servlet.Filter> r = new FilterRegistrationBean<>(guard.filter());
      r.setName("meshletInboundGuard");
      r.setOrder(GUARD_ORDER);
      r.setDispatcherTypes(java.util.EnumSet.allOf(jakarta.servlet.DispatcherType.class));
      return r;
    }

    /** The service's authorization, on servers other than Jetty under {@link MeshletJettyInbound}. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "io.meshlet.inbound.MeshServletFilter")
    static class AuthorizationConfiguration {

      @Bean
      FilterRegistrationBean<io.meshlet.inbound.MeshServletFilter> meshletAuthorizationFilter(MeshClient mesh,
          ObjectProvider<MeshletJettyInbound> jettyInbound, ApplicationContext context) {
        FilterRegistrationBean<io.meshlet.inbound.MeshServletFilter> r =
            new FilterRegistrationBean<>(new io.meshlet.inbound.MeshServletFilter(mesh));
        r.setName("meshletAuthorization");
        r.setOrder(GUARD_ORDER + 1);
        // Requests only: an include or forward is the application's own, on a path it chose.
        r.setDispatcherTypes(jakarta.servlet.DispatcherType.REQUEST, jakarta.servlet.DispatcherType.ASYNC);
        // Jetty's handler has authorized the request already, on the same normalized path: one check.
        Object f = BootLine.servletWebServerFactory(context);
        r.setEnabled(!(jettyInbound.getIfAvailable() != null && f != null && serverName(f).equals("Jetty")));
        return r;
      }
    }

    /**
     * Tomcat, Jetty, Undertow, Netty (Reactor Netty) or the class's simple name: from Boot's web server or its factory, on
     * either Boot line ({@code org.springframework.boot.web.embedded.tomcat.TomcatWebServer} in Boot 3,
     * {@code org.springframework.boot.tomcat.TomcatWebServer} in Boot 4).
     */
    static String serverName(Object serverOrFactory) {
      for (Class<?> c = serverOrFactory.getClass(); c != null; c = c.getSuperclass()) {
        String n = c.getName();
        if (n.startsWith("org.springframework.boot.")) {
          for (String kind : new String[] {"Tomcat", "Jetty", "Undertow", "Netty"}) {
            if (c.getSimpleName().startsWith(kind)) {
              return kind;
            }
          }
        }
      }
      return serverOrFactory.getClass().getSimpleName();
    }

    private static boolean isPresent(String className, ClassLoader loader) {
      try {
        Class.forName(className, false, loader);
        return true;
      } catch (ClassNotFoundException | LinkageError e) {
        return false;
      }
    }
  }

  /** {@code meshlet.inbound.enabled=false} on a servlet web server: the inbound policy is the application's. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
  @ConditionalOnProperty(prefix = "meshlet.inbound", name = "enabled", havingValue = "false")
  static class InboundDisabledConfiguration {

    @Bean
    SmartInitializingSingleton meshletInboundDisabledWarning(MeshletProperties properties, Environment env) {
      String service = MeshletSettings.resolve(properties, env).serviceName();
      return () -> log.warn("meshlet.inbound.enabled=false: the starter leaves the embedded web server as it is;"
          + " the inbound policy of service '{}' (mtls.mode and authorization in the mesh config) is the"
          + " application's to enforce", service);
    }
  }

  @Bean
  MeshletStartup meshletStartup(MeshClient mesh, MeshletProperties properties, Environment env,
      ObjectProvider<MeshIdentity> identity) {
    return new MeshletStartup(mesh, identity.getIfAvailable(), properties.getControlServers(),
        properties.getFirstConfigTimeout(), properties.isAwaitConfigOnStartup());
  }

  /** The workload identity, from the control server's CA or from files. */
  @Configuration(proxyBeanMethods = false)
  static class IdentityConfiguration {

    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    @ConditionalOnProperty(prefix = "meshlet.identity", name = "source", havingValue = "ca")
    CaIdentitySource meshletCaIdentitySource(MeshletProperties properties, Environment env) {
      MeshletSettings s = MeshletSettings.resolve(properties, env);
      return CaIdentitySource.builder()
          .service(s.serviceName())
          .joinToken(properties.getIdentity().getJoinToken())
          .controlServers(s.caAddress())
          // resolve() refused source=ca without a trust bundle: the join token goes only over TLS.
          .controlServerTrust(s.controlServerTrust().orElseThrow())
          .build()
          .start();
    }

    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    @ConditionalOnProperty(prefix = "meshlet.identity", name = "source", havingValue = "files")
    FileIdentitySource meshletFileIdentitySource(MeshletProperties properties, Environment env) {
      MeshletSettings.resolve(properties, env);
      MeshletProperties.Identity id = properties.getIdentity();
      // The names grpc-java's file_watcher reads too, so gRPC can use the same files.
      CertificateNames files = new CertificateNames(id.getDirectory());
      return new FileIdentitySource(files.certificate(), files.key(), files.bundle(), Clock.systemUTC())
          .start(id.getPollInterval());
    }

    @Bean
    @ConditionalOnMissingBean
    @Conditional(OnIdentitySource.class)
    MeshIdentity meshIdentity(ObjectProvider<CaIdentitySource> ca, ObjectProvider<FileIdentitySource> files) {
      CaIdentitySource c = ca.getIfUnique();
      return c != null ? MeshIdentity.of(c) : MeshIdentity.of(Objects.requireNonNull(files.getIfUnique(),
          "one CaIdentitySource or FileIdentitySource bean"));
    }
  }

  /** A {@link CaIdentitySource} or a {@link FileIdentitySource} bean exists. */
  static final class OnIdentitySource extends AnyNestedCondition {
    OnIdentitySource() {
      super(ConfigurationCondition.ConfigurationPhase.REGISTER_BEAN);
    }

    @ConditionalOnBean(CaIdentitySource.class)
    static final class Ca {}

    @ConditionalOnBean(FileIdentitySource.class)
    static final class Files {}
  }

  /** The file names in an identity directory: those of {@code CertificateFiles} in mesh-client-grpc. */
  record CertificateNames(Path dir) {
    Path certificate() {
      return dir.resolve("cert.pem");
    }

    Path key() {
      return dir.resolve("key.pem");
    }

    Path bundle() {
      return dir.resolve("ca.pem");
    }
  }

  /** Meshlet's metrics in the application's Micrometer registry, with Micrometer on the class path. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "io.micrometer.core.instrument.MeterRegistry")
  static class MicrometerConfiguration {

    @Bean
    @ConditionalOnMissingBean
    MeshletMetricsBridge meshletMetricsBridge(ObjectProvider<io.micrometer.core.instrument.MeterRegistry> registry,
        org.springframework.beans.factory.ListableBeanFactory beans) {
      return new MeshletMetricsBridge(registry, beans);
    }
  }

  /** OkHttp through the mesh, with {@code mesh-client-http}. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass({OkHttpClient.class, MeshOkHttp.class})
  @Import({MeshletBootConfigurations.RestClientConfiguration.class,
      MeshletBootConfigurations.RestTemplateConfiguration.class, MeshletBootConfigurations.WebClientConfiguration.class})
  static class OkHttpConfiguration {

    @Bean
    @ConditionalOnMissingBean
    OkHttpClient meshletOkHttpClient(MeshClient mesh, ObjectProvider<MeshIdentity> identity) {
      MeshIdentity id = identity.getIfAvailable();
      return id != null ? MeshOkHttp.client(mesh, id) : MeshOkHttp.client(mesh);
    }
  }

  /** gRPC channels through grpc-java's own xDS, with {@code mesh-client-grpc}. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(MeshGrpc.class)
  @ConditionalOnProperty(prefix = "meshlet.grpc", name = "enabled", havingValue = "true", matchIfMissing = true)
  static class GrpcConfiguration {

    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    MeshGrpcChannels meshGrpcChannels(MeshletProperties properties, Environment env, MeshClient mesh,
        ObjectProvider<MeshIdentity> identity) {
      MeshletSettings s = MeshletSettings.resolve(properties, env);
      MeshGrpc.Bootstrap bootstrap = MeshGrpc.bootstrap(s.serviceName(), s.controlServers());
      s.controlServerTrust().ifPresentOrElse(bootstrap::controlServerTrust, bootstrap::xdsPlaintext);
      if (properties.getNodeId() != null) {
        bootstrap.nodeId(properties.getNodeId() + "~grpc");
      }
      if (properties.getZone() != null && !properties.getZone().isEmpty()) {
        bootstrap.zone(properties.getZone());
      }
      Runnable cleanup = () -> { };
      MeshIdentity id = identity.getIfAvailable();
      MeshletProperties.Identity idProps = properties.getIdentity();
      if (id != null && idProps.getSource() == MeshletProperties.Source.FILES && idProps.getDirectory() != null) {
        // grpc-java's file_watcher reads the same files the identity comes from.
        bootstrap.certificates(new CertificateFiles(idProps.getDirectory()));
      } else if (id != null) {
        Path dir = properties.getGrpc().getCertificateDirectory();
        boolean temporary = dir == null;
        try {
          dir = temporary ? Files.createTempDirectory("meshlet-grpc-certs") : Files.createDirectories(dir);
        } catch (IOException e) {
          throw new UncheckedIOException("meshlet.grpc.certificate-directory: cannot create " + dir, e);
        }
        CertificateFiles files = new CertificateFiles(dir);
        bootstrap.certificates(files);
        CertificateWriter writer = new CertificateWriter(files);
        id.addListener(writer::write);
        WorkloadIdentity now = id.get();
        if (now != null) {
          writer.write(now);
        }
        Path written = dir;
        cleanup = () -> {
          writer.stop();
          if (temporary) {
            deleteRecursively(written);
          }
        };
      }
      Integer serverPort = properties.getGrpc().getServerPort();
      if (serverPort != null && properties.getInstance().isRegister()) {
        String host = MeshletRegistration.host(properties, env);
        bootstrap.instance(HostPort.format(host, serverPort),
            properties.getInstance().getLabels());
      }
      warnIfBootstrapOverridden();
      String json = bootstrap.json();
      bootstrap.install();
      log.info("gRPC xDS bootstrap installed for service '{}': control servers {}{}", s.serviceName(),
          s.controlServers(), id != null ? ", with certificate files" : "");
      Runnable removeFiles = cleanup;
      // Telemetry through the mesh client's OpenTelemetry, with route names from its config.
      return new MeshGrpcChannels(service -> MeshGrpc.channel(service, mesh), () -> {
        removeFiles.run();
        // grpc-java may have read it already; another context in this JVM should not inherit it.
        if (json.equals(System.getProperty(MeshGrpc.BOOTSTRAP_PROPERTY))) {
          System.clearProperty(MeshGrpc.BOOTSTRAP_PROPERTY);
        }
      });
    }

    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnProperty(prefix = "meshlet.grpc", name = "server-port")
    MeshletGrpcServer meshletGrpcServer(MeshletProperties properties, MeshClient mesh, MeshGrpcChannels channels,
        ObjectProvider<MeshIdentity> identity, ObjectProvider<io.grpc.BindableService> services) {
      // The channels bean installed the bootstrap the server reads.
      return new MeshletGrpcServer(properties.getGrpc().getServerPort(), mesh, identity.getIfAvailable(),
          services.orderedStream().toList(), properties.getFirstConfigTimeout());
    }

    private static void warnIfBootstrapOverridden() {
      if (System.getenv("GRPC_XDS_BOOTSTRAP") != null || System.getProperty("io.grpc.xds.bootstrap") != null) {
        log.warn("GRPC_XDS_BOOTSTRAP or io.grpc.xds.bootstrap is set and takes precedence over the bootstrap"
            + " Meshlet installs from meshlet.* properties");
      }
    }

    private static void deleteRecursively(Path dir) {
      try (Stream<Path> paths = Files.walk(dir)) {
        paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException e) {
        log.debug("could not delete {}: {}", dir, e.toString());
      }
    }
  }

  /** Writes each new identity to certificate files until stopped. */
  static final class CertificateWriter {
    private final CertificateFiles files;
    private volatile boolean stopped;

    CertificateWriter(CertificateFiles files) {
      this.files = files;
    }

    synchronized void write(WorkloadIdentity identity) {
      if (!stopped) {
        files.write(identity);
      }
    }

    synchronized void stop() {
      stopped = true;
    }
  }

  /** The {@code meshlet} actuator endpoint. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass({Endpoint.class, ConditionalOnAvailableEndpoint.class})
  static class EndpointConfiguration {

    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnAvailableEndpoint(MeshletEndpoint.class)
    MeshletEndpoint meshletEndpoint(MeshClient mesh, MeshletProperties properties, MeshletStatus status,
        ObjectProvider<MeshIdentity> identity) {
      return new MeshletEndpoint(mesh, properties.getControlServers(), status, identity.getIfAvailable());
    }
  }
}
