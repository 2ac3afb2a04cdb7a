package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import io.meshlet.config.MtlsMode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.web.server.Ssl;

/**
 * The rules every embedded server the starter puts under the mesh's mTLS (Tomcat, Jetty, Reactor
 * Netty) shares: which mode a server that cannot change it while it serves starts in, and that the
 * server's TLS is then Meshlet's alone.
 */
final class InboundMtls {

  private static final Logger log = LoggerFactory.getLogger(InboundMtls.class);

  private InboundMtls() {}

  /**
   * The start-up decision of a server that takes either TLS or plaintext on a port (Tomcat,
   * Reactor Netty), whatever its factory type on either Boot line: under mTLS when
   * {@link #startsUnderMtls}, then the application's own TLS refused ({@link #refuseOwnTls}) and
   * {@code putUnderMtls} run; logged either way.
   *
   * @param server the server's name for the log and the refusal: Tomcat, Reactor Netty
   * @param ownTls the factory's SSL settings ({@code server.ssl.*}), null when there are none
   * @return whether the server goes under mTLS
   */
  static boolean customize(MeshClient mesh, Duration wait, String server, Ssl ownTls, Runnable putUnderMtls) {
    boolean mtls = startsUnderMtls(mesh, wait);
    if (mtls) {
      refuseOwnTls(mesh.serviceName(), server, ownTls);
      putUnderMtls.run();
      log.info("inbound strict mTLS for service '{}' on the embedded {} server", mesh.serviceName(), server);
    } else {
      log.info("the embedded {} server of service '{}' serves plaintext: its mtls.mode at start-up is not strict",
          server, mesh.serviceName());
    }
    return mtls;
  }

  /**
   * Whether a server that takes either TLS or plaintext on a port (Tomcat, Reactor Netty) starts
   * under mTLS: when the service's {@code mtls.mode} in the config at start-up (waited for up to
   * {@code wait}) is strict, or when there is no config yet (fail closed: the inbound guard then
   * compares the mode that arrives with what the server took). A later change of the mode is the
   * guard's to report.
   */
  static boolean startsUnderMtls(MeshClient mesh, Duration wait) {
    try {
      if (!mesh.awaitConfig(wait)) {
        return true;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return true;
    }
    return mesh.snapshot().inbound(mesh.serviceName()).mtls() == MtlsMode.STRICT;
  }

  /**
   * Fails when the application configured the server's TLS itself ({@code server.ssl.*}, bound by
   * Boot onto the factory's {@link Ssl}) while the starter puts that server under the mesh's mTLS:
   * one of the two would be silently dropped (the starter's connector or TLS settings replace Boot's).
   *
   * @param server the server's name for the message: Tomcat, Jetty, Reactor Netty
   * @param ssl the factory's SSL settings, null when there are none
   * @throws MeshletInboundException naming the properties to remove
   */
  static void refuseOwnTls(String service, String server, Ssl ssl) {
    if (!Ssl.isEnabled(ssl)) {
      return;
    }
    throw new MeshletInboundException("meshlet: service '" + service + "' is under the mesh's mTLS, which the"
        + " starter gives the embedded " + server + " server with the workload's SVID, but the application"
        + " configured the server's own TLS (" + String.join(", ", sslProperties(ssl)) + ")", "remove server.ssl.*"
        + " from the application's configuration (Meshlet owns the server's TLS while the mesh asks for mTLS),"
        + " or set meshlet.inbound.enabled=false to take responsibility for the inbound policy yourself");
  }

  /** The {@code server.ssl.*} properties behind the settings, as the application would have spelled them. */
  static List<String> sslProperties(Ssl ssl) {
    List<String> names = new ArrayList<>();
    if (ssl.getBundle() != null) {
      names.add("server.ssl.bundle");
    }
    if (ssl.getKeyStore() != null) {
      names.add("server.ssl.key-store");
    }
    if (ssl.getCertificate() != null) {
      names.add("server.ssl.certificate");
    }
    if (ssl.getTrustStore() != null) {
      names.add("server.ssl.trust-store");
    }
    if (ssl.getTrustCertificate() != null) {
      names.add("server.ssl.trust-certificate");
    }
    if (ssl.getClientAuth() != null) {
      names.add("server.ssl.client-auth");
    }
    if (names.isEmpty()) {
      names.add("server.ssl.enabled");
    }
    return names;
  }
}
