package io.meshlet.spring.autoconfigure;

import org.springframework.boot.web.server.servlet.ServletWebServerFactory;
import org.springframework.context.ApplicationContext;
import org.springframework.util.ClassUtils;

/**
 * The few names the shared source needs that Spring Boot 4 moved (this is Boot 4's; the Boot 3.5
 * module has a class of the same name with Boot 3's).
 */
final class BootLine {

  /** Which line this build is for, for messages. */
  static final String NAME = "Spring Boot 4";
  static final String JETTY_FACTORY = "org.springframework.boot.jetty.servlet.JettyServletWebServerFactory";
  static final String TOMCAT_FACTORY = "org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory";
  static final String NETTY_FACTORY = "org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory";

  private BootLine() {}

  private static final boolean WEB_SERVER = ClassUtils.isPresent(
      "org.springframework.boot.web.server.context.WebServerApplicationContext", BootLine.class.getClassLoader());

  /** The web server of a web server application context, else null (also without Boot's web server classes). */
  static Object webServer(ApplicationContext context) {
    return WEB_SERVER ? Web.server(context) : null;
  }

  /** The port of the web server, else null. */
  static Integer webServerPort(ApplicationContext context) {
    return WEB_SERVER ? Web.port(context) : null;
  }

  /** Loaded only where Boot's web server classes are. */
  private static final class Web {
    static Object server(ApplicationContext context) {
      return context instanceof org.springframework.boot.web.server.context.WebServerApplicationContext w ? w.getWebServer() : null;
    }

    static Integer port(ApplicationContext context) {
      return context instanceof org.springframework.boot.web.server.context.WebServerApplicationContext w && w.getWebServer() != null
          ? w.getWebServer().getPort() : null;
    }
  }

  /** The servlet web server factory bean, else null. */
  static Object servletWebServerFactory(ApplicationContext context) {
    return context.getBeanProvider(ServletWebServerFactory.class).getIfAvailable();
  }
}
