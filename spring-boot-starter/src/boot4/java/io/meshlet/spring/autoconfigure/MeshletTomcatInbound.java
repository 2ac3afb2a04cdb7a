package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import java.time.Duration;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;

/**
 * Puts the embedded Tomcat server under the mesh's mTLS when the service's {@code mtls.mode} is
 * strict at start-up (or not known yet): its connector takes TLS only, with the workload's rotating
 * SVID, and requires a client certificate from the mesh's CA. Who may call what is
 * {@code MeshServletFilter}'s, which the starter registers on any servlet server; the caller's
 * SPIFFE ID is its request attribute {@code meshlet.caller}. Tomcat cannot take plaintext and mTLS on
 * one port, so a service in {@code permissive} mode is refused at start-up by
 * {@link MeshletInboundGuard}, and so is an application that configured the server's TLS itself
 * ({@code server.ssl.*}) while the starter puts Tomcat under mTLS. (Spring Boot 4's factory type; the work is {@link TomcatMtls}'s.)
 */
public final class MeshletTomcatInbound implements WebServerFactoryCustomizer<TomcatServletWebServerFactory> {

  private final MeshClient mesh;
  private final MeshIdentity identity;
  private final Duration waitForConfig;
  private volatile boolean mtls;

  /** @param waitForConfig how long to wait for the first config to learn the mode (zero: not at all) */
  public MeshletTomcatInbound(MeshClient mesh, MeshIdentity identity, Duration waitForConfig) {
    this.mesh = mesh;
    this.identity = identity;
    this.waitForConfig = waitForConfig;
  }

  @Override
  public void customize(TomcatServletWebServerFactory factory) {
    mtls = InboundMtls.customize(mesh, waitForConfig, "Tomcat", factory.getSsl(),
        () -> factory.addConnectorCustomizers(connector -> TomcatMtls.apply(connector, identity)));
  }

  /** Whether the connector was put under mTLS (known once the factory was customized). */
  boolean mtls() {
    return mtls;
  }
}
