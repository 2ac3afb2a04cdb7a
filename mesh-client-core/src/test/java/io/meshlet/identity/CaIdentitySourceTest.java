package io.meshlet.identity;

import io.meshlet.internal.spiffe.ControlPlaneTls;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.meshlet.identity.TestPki.Profile;
import io.meshlet.identity.v1.IdentityServiceGrpc;
import io.meshlet.identity.v1.SignRequest;
import io.meshlet.identity.v1.SignResponse;
import java.net.InetSocketAddress;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * A certificate from the CA that is not a well-formed SVID for the key just made (a CA
 * certificate, another key, two SPIFFE IDs, the wrong key usage) is refused like a failed request:
 * logged with the reason, retried, and the current identity kept. The CA here is a fake that
 * answers each request with the next certificate of a script.
 */
class CaIdentitySourceTest {

  static final TestPki PKI = new TestPki("example.org");
  static final String CATALOG = PKI.spiffeId("catalog");

  /** What the fake CA answers, in order; the last answer repeats. */
  final BlockingQueue<String> script = new LinkedBlockingQueue<>();
  final List<X509Certificate> issued = new CopyOnWriteArrayList<>();
  final CountDownLatch requests = new CountDownLatch(6);
  Server server;
  java.nio.file.Path trustBundle;
  ListAppender<ILoggingEvent> logs;
  final Logger logger = (Logger) LoggerFactory.getLogger(CaIdentitySource.class);

  @BeforeEach
  void start() throws Exception {
    logs = new ListAppender<>();
    logs.start();
    logger.setLevel(Level.INFO);
    logger.setAdditive(false);
    logger.addAppender(logs);
    WorkloadIdentity serverId = PKI.identity(Profile.svid(ControlPlaneTls.controlServerId("example.org")), 1);
    trustBundle = java.nio.file.Files.createTempFile("ca-identity-test", ".pem");
    java.nio.file.Files.writeString(trustBundle, "-----BEGIN CERTIFICATE-----\n"
        + java.util.Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(PKI.root.certificate().getEncoded())
        + "\n-----END CERTIFICATE-----\n");
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
            io.grpc.TlsServerCredentials.newBuilder().keyManager(SpiffeTls.keyManager(() -> serverId)).build())
        .addService(new IdentityServiceGrpc.IdentityServiceImplBase() {
          @Override
          public void sign(SignRequest request, StreamObserver<SignResponse> response) {
            try {
              PublicKey key = new JcaPKCS10CertificationRequest(request.getCsrDer().toByteArray()).getPublicKey();
              String answer = script.size() > 1 ? script.take() : script.peek();
              X509Certificate cert = switch (answer) {
                case "good" -> PKI.certify(Profile.svid(CATALOG), key, Duration.ofSeconds(2));
                case "ca" -> PKI.certify(Profile.svid(CATALOG).withCa(true), key, Duration.ofHours(1));
                case "other key" -> PKI.identity("catalog").chain().get(0);
                case "two ids" -> PKI.certify(Profile.svid(CATALOG).withUris(CATALOG, PKI.spiffeId("payments")),
                    key, Duration.ofHours(1));
                case "keyCertSign" -> PKI.certify(Profile.svid(CATALOG).withKeyUsage(KeyUsage.keyCertSign), key,
                    Duration.ofHours(1));
                default -> throw new IllegalStateException(answer);
              };
              issued.add(cert);
              response.onNext(SignResponse.newBuilder().setSpiffeId(CATALOG)
                  .addCertificateChainDer(ByteString.copyFrom(cert.getEncoded()))
                  .addTrustBundleDer(ByteString.copyFrom(PKI.root.certificate().getEncoded())).build());
              response.onCompleted();
            } catch (Exception e) {
              response.onError(e);
            } finally {
              requests.countDown();
            }
          }
        }).build().start();
  }

  @AfterEach
  void stop() {
    logger.detachAppender(logs);
    logger.setLevel(null);
    logger.setAdditive(true);
    server.shutdownNow();
    trustBundle.toFile().delete();
  }

  List<String> warnings() {
    while (true) {
      try {
        // The renewal thread may still be logging its last attempt after close.
        return new java.util.ArrayList<>(logs.list).stream().filter(e -> e.getLevel() == Level.WARN)
            .map(ILoggingEvent::getFormattedMessage).toList();
      } catch (java.util.ConcurrentModificationException e) {
        Thread.onSpinWait();
      }
    }
  }

  @Test
  void aMalformedCertificateFromTheCaIsRefusedAndTheCurrentOneKept() throws Exception {
    script.addAll(List.of("ca", "other key", "good", "two ids", "keyCertSign"));
    List<WorkloadIdentity> seen = new CopyOnWriteArrayList<>();
    try (CaIdentitySource source = CaIdentitySource.builder().service("catalog").joinToken("token-0123456789abcdef")
        .controlServers("127.0.0.1:" + server.getPort()).controlServerTrust(trustBundle).minRetry(Duration.ofMillis(10)).build()) {
      source.addListener(seen::add);
      source.start();
      WorkloadIdentity first = source.awaitIdentity(Duration.ofSeconds(20));
      assertThat(first.chain()).containsExactly(issued.get(2));

      // The 2 s certificate is renewed after 1 s; the renewals get bad certificates.
      assertThat(requests.await(30, TimeUnit.SECONDS)).as("six requests").isTrue();
      assertThat(source.current()).isSameAs(first);
      assertThat(seen).containsExactly(first);
    }
    String server = "certificate request to 127.0.0.1:" + this.server.getPort() + " failed (";
    List<String> warnings = warnings();
    assertThat(warnings.get(0)).startsWith("[catalog] " + server + "certificate for " + CATALOG
        + ": basicConstraints: cA=true (expected: cA=false, a workload certificate is not a CA)); no certificate yet");
    assertThat(warnings.get(1)).startsWith("[catalog] " + server + "certificate for " + CATALOG
        + " carries another public key (expected: the key of this request's CSR)); no certificate yet");
    assertThat(warnings.get(2)).startsWith("[catalog] " + server + "certificate has 2 SPIFFE IDs [" + CATALOG + ", "
        + PKI.spiffeId("payments") + "] (expected: exactly one)); keeping the current one until ");
    assertThat(warnings.get(3)).startsWith("[catalog] " + server + "certificate for " + CATALOG
        + ": keyUsage: [keyCertSign] (expected: digitalSignature, and neither keyCertSign nor cRLSign)); "
        + "keeping the current one until ");
  }
}
