package io.meshlet.controlplane.internal.ca;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;
import org.bouncycastle.asn1.x509.GeneralName;

/**
 * The server's one rule for reading SPIFFE IDs out of a certificate: its URI SANs that start with
 * {@code spiffe://}. One class on purpose: when mesh-client-core's shared home for SPIFFE IDs
 * ({@code io.meshlet.internal.*}) is merged, this is the one place to point at it.
 */
final class SpiffeIds {

  private SpiffeIds() {}

  static List<String> of(X509Certificate cert) {
    try {
      var sans = cert.getSubjectAlternativeNames();
      if (sans == null) {
        return List.of();
      }
      return sans.stream()
          .filter(san -> Objects.equals(san.get(0), GeneralName.uniformResourceIdentifier))
          .map(san -> (String) san.get(1))
          .filter(uri -> uri.startsWith("spiffe://"))
          .toList();
    } catch (java.security.cert.CertificateParsingException e) {
      return List.of();
    }
  }
}
