package io.meshlet.controlplane.internal.ca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.meshlet.identity.CertificateRequests;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.stream.Stream;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A CA key rotation under way survives a restart of the control server, through its CA directory;
 * a CSR asking for names other than the service's own SPIFFE ID, or for CA powers, is refused.
 */
class CertificateAuthorityTest {

  @TempDir Path dir;

  /** A clock the test moves. */
  static final class TestClock extends Clock {
    Instant now = Instant.parse("2026-11-30T12:00:00Z");

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  static String serial(X509Certificate c) {
    return c.getSerialNumber().toString(16);
  }

  @Test
  void aRotationUnderWayGoesOnAfterARestart() throws Exception {
    TestClock clock = new TestClock();
    CertificateAuthority first = CertificateAuthority.loadOrCreate("example.org", dir, clock);
    String oldRoot = serial(first.root());
    CertificateAuthority.Rotation r = first.rotate(Duration.ofHours(2));

    // Restarted before the switch: both roots trusted, the old key still signs.
    CertificateAuthority second = CertificateAuthority.loadOrCreate("example.org", dir, clock);
    assertThat(second.trustBundle()).extracting(CertificateAuthorityTest::serial)
        .containsExactly(oldRoot, r.newRootSerial());
    assertThat(serial(second.root())).isEqualTo(oldRoot);

    // Past the switch: the new key signs, the old root is still trusted; also after a restart.
    clock.now = r.switchAt().plusSeconds(1);
    assertThat(serial(second.root())).isEqualTo(r.newRootSerial());
    CertificateAuthority third = CertificateAuthority.loadOrCreate("example.org", dir, clock);
    assertThat(serial(third.root())).isEqualTo(r.newRootSerial());
    assertThat(third.trustBundle()).extracting(CertificateAuthorityTest::serial)
        .containsExactly(r.newRootSerial(), oldRoot);

    // After the overlap, only the new root.
    clock.now = r.oldRootTrustedUntil().plusSeconds(1);
    CertificateAuthority fourth = CertificateAuthority.loadOrCreate("example.org", dir, clock);
    assertThat(fourth.trustBundle()).extracting(CertificateAuthorityTest::serial).containsExactly(r.newRootSerial());
  }

  @Test
  void aSecondRotationIsRefusedUntilTheFirstOverlapHasEnded() throws Exception {
    TestClock clock = new TestClock();
    CertificateAuthority ca = CertificateAuthority.loadOrCreate("example.org", dir, clock);
    CertificateAuthority.Rotation r = ca.rotate(Duration.ofHours(2));

    assertThatThrownBy(() -> ca.rotate(Duration.ofHours(2))).isInstanceOf(IllegalStateException.class)
        .hasMessage("a rotation is already under way; the new key signs from " + r.switchAt()
            + " and the old root is trusted until " + r.oldRootTrustedUntil());
    // Past the switch the old root is still trusted: a new rotation would drop it at its own switch.
    clock.now = r.switchAt().plusSeconds(1);
    assertThatThrownBy(() -> ca.rotate(Duration.ofHours(2))).isInstanceOf(IllegalStateException.class)
        .hasMessage("a rotation is still under way: the old root is trusted until " + r.oldRootTrustedUntil());

    clock.now = r.oldRootTrustedUntil().plusSeconds(1);
    assertThat(ca.rotate(Duration.ofHours(2)).newRootSerial()).isNotEqualTo(r.newRootSerial());
  }

  static final String CATALOG = "spiffe://example.org/service/catalog";
  static final String PAYMENTS = "spiffe://example.org/service/payments";
  static final String NAMES = " (expected: no names, or exactly [uri:" + CATALOG
      + "]; the CA issues the service's own SPIFFE ID only)";

