package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import okhttp3.OkHttpClient;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.actuate.autoconfigure.health.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.web.client.RestClientCustomizer;
import org.springframework.boot.web.client.RestTemplateCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.client.RestClient;
import org.springframework.web.client.RestTemplate;

/**
 * The parts of {@link MeshletAutoConfiguration} that name types Spring Boot 4 moved (this is Boot 3.5's;
 * the Boot 4 module has the same classes with Boot 4's types). {@link MeshletAutoConfiguration}
 * imports them.
 */
final class MeshletBootConfigurations {

  private MeshletBootConfigurations() {}

  /** Spring's {@code RestClient} through the mesh-aware OkHttp client. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass({RestClient.class, RestClientCustomizer.class})
  static class RestClientConfiguration {

    @Bean
    @ConditionalOnMissingBean
    MeshletRestClientCustomizer meshletRestClientCustomizer(OkHttpClient okHttp) {
      return new MeshletRestClientCustomizer(okHttp);
    }
  }

  /** Spring's {@code WebClient}, from the auto-configured {@code WebClient.Builder}, through the mesh with OkHttp's enqueue. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = {"org.springframework.web.reactive.function.client.WebClient", "org.springframework.boot.web.reactive.function.client.WebClientCustomizer"})
  static class WebClientConfiguration {

    @Bean
    @ConditionalOnMissingBean
    MeshletWebClientCustomizer meshletWebClientCustomizer(OkHttpClient okHttp) {
      return new MeshletWebClientCustomizer(okHttp);
    }
  }

  /** Spring's {@code RestTemplate}, from the auto-configured {@code RestTemplateBuilder}, through the mesh. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass({RestTemplate.class, RestTemplateCustomizer.class})
  static class RestTemplateConfiguration {

    @Bean
    @ConditionalOnMissingBean
    MeshletRestTemplateCustomizer meshletRestTemplateCustomizer(OkHttpClient okHttp) {
      return new MeshletRestTemplateCustomizer(okHttp);
    }
  }

  /** Inbound mTLS and authorization on the embedded Jetty server, with an identity. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = {"io.meshlet.inbound.MeshJetty", "org.eclipse.jetty.server.Server", BootLine.JETTY_FACTORY})
  @ConditionalOnProperty(prefix = "meshlet.inbound", name = "enabled", havingValue = "true", matchIfMissing = true)
  static class JettyInboundConfiguration {

    @Bean
    @ConditionalOnMissingBean
    @Conditional(MeshletAutoConfiguration.OnIdentitySource.class)
    MeshletJettyInbound meshletJettyInbound(MeshClient mesh, MeshIdentity identity) {
      return new MeshletJettyInbound(mesh, identity);
    }
  }

  /** Inbound strict mTLS on the embedded Tomcat server, with an identity. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = {"org.apache.catalina.startup.Tomcat", BootLine.TOMCAT_FACTORY})
  @ConditionalOnProperty(prefix = "meshlet.inbound", name = "enabled", havingValue = "true", matchIfMissing = true)
  static class TomcatInboundConfiguration {

    @Bean
    @ConditionalOnMissingBean
    @Conditional(MeshletAutoConfiguration.OnIdentitySource.class)
    MeshletTomcatInbound meshletTomcatInbound(MeshClient mesh, MeshIdentity identity, MeshletProperties properties) {
      return new MeshletTomcatInbound(mesh, identity, properties.isAwaitConfigOnStartup()
          ? properties.getFirstConfigTimeout() : java.time.Duration.ZERO);
    }
  }

  /** Inbound strict mTLS on a WebFlux application's Reactor Netty server, with an identity. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = {"reactor.netty.http.server.HttpServer", BootLine.NETTY_FACTORY})
  @ConditionalOnProperty(prefix = "meshlet.inbound", name = "enabled", havingValue = "true", matchIfMissing = true)
  static class NettyInboundConfiguration {

    @Bean
    @ConditionalOnMissingBean
    @Conditional(MeshletAutoConfiguration.OnIdentitySource.class)
    MeshletNettyInbound meshletNettyInbound(MeshClient mesh, MeshIdentity identity, MeshletProperties properties) {
      return new MeshletNettyInbound(mesh, identity, properties.isAwaitConfigOnStartup()
          ? properties.getFirstConfigTimeout() : java.time.Duration.ZERO);
    }
  }

  /** The {@code meshlet} health indicator. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
  static class HealthConfiguration {

    @Bean
    @ConditionalOnMissingBean(name = "meshletHealthIndicator")
    @ConditionalOnEnabledHealthIndicator("meshlet")
    MeshletHealthIndicator meshletHealthIndicator(MeshClient mesh, MeshletProperties properties,
        MeshletStatus status) {
      return new MeshletHealthIndicator(mesh, properties.getControlServers(), status,
          properties.getHealth().isRequireConnection());
    }
  }
}
