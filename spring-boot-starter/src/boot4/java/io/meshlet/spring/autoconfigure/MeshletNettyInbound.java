package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import java.time.Duration;
import org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;

/**
 * Puts the Reactor Netty server of a WebFlux application under the mesh's mTLS when the service's
 * {@code mtls.mode} is strict at start-up (or not known yet): it takes TLS only, with the workload's
 * rotating SVID, and requires a client certificate from the mesh's CA. Who may call what is
 * {@link MeshletAuthorizationWebFilter}'s; the caller's SPIFFE ID is its exchange attribute
 * {@code meshlet.caller}. Reactor Netty cannot take plaintext and mTLS on one port, so a service in
 * {@code permissive} mode is refused at start-up by {@link MeshletInboundGuard}, as on Tomcat. An
 * application that configured the server's TLS itself ({@code server.ssl.*}) fails start-up while the
 * starter would put it under mTLS. (Spring Boot 4's factory type; the work is {@link NettyMtls}'s.)
 */
public final class MeshletNettyInbound implements WebServerFactoryCustomizer<NettyReactiveWebServerFactory> {

  private final MeshClient mesh;
  private final MeshIdentity identity;
  private final Duration waitForConfig;
  private volatile boolean mtls;

  /** @param waitForConfig how long to wait for the first config to learn the mode (zero: not at all) */
  public MeshletNettyInbound(MeshClient mesh, MeshIdentity identity, Duration waitForConfig) {
    this.mesh = mesh;
    this.identity = identity;
    this.waitForConfig = waitForConfig;
  }

  @Override
  public void customize(NettyReactiveWebServerFactory factory) {
    mtls = InboundMtls.customize(mesh, waitForConfig, MeshletInboundGuard.NETTY, factory.getSsl(),
        () -> factory.addServerCustomizers(server -> NettyMtls.apply(server, identity)));
  }

  /** Whether the server was put under mTLS (known once the factory was customized). */
  boolean mtls() {
    return mtls;
  }
}
