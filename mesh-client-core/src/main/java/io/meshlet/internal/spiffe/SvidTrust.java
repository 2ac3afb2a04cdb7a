package io.meshlet.internal.spiffe;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The SVID trust manager behind {@code SpiffeTls} and the control-plane TLS: checks a peer's chain
 * is a well-formed SVID ({@link SvidRules}), leads to the roots given at each handshake, carries
 * the extended key usage of its role, and has a SPIFFE ID the caller allows.
 */
public final class SvidTrust {

  private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
  private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

  private SvidTrust() {}

  /** Roots to check a peer against, and how a refusal names them. */
  public record Roots(List<X509Certificate> certificates, String description) {}

  /** Where {@link #trustManager(RootsSource, Predicate)} gets its roots, at each handshake. */
  public interface RootsSource {
    Roots get() throws CertificateException;
  }

  public static X509ExtendedTrustManager trustManager(RootsSource roots, Predicate<String> peerAllowed) {
    return new X509ExtendedTrustManager() {
      void check(X509Certificate[] chain, String usage) throws CertificateException {
        Roots id = roots.get();
        if (chain == null || chain.length == 0) {
          throw new CertificateException("peer sent no certificate (expected: an X.509 SVID)");
        }
        try {
          // Before path validation: an oversized chain costs nothing more than its count.
          SvidRules.checkLength(chain.length);
        } catch (CertificateException e) {
          throw new CertificateException("peer " + e.getMessage());
        }
        try {
          Set<TrustAnchor> anchors = new HashSet<>();
          for (X509Certificate root : id.certificates()) {
            anchors.add(new TrustAnchor(root, null));
          }
          PKIXParameters params = new PKIXParameters(anchors);
          params.setRevocationEnabled(false);
          CertPathValidator.getInstance("PKIX").validate(
              CertificateFactory.getInstance("X.509").generateCertPath(Arrays.asList(chain)), params);
        } catch (GeneralSecurityException e) {
          throw new CertificateException("peer certificate does not chain to " + id.description()
              + " (" + e.getMessage() + ")", e);
        }
        String peer;
        try {
          // After path validation: what the refusal quotes comes from a certificate our CA signed.
          peer = SvidRules.check(Arrays.asList(chain));
        } catch (CertificateException e) {
          throw new CertificateException("peer " + e.getMessage(), e.getCause());
        }
        List<String> eku = chain[0].getExtendedKeyUsage();
        if (eku != null && !eku.contains(usage)) {
          throw new CertificateException("peer certificate lacks the extended key usage "
              + (usage.equals(CLIENT_AUTH) ? "clientAuth" : "serverAuth"));
        }
        if (!peerAllowed.test(peer)) {
          throw new CertificateException("peer " + peer + " is not the SPIFFE ID expected here");
        }
      }

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain, CLIENT_AUTH);
      }

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
          throws CertificateException {
        check(chain, CLIENT_AUTH);
      }

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
          throws CertificateException {
        check(chain, CLIENT_AUTH);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain, SERVER_AUTH);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
          throws CertificateException {
        check(chain, SERVER_AUTH);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
          throws CertificateException {
        check(chain, SERVER_AUTH);
      }

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        try {
          return roots.get().certificates().toArray(new X509Certificate[0]);
        } catch (CertificateException e) {
          return new X509Certificate[0];
        }
      }
    };
  }
}
