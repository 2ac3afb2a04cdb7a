package io.meshlet.internal.spiffe;

import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * SPIFFE IDs: the one place that reads them out of certificates and builds the ones Meshlet
 * issues ({@code spiffe://<trust domain>/service/<name>}), for the client and the control server.
 */
public final class SpiffeIds {

  /** The scheme and separator every SPIFFE ID starts with. */
  public static final String SCHEME = "spiffe://";
  /** The path prefix of a service's workload identity. */
  public static final String SERVICE_PATH = "/service/";
  /**
   * A SPIFFE ID as mesh.yaml's authorization lists write one: a lower-case trust domain and a
   * non-empty path of URI path characters.
   */
  public static final Pattern ID = Pattern.compile("spiffe://[a-z0-9.-]+(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+");
  private static final int URI_SAN = 6;

  private SpiffeIds() {}

  /** The SPIFFE ID of a trust domain itself, {@code spiffe://<trust domain>}: the URI SAN of its CA's root. */
  public static String trustDomain(String trustDomain) {
    return SCHEME + trustDomain;
  }

  /** The trust domain of a SPIFFE ID: what lies between {@code spiffe://} and the path. */
  public static String trustDomainOf(String spiffeId) {
    if (!spiffeId.startsWith(SCHEME)) {
      throw new IllegalArgumentException("SPIFFE ID: '" + spiffeId + "' (expected: " + SCHEME + "<trust domain>/<path>)");
    }
    int slash = spiffeId.indexOf('/', SCHEME.length());
    return spiffeId.substring(SCHEME.length(), slash < 0 ? spiffeId.length() : slash);
  }

  /** The SPIFFE ID of a service in a trust domain: {@code spiffe://<trust domain>/service/<name>}. */
  public static String service(String trustDomain, String service) {
    return SCHEME + trustDomain + SERVICE_PATH + service;
  }

  /** Every {@code spiffe://} URI SAN of a certificate, in its order. */
  public static List<String> all(X509Certificate cert) throws CertificateException {
    List<String> ids = new ArrayList<>();
    try {
      var sans = cert.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> san : sans) {
          if (Integer.valueOf(URI_SAN).equals(san.get(0)) && String.valueOf(san.get(1)).startsWith(SCHEME)) {
            ids.add((String) san.get(1));
          }
        }
      }
    } catch (CertificateParsingException e) {
      throw new CertificateException("certificate: unreadable subject alternative names", e);
    }
    return ids;
  }

  /**
   * The SPIFFE ID of a certificate: its one {@code spiffe://} URI SAN.
   *
   * @throws CertificateException when it has none, or more than one
   */
  public static String of(X509Certificate cert) throws CertificateException {
    List<String> ids = all(cert);
    if (ids.size() != 1) {
      throw new CertificateException("certificate has " + ids.size() + " SPIFFE IDs " + ids
          + " (expected: exactly one)");
    }
    return ids.get(0);
  }
}
