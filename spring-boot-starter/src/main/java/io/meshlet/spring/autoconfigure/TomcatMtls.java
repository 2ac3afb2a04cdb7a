package io.meshlet.spring.autoconfigure;

import io.meshlet.identity.SpiffeTls;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.TrustManager;
import org.apache.catalina.connector.Connector;
import org.apache.tomcat.util.net.SSLHostConfig;
import org.apache.tomcat.util.net.SSLHostConfigCertificate;

/**
 * Puts an embedded Tomcat connector under the mesh's mTLS, apart from Spring Boot's factory types
 * (which Boot 4 moved), so that each Boot line's {@link MeshletTomcatInbound} only hooks it in. It
 * takes the same {@link SpiffeTls#context} as Jetty's connector: its key manager reads the workload's
 * current SVID on every handshake and its trust manager the current trust bundle, so a rotated
 * certificate is served from the next handshake on, with no reload of Tomcat's SSL host config and
 * no failed request.
 */
final class TomcatMtls {

  private TomcatMtls() {}

  /**
   * Tomcat: the connector takes TLS only, and requires a client certificate that chains to the mesh's
   * trust bundle and carries a SPIFFE ID. Tomcat cannot take plaintext and TLS on one port, so this
   * is strict mTLS; who may call what is {@code MeshServletFilter}'s, which reads the caller from the
   * certificate Tomcat puts in the request.
   */
  static void apply(Connector connector, MeshIdentity identity) {
    SSLHostConfig host = new SSLHostConfig();
    host.setCertificateVerification("required");
    // Mesh callers name the service, not a host in the certificate: any SNI goes to this config.
    SSLHostConfigCertificate certificate = new SSLHostConfigCertificate(host, SSLHostConfigCertificate.Type.UNDEFINED);
    certificate.setSslContext(new TomcatContext(SpiffeTls.context(identity, SpiffeTls.allowAny())));
    host.addCertificate(certificate);
    connector.setScheme("https");
    connector.setSecure(true);
    connector.setProperty("SSLEnabled", "true");
    connector.addSslHostConfig(host);
  }

  /**
   * Tomcat's view of a JSSE context it did not build: Tomcat uses an {@code SSLContext} given on the
   * certificate instead of making one from key stores ("embedded" use), and {@code init} is then not
   * called with key managers of its own.
   */
  private static final class TomcatContext implements org.apache.tomcat.util.net.SSLContext {
    private final SSLContext context;

    TomcatContext(SSLContext context) {
      this.context = context;
    }

    @Override
    public void init(KeyManager[] kms, TrustManager[] tms, SecureRandom sr) {
      // Built already: its key and trust managers follow the rotating identity.
    }

    @Override
    public void destroy() {
    }

    @Override
    public SSLSessionContext getServerSessionContext() {
      return context.getServerSessionContext();
    }

    @Override
    public SSLEngine createSSLEngine() {
      return context.createSSLEngine();
    }

    @Override
    public SSLServerSocketFactory getServerSocketFactory() {
      return context.getServerSocketFactory();
    }

    @Override
    public SSLParameters getSupportedSSLParameters() {
      return context.getSupportedSSLParameters();
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
      return null;   // read per handshake from the current identity, not fixed here
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
