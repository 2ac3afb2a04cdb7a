package io.meshlet.identity;

import io.meshlet.internal.spiffe.SpiffeIds;
import io.meshlet.internal.spiffe.SvidTrust;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * TLS with SPIFFE identities: a key manager that always presents the workload's current
 * certificate (so a rotation needs no new SSLContext), and a trust manager that accepts a peer
 * only if its chain is a well-formed X.509 SVID (at most 5 certificates; the peer's own is not a
 * CA, may sign but not sign certificates, and carries exactly one SPIFFE ID), leads to the
 * current trust bundle, and its SPIFFE ID is one the given rule allows. Host names play no part.
 *
 * <pre>{@code
 * SSLContext tls = SpiffeTls.context(identity::current, SpiffeTls.allowAny());
 * }</pre>
 */
public final class SpiffeTls {

  private static final String ALIAS = "meshlet";

  private SpiffeTls() {}

  /** A rule that accepts every SPIFFE ID of the trust bundle (authorization decides later). */
  public static Predicate<String> allowAny() {
    return id -> true;
  }

  /** A TLS 1.3/1.2 context presenting {@code identity} and checking peers with {@code peerAllowed}. */
  public static SSLContext context(Supplier<WorkloadIdentity> identity, Predicate<String> peerAllowed) {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(new KeyManager[] {keyManager(identity)},
          new TrustManager[] {trustManager(identity, peerAllowed)}, new SecureRandom());
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot set up TLS: " + e.getMessage(), e);
    }
  }

  /**
   * The SPIFFE ID of a certificate: its one {@code spiffe://} URI SAN.
   *
   * @throws CertificateException when it has none, or more than one
   */
  public static String spiffeId(X509Certificate cert) throws CertificateException {
    return SpiffeIds.of(cert);
  }

  /** The SPIFFE ID of the peer of a TLS session, if it presented a valid certificate. */
  public static Optional<String> peerSpiffeId(SSLSession session) {
    try {
      var certs = session.getPeerCertificates();
      return certs.length == 0 ? Optional.empty() : Optional.of(spiffeId((X509Certificate) certs[0]));
    } catch (SSLPeerUnverifiedException | CertificateException e) {
      return Optional.empty();
    }
  }

  /** A key manager that presents whatever identity {@code identity} returns at handshake time. */
  public static X509ExtendedKeyManager keyManager(Supplier<WorkloadIdentity> identity) {
    return new X509ExtendedKeyManager() {
      private boolean present() {
        return identity.get() != null;
      }

      @Override
      public String[] getClientAliases(String keyType, Principal[] issuers) {
        return present() ? new String[] {ALIAS} : null;
      }

      @Override
      public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return present() ? ALIAS : null;
      }

      @Override
      public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        return present() ? ALIAS : null;
      }

      @Override
      public String[] getServerAliases(String keyType, Principal[] issuers) {
        return present() ? new String[] {ALIAS} : null;
      }

      @Override
      public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return present() && matches(keyType) ? ALIAS : null;
      }

      @Override
      public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return present() && matches(keyType) ? ALIAS : null;
      }

      private boolean matches(String keyType) {
        String algorithm = identity.get().privateKey().getAlgorithm();
        return keyType == null || keyType.equalsIgnoreCase(algorithm)
            || (algorithm.equals("EC") && keyType.startsWith("EC"));
      }

      @Override
      public X509Certificate[] getCertificateChain(String alias) {
        WorkloadIdentity id = identity.get();
        return id == null ? null : id.chain().toArray(new X509Certificate[0]);
      }

      @Override
      public PrivateKey getPrivateKey(String alias) {
        WorkloadIdentity id = identity.get();
        return id == null ? null : id.privateKey();
      }
    };
  }

  /**
   * A trust manager that checks the peer's chain is a well-formed SVID, validates it against the
   * current trust bundle (expiry included), requires the extended key usage for its role, and lets
   * {@code peerAllowed} decide on its SPIFFE ID. A refusal's message starts with "peer " and names
   * what is wrong, e.g. {@code peer chain of 7 certificates (expected: at most 5, ...)}.
   */
  public static X509ExtendedTrustManager trustManager(Supplier<WorkloadIdentity> identity,
      Predicate<String> peerAllowed) {
    return SvidTrust.trustManager(() -> {
      WorkloadIdentity id = identity.get();
      if (id == null) {
        throw new CertificateException("no workload identity yet, so no trust bundle to check peers against");
      }
      return new SvidTrust.Roots(id.trustBundle(), "the trust bundle of "
          + SpiffeIds.trustDomain(SpiffeIds.trustDomainOf(id.spiffeId())));
    }, peerAllowed);
  }
}
