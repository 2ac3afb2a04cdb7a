package io.meshlet.identity;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.meshlet.identity.TestPki.Issued;
import io.meshlet.identity.TestPki.Profile;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

/**
 * Identity files that are not a well-formed SVID (several SPIFFE IDs, the wrong key usage, a CA
 * certificate, too long a chain) are refused with the file named and the reason, and the last
 * good identity stays in use. The happy path and key mismatches are in the control server's
 * {@code FileIdentitySourceTest}, with certificates from the real CA.
 */
class FileIdentitySourceTest {

  static final TestPki PKI = new TestPki("example.org");
  static final String CATALOG = PKI.spiffeId("catalog");

  @TempDir Path dir;
  FileIdentitySource source;
  ListAppender<ILoggingEvent> logs;
  Logger logger = (Logger) LoggerFactory.getLogger(FileIdentitySource.class);

  @BeforeEach
  void capture() {
    logs = new ListAppender<>();
    logs.start();
    // Only to the list: the console stays quiet (logback-test.xml, root at ERROR).
    logger.setLevel(Level.INFO);
    logger.setAdditive(false);
    logger.addAppender(logs);
  }

  @AfterEach
  void tearDown() {
    logger.detachAppender(logs);
    logger.setLevel(null);
    logger.setAdditive(true);
    if (source != null) {
      source.close();
    }
  }

  static String pem(Object... objects) throws Exception {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      for (Object o : objects) {
        w.writeObject(o);
      }
    }
    return out.toString();
  }

  void write(List<Issued> chain) throws Exception {
    Files.writeString(dir.resolve("svid.pem"), pem(chain.stream().map(Issued::certificate).toArray()));
    Files.writeString(dir.resolve("svid_key.pem"), pem(new JcaPKCS8Generator(chain.get(0).keys().getPrivate(), null)));
    Files.writeString(dir.resolve("bundle.pem"), pem(PKI.root.certificate()));
  }

  static Stream<Arguments> badFiles() {
    Profile svid = Profile.svid(CATALOG);
    String other = PKI.spiffeId("payments");
    String keyUsage = " (expected: digitalSignature, and neither keyCertSign nor cRLSign)";
    return Stream.of(
        Arguments.of("two SPIFFE IDs", svid.withUris(CATALOG, other), 1,
            "certificate has 2 SPIFFE IDs [" + CATALOG + ", " + other + "] (expected: exactly one)"),
        Arguments.of("keyUsage keyCertSign only", svid.withKeyUsage(KeyUsage.keyCertSign), 1,
            "certificate for " + CATALOG + ": keyUsage: [keyCertSign]" + keyUsage),
        Arguments.of("a CA", svid.withCa(true), 1, "certificate for " + CATALOG
            + ": basicConstraints: cA=true (expected: cA=false, a workload certificate is not a CA)"),
        Arguments.of("a chain of 7", svid, 7,
            "chain of 7 certificates (expected: at most 5, the workload certificate and its intermediates)"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badFiles")
  void aMalformedSvidIsRefusedWithTheFileNamedAndTheLastGoodOneKept(String what, Profile profile, int length,
      String reason) throws Exception {
    List<Issued> good = PKI.chain(Profile.svid(CATALOG), 2);
    write(good);
    source = new FileIdentitySource(dir.resolve("svid.pem"), dir.resolve("svid_key.pem"), dir.resolve("bundle.pem"),
        Clock.systemUTC()).start(Duration.ofHours(1));
    WorkloadIdentity before = source.current();
    assertThat(before).isNotNull();
    assertThat(before.chain().get(0)).isEqualTo(good.get(0).certificate());

    write(PKI.chain(profile, length));
    source.reload();

    assertThat(source.current()).isSameAs(before);
    assertThat(logs.list).extracting(ILoggingEvent::getFormattedMessage)
        .containsExactly("identity from files: " + before,
            "refused identity files: " + dir.resolve("svid.pem") + ": " + reason + "; keeping " + before);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badFiles")
  void aMalformedSvidIsNeverUsedEvenFirst(String what, Profile profile, int length, String reason) throws Exception {
    write(PKI.chain(profile, length));
    source = new FileIdentitySource(dir.resolve("svid.pem"), dir.resolve("svid_key.pem"), dir.resolve("bundle.pem"),
        Clock.systemUTC()).start(Duration.ofHours(1));
    assertThat(source.current()).isNull();
    assertThat(logs.list).extracting(ILoggingEvent::getFormattedMessage)
        .containsExactly("refused identity files: " + dir.resolve("svid.pem") + ": " + reason + "; no identity yet");
  }
}
