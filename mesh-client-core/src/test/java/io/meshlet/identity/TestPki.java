package io.meshlet.identity;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A test trust domain: a self-signed root, and certificates it (or intermediates under it) signs
 * with whatever profile a test needs, good or bad, built with BouncyCastle.
 */
final class TestPki {

  /** What goes into a certificate. {@code keyUsage} is a BouncyCastle {@link KeyUsage} mask, or -1 for none. */
  record Profile(List<String> uris, boolean ca, int keyUsage, boolean eku) {
    /** A well-formed workload certificate for one SPIFFE ID. */
    static Profile svid(String spiffeId) {
      return new Profile(List.of(spiffeId), false, KeyUsage.digitalSignature | KeyUsage.keyEncipherment, true);
    }

    /** An intermediate CA. */
    static Profile intermediate() {
      return new Profile(List.of(), true, KeyUsage.keyCertSign | KeyUsage.cRLSign, false);
    }

    Profile withUris(String... uris) {
      return new Profile(List.of(uris), ca, keyUsage, eku);
    }

    Profile withCa(boolean ca) {
      return new Profile(uris, ca, keyUsage, eku);
    }

    Profile withKeyUsage(int keyUsage) {
      return new Profile(uris, ca, keyUsage, eku);
    }
  }

  /** A certificate and its key pair. */
  record Issued(X509Certificate certificate, KeyPair keys) {}

  private static final AtomicLong SERIAL = new AtomicLong(1);

  final String trustDomain;
  final Issued root;

  TestPki(String trustDomain) {
    this.trustDomain = trustDomain;
    KeyPair keys = CertificateRequests.newKeyPair();
    this.root = new Issued(build("CN=test root " + trustDomain, keys.getPublic(),
        new Profile(List.of("spiffe://" + trustDomain), true, KeyUsage.keyCertSign | KeyUsage.cRLSign, false),
        "CN=test root " + trustDomain, keys, Duration.ofHours(1)), keys);
  }

  String spiffeId(String service) {
    return "spiffe://" + trustDomain + "/service/" + service;
  }

  /** A certificate with {@code profile}, signed by {@code issuer}. */
  Issued issue(Profile profile, Issued issuer) {
    KeyPair keys = CertificateRequests.newKeyPair();
    String subject = "CN=test " + SERIAL.get();
    return new Issued(build(subject, keys.getPublic(), profile,
        issuer.certificate().getSubjectX500Principal().getName(), issuer.keys(), Duration.ofHours(1)), keys);
  }

  /** A certificate for someone else's key (from a CSR, say), signed by the root. */
  X509Certificate certify(Profile profile, PublicKey key, Duration lifetime) {
    return build("CN=test " + SERIAL.get(), key, profile, root.certificate().getSubjectX500Principal().getName(),
        root.keys(), lifetime);
  }

  /**
   * A chain of {@code length} certificates as a workload would send it: a certificate with
   * {@code profile} first, then {@code length - 1} intermediates up to (not including) the root.
   */
  List<Issued> chain(Profile profile, int length) {
    List<Issued> intermediates = new ArrayList<>();
    Issued issuer = root;
    for (int i = 1; i < length; i++) {
      issuer = issue(Profile.intermediate(), issuer);
      intermediates.add(0, issuer);
    }
    List<Issued> out = new ArrayList<>();
    out.add(issue(profile, issuer));
    out.addAll(intermediates);
    return out;
  }

  /** A workload identity whose chain has {@code profile} and {@code length} certificates. */
  WorkloadIdentity identity(Profile profile, int length) {
    List<Issued> chain = chain(profile, length);
    return new WorkloadIdentity(profile.uris().get(0), chain.stream().map(Issued::certificate).toList(),
        chain.get(0).keys().getPrivate(), List.of(root.certificate()));
  }

  /** A well-formed identity for {@code service}. */
  WorkloadIdentity identity(String service) {
    return identity(Profile.svid(spiffeId(service)), 1);
  }

  private static X509Certificate build(String subject, PublicKey key, Profile profile, String issuer,
      KeyPair issuerKeys, Duration lifetime) {
    try {
      Instant now = Instant.now();
      JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name(issuer),
          BigInteger.valueOf(SERIAL.getAndIncrement()), Date.from(now.minus(Duration.ofMinutes(1))),
          Date.from(now.plus(lifetime)), new X500Name(subject), key);
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(profile.ca()));
      if (profile.keyUsage() >= 0) {
        b.addExtension(Extension.keyUsage, true, new KeyUsage(profile.keyUsage()));
      }
      if (profile.eku()) {
        b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
            new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      }
      if (!profile.uris().isEmpty()) {
        b.addExtension(Extension.subjectAlternativeName, true, new GeneralNames(profile.uris().stream()
            .map(u -> new GeneralName(GeneralName.uniformResourceIdentifier, u)).toArray(GeneralName[]::new)));
      }
      return new JcaX509CertificateConverter().getCertificate(
          b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate())));
    } catch (Exception e) {
      throw new IllegalStateException("cannot make a test certificate: " + e.getMessage(), e);
    }
  }
}
