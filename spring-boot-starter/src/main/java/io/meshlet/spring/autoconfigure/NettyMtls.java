package io.meshlet.spring.autoconfigure;

import io.meshlet.identity.SpiffeTls;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.IdentityCipherSuiteFilter;
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContext;
import reactor.netty.http.server.HttpServer;

/**
 * Puts a Reactor Netty server under the mesh's strict mTLS, apart from Spring Boot's factory types
 * (which Boot 4 moved), so that each Boot line's {@link MeshletNettyInbound} only hooks it in. It
 * takes the same {@link SpiffeTls#context} as Tomcat's and Jetty's connectors, through Netty's JDK
 * provider: its key manager reads the workload's current SVID on every handshake and its trust
 * manager the current trust bundle, so a rotated certificate is served from the next handshake on,
 * with no restart and no failed request.
 */
final class NettyMtls {

  private NettyMtls() {}

  /**
   * The server, taking TLS only and requiring a client certificate that chains to the mesh's trust
   * bundle and carries a SPIFFE ID. Reactor Netty cannot take plaintext and TLS on one port, so this
   * is strict mTLS; who may call what is {@link MeshletAuthorizationWebFilter}'s, which reads the
   * caller from the certificate in the request's {@code SslInfo}.
   */
  static HttpServer apply(HttpServer server, MeshIdentity identity) {
    SslContext tls = context(identity);
    return server.secure(spec -> spec.sslContext(tls));
  }

  /** Netty's view of the SPIFFE context, for a server, with client certificates required and no ALPN (HTTP/1.1). */
  static SslContext context(MeshIdentity identity) {
    return new JdkSslContext(SpiffeTls.context(identity, SpiffeTls.allowAny()), false, null,
        IdentityCipherSuiteFilter.INSTANCE, ApplicationProtocolConfig.DISABLED, ClientAuth.REQUIRE, null, false);
  }
}
