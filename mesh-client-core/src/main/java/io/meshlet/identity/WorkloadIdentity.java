package io.meshlet.identity;

import io.meshlet.internal.spiffe.SvidRules;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A workload's X.509 SVID: its SPIFFE ID, certificate chain and private key, and the roots it
 * trusts for peers.
 *
 * <p>Only a well-formed SVID makes one: at most 5 certificates, the first not a CA, allowed to
 * sign but not to sign certificates, and carrying exactly one SPIFFE ID, {@code spiffeId}
 * (the rules {@link SpiffeTls#trustManager} applies to peers). Identity sources check this first
 * and name the file or server at fault; this constructor is the last line.
 *
 * <p>{@link #toString()} never shows the key.
 *
 * @param spiffeId e.g. {@code spiffe://example.org/service/frontend}
 * @param chain the workload certificate first, then intermediates
 * @param privateKey the key of the first certificate; made in this process, never sent anywhere
 * @param trustBundle the roots that peer certificates must chain to
 */
public record WorkloadIdentity(
    String spiffeId, List<X509Certificate> chain, PrivateKey privateKey, List<X509Certificate> trustBundle) {

  public WorkloadIdentity {
    Objects.requireNonNull(spiffeId, "spiffeId");
    Objects.requireNonNull(privateKey, "privateKey");
    chain = List.copyOf(chain);
    trustBundle = List.copyOf(trustBundle);
    if (chain.isEmpty() || trustBundle.isEmpty()) {
      throw new IllegalArgumentException("chain and trustBundle: at least one certificate each");
    }
    String inCertificate;
    try {
      inCertificate = SvidRules.check(chain);
    } catch (CertificateException e) {
      throw new IllegalArgumentException("chain: " + e.getMessage(), e);
    }
    if (!inCertificate.equals(spiffeId)) {
      throw new IllegalArgumentException("spiffeId: " + spiffeId + " (expected: the SPIFFE ID of the certificate, "
          + inCertificate + ")");
    }
  }

  /** When the workload certificate expires. */
  public Instant expiresAt() {
    return chain.get(0).getNotAfter().toInstant();
  }

  /** When the workload certificate became valid. */
  public Instant issuedAt() {
    return chain.get(0).getNotBefore().toInstant();
  }

  @Override
  public String toString() {
    return "WorkloadIdentity[" + spiffeId + ", serial " + chain.get(0).getSerialNumber().toString(16)
        + ", expires " + expiresAt() + ", " + trustBundle.size() + " trusted roots]";
  }
}
