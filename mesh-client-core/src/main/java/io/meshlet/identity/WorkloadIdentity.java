package io.meshlet.identity;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A workload's X.509 SVID: its SPIFFE ID, certificate chain and private key, and the roots it
 * trusts for peers.
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
