package io.meshlet.spring.autoconfigure;

import java.util.Map;
import java.util.Set;
import org.springframework.boot.health.actuate.endpoint.CompositeHealthDescriptor;
import org.springframework.boot.health.actuate.endpoint.HealthEndpoint;
import org.springframework.boot.health.actuate.endpoint.IndicatedHealthDescriptor;
import org.springframework.boot.health.autoconfigure.actuate.endpoint.HealthEndpointAutoConfiguration;
import org.springframework.boot.health.autoconfigure.contributor.HealthContributorAutoConfiguration;
import org.springframework.boot.health.autoconfigure.registry.HealthContributorRegistryAutoConfiguration;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.jetty.servlet.JettyServletWebServerFactory;
import org.springframework.boot.restclient.autoconfigure.RestClientAutoConfiguration;
import org.springframework.boot.restclient.autoconfigure.RestTemplateAutoConfiguration;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ApplicationContext;

/**
 * What the shared tests need that Spring Boot 4 moved (this is Boot 4's; the Boot 3.5 module has a
 * class of the same name with Boot 3's).
 */
final class BootTestLine {

  static final String NAME = "Spring Boot 4";
  static final Class<?> REST_CLIENT_AUTO_CONFIGURATION = RestClientAutoConfiguration.class;
  static final Class<?> WEB_CLIENT_AUTO_CONFIGURATION = org.springframework.boot.webclient.autoconfigure.WebClientAutoConfiguration.class;
  /** Boot's own connector for WebClient.Builder (a ClientHttpConnector bean, set by a customizer of order 0). */
  static final Class<?> CLIENT_HTTP_CONNECTOR_AUTO_CONFIGURATION = org.springframework.boot.http.client.autoconfigure.reactive.ReactiveHttpClientAutoConfiguration.class;
  static final Class<?> REST_TEMPLATE_AUTO_CONFIGURATION = RestTemplateAutoConfiguration.class;
  static final Class<?> HEALTH_INDICATOR = HealthIndicator.class;
  static final Class<?>[] HEALTH_AUTO_CONFIGURATIONS = {HealthContributorAutoConfiguration.class,
      HealthContributorRegistryAutoConfiguration.class, HealthEndpointAutoConfiguration.class};

  /** A Jetty factory bean, for a test that wants Jetty while Tomcat is on the class path too. */
  static final class Jetty extends JettyServletWebServerFactory {}

  /** A Tomcat factory bean. */
  static final class Tomcat extends TomcatServletWebServerFactory {}

  /** A Reactor Netty factory bean, for a WebFlux test while Tomcat and Jetty are on the class path too. */
  static final class Netty extends org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory {}

  /** A health as the health endpoint reports it: status code and details. */
  record Health(String status, Map<String, Object> details) {}

  private BootTestLine() {}

  /** A {@code RestTemplate} from the context's {@code RestTemplateBuilder}. */
  static org.springframework.web.client.RestTemplate restTemplate(ApplicationContext context) {
    return context.getBean(org.springframework.boot.restclient.RestTemplateBuilder.class).build();
  }

  static int port(ApplicationContext context) {
    return ((WebServerApplicationContext) context).getWebServer().getPort();
  }

  static String webServerClass(ApplicationContext context) {
    return ((WebServerApplicationContext) context).getWebServer().getClass().getSimpleName();
  }

  /** What the health endpoint reports for one indicator. */
  static Health endpointHealth(ApplicationContext context, String path) {
    var h = (IndicatedHealthDescriptor) context.getBean(HealthEndpoint.class).healthForPath(path);
    return new Health(h.getStatus().getCode(), h.getDetails());
  }

  /** The names of the health endpoint's components. */
  static Set<String> endpointComponents(ApplicationContext context) {
    return ((CompositeHealthDescriptor) context.getBean(HealthEndpoint.class).health()).getComponents().keySet();
  }
}
