package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.controlplane.internal.ca.CertificateAuthority;
import io.meshlet.identity.CertificateRequests;
import io.meshlet.identity.FileIdentitySource;
import io.meshlet.identity.WorkloadIdentity;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The workload identity read from files an outside issuer keeps fresh (SPIRE, cert-manager style). */
class FileIdentitySourceTest {

  @TempDir Path dir;
  CertificateAuthority ca;
  FileIdentitySource source;

  @BeforeEach
  void setUp() throws Exception {
    ca = CertificateAuthority.loadOrCreate("example.org", null, Clock.systemUTC());
  }

  @AfterEach
  void tearDown() {
    if (source != null) {
      source.close();
    }
  }

  static String pem(Object o) throws Exception {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      w.writeObject(o);
    }
    return out.toString();
  }

  X509Certificate issue(KeyPair pair, String service, Duration ttl) throws Exception {
    return ca.sign(service, CertificateRequests.csr(pair, service), ttl);
  }

  void write(X509Certificate cert, KeyPair pair) throws Exception {
    Files.writeString(dir.resolve("svid.pem"), pem(cert));
    Files.writeString(dir.resolve("svid_key.pem"), pem(new JcaPKCS8Generator(pair.getPrivate(), null)));
    Files.writeString(dir.resolve("bundle.pem"), pem(ca.root()));
  }

  FileIdentitySource start() {
    source = new FileIdentitySource(dir.resolve("svid.pem"), dir.resolve("svid_key.pem"), dir.resolve("bundle.pem"),
        Clock.systemUTC());
    return source.start(Duration.ofHours(1));
  }

  @Test
  void readsTheFilesAndFollowsARotation() throws Exception {
    KeyPair first = CertificateRequests.newKeyPair();
    write(issue(first, "catalog", Duration.ofHours(1)), first);
    WorkloadIdentity id = start().current();
    assertThat(id.spiffeId()).isEqualTo("spiffe://example.org/service/catalog");
    assertThat(id.privateKey()).isEqualTo(first.getPrivate());
    assertThat(id.trustBundle()).containsExactly(ca.root());

    KeyPair second = CertificateRequests.newKeyPair();
    X509Certificate rotated = issue(second, "catalog", Duration.ofHours(1));
    write(rotated, second);
    source.reload();
    assertThat(source.current().chain().get(0)).isEqualTo(rotated);
    assertThat(source.current().privateKey()).isEqualTo(second.getPrivate());
  }

  @Test
  void refusesAKeyThatDoesNotMatchAndKeepsTheLastGoodIdentity() throws Exception {
    KeyPair good = CertificateRequests.newKeyPair();
    X509Certificate cert = issue(good, "catalog", Duration.ofHours(1));
    write(cert, good);
    start();
    // Half-written rotation: a new key next to the old certificate.
    Files.writeString(dir.resolve("svid_key.pem"),
        pem(new JcaPKCS8Generator(CertificateRequests.newKeyPair().getPrivate(), null)));
    source.reload();
    assertThat(source.current().chain().get(0)).isEqualTo(cert);
    assertThat(source.current().privateKey()).isEqualTo(good.getPrivate());
  }

  @Test
  void refusesExpiredCertificatesAndCertificatesWithoutOneSpiffeId() throws Exception {
    KeyPair pair = CertificateRequests.newKeyPair();
    write(issue(pair, "catalog", Duration.ofSeconds(-30)), pair);
    assertThat(start().current()).as("an expired certificate is not used").isNull();

    // The CA's own root has a trust-domain SPIFFE ID but is not a workload certificate with a
    // key we hold: refused either way.
    Files.writeString(dir.resolve("svid.pem"), "not a certificate");
    source.reload();
    assertThat(source.current()).isNull();

    write(issue(pair, "catalog", Duration.ofHours(1)), pair);
    source.reload();
    assertThat(source.current()).isNotNull();
  }
}
