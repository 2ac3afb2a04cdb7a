package io.meshlet.controlplane.internal.ca;

import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/**
 * What the CA refuses in a workload's certificate request before it signs: names other than the
 * service's own SPIFFE ID, and the powers of a CA. Also how a caller's text is made printable for
 * the refusal's message.
 */
final class CsrPolicy {

  private CsrPolicy() {}

  /**
   * Refuses a CSR that asks for a name other than {@code id} (several SPIFFE IDs, another
   * service's, a DNS name) or for the powers of a CA (cA=true, keyCertSign, cRLSign).
   */
  static void checkRequestedExtensions(JcaPKCS10CertificationRequest csr, String id)
      throws CertificateAuthority.RefusedException {
    Extensions requested;
    try {
      // getRequestedExtensions reads only the first value of the first extensionRequest: refuse
      // more, or what hides behind it would go unchecked.
      org.bouncycastle.asn1.pkcs.Attribute[] attributes =
          csr.getAttributes(org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers.pkcs_9_at_extensionRequest);
      int values = 0;
      for (org.bouncycastle.asn1.pkcs.Attribute a : attributes) {
        values += a.getAttrValues().size();
      }
      if (attributes.length > 1 || values > 1) {
        throw new CertificateAuthority.RefusedException("csr: extensionRequest: " + attributes.length + " attributes with " + values
            + " values (expected: at most one, with one value)");
      }
      requested = csr.getRequestedExtensions();
    } catch (RuntimeException e) {
      throw new CertificateAuthority.RefusedException("csr: extensionRequest: unreadable (" + printable(String.valueOf(e.getMessage())) + ")");
    }
    if (requested == null) {
      return;
    }
    List<String> names = new ArrayList<>();
    BasicConstraints constraints;
    KeyUsage usage;
    try {
      GeneralNames sans = GeneralNames.fromExtensions(requested, Extension.subjectAlternativeName);
      if (sans != null) {
        GeneralName[] all = sans.getNames();
        for (int i = 0; i < all.length && i < 5; i++) {
          names.add(describe(all[i]));
        }
        if (all.length > 5) {
          names.add("... " + all.length + " names in all");
        }
      }
      constraints = BasicConstraints.fromExtensions(requested);
      usage = KeyUsage.fromExtensions(requested);
    } catch (RuntimeException e) {
      throw new CertificateAuthority.RefusedException("csr: extensionRequest: unreadable (" + printable(String.valueOf(e.getMessage())) + ")");
    }
    String allowed = "uri:" + id;
    if (!names.isEmpty() && !names.equals(List.of(allowed))) {
      throw new CertificateAuthority.RefusedException("csr: subjectAltName: " + names + " (expected: no names, or exactly ["
          + allowed + "]; the CA issues the service's own SPIFFE ID only)");
    }
    if (constraints != null && constraints.isCA()) {
      throw new CertificateAuthority.RefusedException("csr: basicConstraints: cA=true (expected: cA=false or none; "
          + "the CA issues workload certificates only)");
    }
    if (usage != null && (usage.hasUsages(KeyUsage.keyCertSign) || usage.hasUsages(KeyUsage.cRLSign))) {
      throw new CertificateAuthority.RefusedException("csr: keyUsage: " + (usage.hasUsages(KeyUsage.keyCertSign) ? "keyCertSign" : "cRLSign")
          + " (expected: neither keyCertSign nor cRLSign; the CA issues workload certificates only)");
    }
  }

  /** A requested name as {@code type:value}, e.g. {@code uri:spiffe://example.org/service/catalog}. */
  static String describe(GeneralName name) {
    String type = switch (name.getTagNo()) {
      case GeneralName.otherName -> "otherName";
      case GeneralName.rfc822Name -> "email";
      case GeneralName.dNSName -> "dns";
      case GeneralName.x400Address -> "x400Address";
      case GeneralName.directoryName -> "dirName";
      case GeneralName.ediPartyName -> "ediPartyName";
      case GeneralName.uniformResourceIdentifier -> "uri";
      case GeneralName.iPAddress -> "ip";
      case GeneralName.registeredID -> "registeredID";
      default -> "tag" + name.getTagNo();
    };
    String value = name.getName() instanceof ASN1String text ? text.getString() : name.getName().toString();
    return type + ":" + printable(value);
  }

  /**
   * A caller's text made safe for a log line and a status message: control and non-ASCII
   * characters escaped, at most 100 characters.
   */
  static String printable(String text) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < text.length(); i++) {
      if (out.length() >= 100) {
        return out.append("...").toString();
      }
      char c = text.charAt(i);
      if (c >= 0x20 && c < 0x7f && c != '\\') {
        out.append(c);
      } else {
        out.append(String.format("\\u%04x", (int) c));
      }
    }
    return out.toString();
  }
}
