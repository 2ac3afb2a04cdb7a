package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import io.meshlet.inbound.MeshJetty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.jetty.servlet.JettyServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;

/**
 * Puts the embedded Jetty server under the mesh's inbound policy: its connector takes mTLS with the
 * workload's rotating SVID (and plaintext while the service's {@code mtls.mode} is not strict), and
 * its handler refuses callers the service's authorization does not allow. The caller's SPIFFE ID is
 * the request attribute {@value MeshJetty#CALLER_ATTRIBUTE}. (Spring Boot 4's factory type; the work
 * is {@link JettyMtls#apply}'s.)
 */
public final class MeshletJettyInbound implements WebServerFactoryCustomizer<JettyServletWebServerFactory> {

  private static final Logger log = LoggerFactory.getLogger(MeshletJettyInbound.class);

  private final MeshClient mesh;
  private final MeshIdentity identity;

  public MeshletJettyInbound(MeshClient mesh, MeshIdentity identity) {
    this.mesh = mesh;
    this.identity = identity;
  }

  @Override
  public void customize(JettyServletWebServerFactory factory) {
    // The mesh's connector replaces every connector Boot made, TLS ones included, whatever the mode.
    InboundMtls.refuseOwnTls(mesh.serviceName(), "Jetty", factory.getSsl());
    factory.addServerCustomizers(server -> {
      JettyMtls.apply(server, mesh, identity);
      log.info("inbound mTLS and authorization for service '{}' on the embedded Jetty server", mesh.serviceName());
    });
  }
}
