package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import io.meshlet.inbound.MeshJetty;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * Puts an embedded Jetty server under the mesh's inbound policy, apart from Spring Boot's factory
 * types (which Boot 4 moved), so that each Boot line's {@link MeshletJettyInbound} only hooks it in.
 */
final class JettyMtls {

  private JettyMtls() {}

  /**
   * Jetty: every {@link ServerConnector} replaced by {@link MeshJetty#connector} (mTLS, and plaintext
   * while the service's {@code mtls.mode} is not strict) on the same host and port, and the
   * application wrapped in the service's authorization.
   */
  static void apply(Server server, MeshClient mesh, MeshIdentity identity) {
    Connector[] connectors = server.getConnectors();
    Connector[] replaced = new Connector[connectors.length];
    for (int i = 0; i < connectors.length; i++) {
      if (!(connectors[i] instanceof ServerConnector old)) {
        replaced[i] = connectors[i];
        continue;
      }
      ServerConnector mtls = MeshJetty.connector(server, mesh, identity);
      mtls.setHost(old.getHost());
      mtls.setPort(old.getPort());
      replaced[i] = mtls;
    }
    server.setConnectors(replaced);
    server.setHandler(MeshJetty.inbound(mesh, server.getHandler()));
  }

}