  /** A CSR for a new key asking for {@code extensions}. */
  static byte[] csr(ExtensionsGenerator extensions) throws Exception {
    KeyPair pair = CertificateRequests.newKeyPair();
    return new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=catalog"), pair.getPublic())
        .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate())
        .build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate())).getEncoded();
  }

  static ExtensionsGenerator names(GeneralName... names) throws Exception {
    ExtensionsGenerator g = new ExtensionsGenerator();
    g.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
    return g;
  }

  static GeneralName uri(String uri) {
    return new GeneralName(GeneralName.uniformResourceIdentifier, uri);
  }

  static Stream<Arguments> refusedRequests() throws Exception {
    ExtensionsGenerator ca = new ExtensionsGenerator();
    ca.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    ExtensionsGenerator certSign = new ExtensionsGenerator();
    certSign.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyCertSign));
    return Stream.of(
        Arguments.of("another service's ID", names(uri(PAYMENTS)), "csr: subjectAltName: [uri:" + PAYMENTS + "]" + NAMES),
        Arguments.of("several SPIFFE IDs", names(uri(CATALOG), uri(PAYMENTS)),
            "csr: subjectAltName: [uri:" + CATALOG + ", uri:" + PAYMENTS + "]" + NAMES),
        Arguments.of("its own ID twice", names(uri(CATALOG), uri(CATALOG)),
            "csr: subjectAltName: [uri:" + CATALOG + ", uri:" + CATALOG + "]" + NAMES),
        Arguments.of("a DNS name besides its ID", names(uri(CATALOG), new GeneralName(GeneralName.dNSName, "catalog")),
            "csr: subjectAltName: [uri:" + CATALOG + ", dns:catalog]" + NAMES),
        Arguments.of("another trust domain", names(uri("spiffe://evil.org/service/catalog")),
            "csr: subjectAltName: [uri:spiffe://evil.org/service/catalog]" + NAMES),
        Arguments.of("a name made to break a log line", names(uri(CATALOG + "\nWARN forged " + "x".repeat(200))),
            "csr: subjectAltName: [uri:" + CATALOG + "\\u000aWARN forged " + "x".repeat(46) + "...]" + NAMES),
        Arguments.of("cA=true", ca,
            "csr: basicConstraints: cA=true (expected: cA=false or none; the CA issues workload certificates only)"),
        Arguments.of("keyCertSign", certSign,
            "csr: keyUsage: keyCertSign (expected: neither keyCertSign nor cRLSign; the CA issues workload "
                + "certificates only)"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refusedRequests")
  void aCsrAskingForMoreThanItsOwnIdIsRefused(String what, ExtensionsGenerator extensions, String message)
      throws Exception {
    CertificateAuthority ca = CertificateAuthority.loadOrCreate("example.org", null, Clock.systemUTC());
    assertThat(catchThrowable(() -> ca.sign("catalog", csr(extensions), Duration.ofHours(1))))
        .isInstanceOf(CertificateAuthority.RefusedException.class).hasMessage(message);
  }

  @Test
  void aSecondExtensionRequestCannotHideBehindTheFirst() throws Exception {
    CertificateAuthority ca = CertificateAuthority.loadOrCreate("example.org", null, Clock.systemUTC());
    KeyPair pair = CertificateRequests.newKeyPair();
    ExtensionsGenerator caPowers = new ExtensionsGenerator();
    caPowers.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    byte[] twoAttributes = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=catalog"), pair.getPublic())
        .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, names(uri(CATALOG)).generate())
        .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, names(uri(PAYMENTS)).generate())
        .build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate())).getEncoded();
    byte[] twoValues = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=catalog"), pair.getPublic())
        .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, new org.bouncycastle.asn1.ASN1Encodable[] {
            names(uri(CATALOG)).generate(), caPowers.generate()})
        .build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate())).getEncoded();

    assertThat(catchThrowable(() -> ca.sign("catalog", twoAttributes, Duration.ofHours(1))))
        .isInstanceOf(CertificateAuthority.RefusedException.class)
        .hasMessage("csr: extensionRequest: 2 attributes with 2 values (expected: at most one, with one value)");
    assertThat(catchThrowable(() -> ca.sign("catalog", twoValues, Duration.ofHours(1))))
        .isInstanceOf(CertificateAuthority.RefusedException.class)
        .hasMessage("csr: extensionRequest: 1 attributes with 2 values (expected: at most one, with one value)");
  }

  @Test
  void aCsrAskingForExactlyItsOwnIdOrNothingIsSigned() throws Exception {
    CertificateAuthority ca = CertificateAuthority.loadOrCreate("example.org", null, Clock.systemUTC());
    X509Certificate asked = ca.sign("catalog", csr(names(uri(CATALOG))), Duration.ofHours(1));
    assertThat(asked.getSubjectAlternativeNames()).extracting(san -> (Object) san.get(1)).containsExactly(CATALOG);
    X509Certificate ours = ca.sign("catalog", CertificateRequests.csr(CertificateRequests.newKeyPair(), "catalog"),
        Duration.ofHours(1));
    assertThat(ours.getSubjectAlternativeNames()).extracting(san -> (Object) san.get(1)).containsExactly(CATALOG);
  }
}
