package io.meshlet.internal.spiffe;

import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

/**
 * The shape every X.509 SVID must have, ours and our peers' alike (SPIFFE X509-SVID standard,
 * section 4): a chain of at most {@link #MAX_CHAIN} certificates whose first one carries exactly
 * one SPIFFE ID, is not a CA, and, when it states a key usage, may sign (digitalSignature) but not
 * sign certificates or CRLs. Whether the chain leads to a trusted root is checked elsewhere.
 *
 * <p>Messages name the certificate and what to fix; callers prefix where it came from ("peer ",
 * a file name, a control server).
 */
public final class SvidRules {

  /** The most certificates a workload may present: its own and up to four intermediates. */
  public static final int MAX_CHAIN = 5;

  private static final int DIGITAL_SIGNATURE = 0;
  private static final int KEY_CERT_SIGN = 5;
  private static final int CRL_SIGN = 6;

  private SvidRules() {}

  /**
   * Checks a chain, the workload certificate first.
   *
   * @return the SPIFFE ID of the workload certificate
   * @throws CertificateException naming the first rule the chain breaks
   */
  public static String check(List<X509Certificate> chain) throws CertificateException {
    checkLength(chain.size());
    X509Certificate leaf = chain.get(0);
    String id = SpiffeIds.of(leaf);
    if (leaf.getBasicConstraints() >= 0) {
      throw new CertificateException("certificate for " + id + ": basicConstraints: cA=true "
          + "(expected: cA=false, a workload certificate is not a CA)");
    }
    boolean[] usage = leaf.getKeyUsage();
    if (usage != null) {
      boolean signs = usage.length > DIGITAL_SIGNATURE && usage[DIGITAL_SIGNATURE];
      boolean signsCertificates = usage.length > KEY_CERT_SIGN && usage[KEY_CERT_SIGN];
      boolean signsCrls = usage.length > CRL_SIGN && usage[CRL_SIGN];
      if (!signs || signsCertificates || signsCrls) {
        throw new CertificateException("certificate for " + id + ": keyUsage: " + names(usage)
            + " (expected: digitalSignature, and neither keyCertSign nor cRLSign)");
      }
    }
    return id;
  }

  /** Checks the number of certificates in a chain: the part of {@link #check} that needs no parsing. */
  public static void checkLength(int certificates) throws CertificateException {
    if (certificates == 0) {
      throw new CertificateException("chain of 0 certificates (expected: the workload certificate first)");
    }
    if (certificates > MAX_CHAIN) {
      throw new CertificateException("chain of " + certificates + " certificates (expected: at most " + MAX_CHAIN
          + ", the workload certificate and its intermediates)");
    }
  }

  private static List<String> names(boolean[] usage) {
    String[] names = {"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
        "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"};
    List<String> out = new ArrayList<>();
    for (int i = 0; i < usage.length && i < names.length; i++) {
      if (usage[i]) {
        out.add(names[i]);
      }
    }
    return out;
  }
}
