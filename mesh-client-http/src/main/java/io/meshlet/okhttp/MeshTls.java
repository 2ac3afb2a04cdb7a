package io.meshlet.okhttp;

import io.meshlet.internal.spiffe.SpiffeIds;
import io.meshlet.MeshClient;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.identity.WorkloadIdentity;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import okhttp3.OkHttpClient;
import okhttp3.internal.tls.OkHostnameVerifier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * mTLS for OkHttp calls to mesh services: the client presents its current SVID, and a mesh
 * server is accepted only if its certificate chains to the trust bundle and carries the SPIFFE ID
 * the destination service should have (not a host name). Servers without a SPIFFE ID (any other
 * HTTPS host) are checked the usual way, with the JVM's trust store and host names.
 */
final class MeshTls {

  private static final Logger log = LoggerFactory.getLogger(MeshTls.class);

  private MeshTls() {}

  static OkHttpClient.Builder apply(OkHttpClient.Builder builder, MeshClient mesh, Supplier<WorkloadIdentity> identity) {
    X509ExtendedTrustManager system = systemTrustManager();
    X509ExtendedTrustManager spiffe = SpiffeTls.trustManager(identity, SpiffeTls.allowAny());
    X509ExtendedTrustManager trust = new X509ExtendedTrustManager() {
      private X509ExtendedTrustManager pick(X509Certificate[] chain) {
        return chain.length > 0 && hasSpiffeId(chain[0]) ? spiffe : system;
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
          throws CertificateException {
        pick(chain).checkServerTrusted(chain, authType, socket);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
          throws CertificateException {
        pick(chain).checkServerTrusted(chain, authType, engine);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        pick(chain).checkServerTrusted(chain, authType);
      }

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
          throws CertificateException {
        throw new CertificateException("a client does not check clients");
      }

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
          throws CertificateException {
        throw new CertificateException("a client does not check clients");
      }

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("a client does not check clients");
      }

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return system.getAcceptedIssuers();
      }
    };
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(new KeyManager[] {SpiffeTls.keyManager(identity)}, new TrustManager[] {trust}, new SecureRandom());
      return builder.sslSocketFactory(context.getSocketFactory(), trust).hostnameVerifier(verifier(mesh));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot set up mTLS: " + e.getMessage(), e);
    }
  }

  /** Checks a mesh server's SPIFFE ID against the services the endpoint belongs to. */
  private static HostnameVerifier verifier(MeshClient mesh) {
    return (host, session) -> {
      Optional<String> peer = SpiffeTls.peerSpiffeId(session);
      if (peer.isEmpty()) {
        return OkHostnameVerifier.INSTANCE.verify(host, session);
      }
      Set<String> expected = expectedIds(mesh, session.getPeerHost(), session.getPeerPort());
      if (expected.contains(peer.get())) {
        return true;
      }
      log.warn("[{}] refused TLS peer {}:{}: it presented {} (expected: {})", mesh.nodeId(), session.getPeerHost(),
          session.getPeerPort(), peer.get(), expected.isEmpty() ? "no mesh endpoint at this address" : expected);
      return false;
    };
  }

  static Set<String> expectedIds(MeshClient mesh, String host, int port) {
    Set<String> ids = new TreeSet<>();
    for (ClusterConfig c : mesh.snapshot().clusters().values()) {
      for (EndpointConfig e : c.endpoints()) {
        if (e.port() == port && e.host().equals(host)) {
          ids.addAll(c.peerSpiffeIds());
        }
      }
    }
    return ids;
  }

  private static boolean hasSpiffeId(X509Certificate cert) {
    try {
      return !SpiffeIds.all(cert).isEmpty();
    } catch (CertificateException e) {
      return false;
    }
  }

  private static X509ExtendedTrustManager systemTrustManager() {
    try {
      TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      f.init((KeyStore) null);
      for (TrustManager tm : f.getTrustManagers()) {
        if (tm instanceof X509ExtendedTrustManager x) {
          return x;
        }
      }
      throw new IllegalStateException("the JVM has no X.509 trust manager");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
