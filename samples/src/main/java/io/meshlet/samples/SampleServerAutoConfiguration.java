package io.meshlet.samples;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.autoconfigure.web.servlet.ServletWebServerFactoryAutoConfiguration;
import org.springframework.boot.web.embedded.jetty.JettyServerCustomizer;
import org.springframework.boot.web.embedded.jetty.JettyServletWebServerFactory;
import org.springframework.boot.web.servlet.server.ServletWebServerFactory;
import org.springframework.context.annotation.Bean;

/**
 * The sample apps' server: the apps share one jar with both Tomcat and Jetty on the class path, where
 * Spring Boot would pick Tomcat for all of them. An app that declares its own
 * {@link ServletWebServerFactory} bean gets that one (the catalog declares Tomcat); every other
 * servlet app gets Jetty from here, as before. Runs ahead of Boot's own server configuration, so its
 * Jetty factory is the one Boot's customizers ({@code server.*}, Meshlet's inbound mTLS) then
 * customize. Listed in {@code META-INF/spring/...AutoConfiguration.imports} of the samples jar.
 */
@AutoConfiguration(before = ServletWebServerFactoryAutoConfiguration.class)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
public class SampleServerAutoConfiguration {

  @Bean
  @ConditionalOnMissingBean(ServletWebServerFactory.class)
  JettyServletWebServerFactory sampleJettyServer(ObjectProvider<JettyServerCustomizer> customizers) {
    JettyServletWebServerFactory factory = new JettyServletWebServerFactory();
    factory.getServerCustomizers().addAll(customizers.orderedStream().toList());
    return factory;
  }
}
