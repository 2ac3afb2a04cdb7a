package io.meshlet.identity;

import io.meshlet.internal.spiffe.SvidRules;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.meshlet.identity.TestPki.Issued;
import io.meshlet.identity.TestPki.Profile;
import java.io.IOException;
import java.net.InetAddress;
import java.net.SocketTimeoutException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The SVID rules of {@link SpiffeTls#trustManager}: a peer with several SPIFFE IDs, the wrong key
 * usage, a CA certificate or too long a chain is refused with a message naming the problem, by the
 * trust manager itself and in a real TLS handshake on loopback; a well-formed peer is accepted.
 */
class SpiffeTlsTest {

  static final TestPki PKI = new TestPki("example.org");
  static final String FRONTEND = PKI.spiffeId("frontend");
  static final WorkloadIdentity CATALOG = PKI.identity("catalog");

  final ExecutorService threads = Executors.newCachedThreadPool();

  @AfterEach
  void stop() {
    threads.shutdownNow();
  }

  static X509Certificate[] certificates(List<Issued> chain) {
    return chain.stream().map(Issued::certificate).toArray(X509Certificate[]::new);
  }

  static X509ExtendedTrustManager trustManager() {
    return SpiffeTls.trustManager(() -> CATALOG, SpiffeTls.allowAny());
  }

  /** A peer's chain, how it is wrong, and the exact refusal. */
  static Stream<Arguments> badPeers() {
    Profile svid = Profile.svid(FRONTEND);
    String other = PKI.spiffeId("payments");
    return Stream.of(
        Arguments.of("two SPIFFE IDs", svid.withUris(FRONTEND, other), 1,
            "peer certificate has 2 SPIFFE IDs [" + FRONTEND + ", " + other + "] (expected: exactly one)"),
        Arguments.of("no SPIFFE ID", svid.withUris("https://frontend.example.org"), 1,
            "peer certificate has 0 SPIFFE IDs [] (expected: exactly one)"),
        Arguments.of("keyUsage keyCertSign only", svid.withKeyUsage(KeyUsage.keyCertSign), 1,
            "peer certificate for " + FRONTEND + ": keyUsage: [keyCertSign] "
                + "(expected: digitalSignature, and neither keyCertSign nor cRLSign)"),
        Arguments.of("keyUsage without digitalSignature", svid.withKeyUsage(KeyUsage.keyEncipherment), 1,
            "peer certificate for " + FRONTEND + ": keyUsage: [keyEncipherment] "
                + "(expected: digitalSignature, and neither keyCertSign nor cRLSign)"),
        Arguments.of("keyUsage cRLSign besides digitalSignature",
            svid.withKeyUsage(KeyUsage.digitalSignature | KeyUsage.cRLSign), 1,
            "peer certificate for " + FRONTEND + ": keyUsage: [digitalSignature, cRLSign] "
                + "(expected: digitalSignature, and neither keyCertSign nor cRLSign)"),
        Arguments.of("a CA", svid.withCa(true).withKeyUsage(KeyUsage.digitalSignature | KeyUsage.keyCertSign), 1,
            "peer certificate for " + FRONTEND + ": basicConstraints: cA=true "
                + "(expected: cA=false, a workload certificate is not a CA)"),
        Arguments.of("a chain of 7", svid, 7,
            "peer chain of 7 certificates (expected: at most 5, the workload certificate and its intermediates)"),
        Arguments.of("a chain of 6", svid, 6,
            "peer chain of 6 certificates (expected: at most 5, the workload certificate and its intermediates)"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badPeers")
  void theTrustManagerRefusesAMalformedSvid(String what, Profile profile, int length, String message) {
    X509Certificate[] chain = certificates(PKI.chain(profile, length));
    assertThat(catchThrowable(() -> trustManager().checkClientTrusted(chain, "EC")))
        .isInstanceOf(CertificateException.class).hasMessage(message);
    assertThat(catchThrowable(() -> trustManager().checkServerTrusted(chain, "EC")))
        .isInstanceOf(CertificateException.class).hasMessage(message);
  }

  @Test
  void theTrustManagerAcceptsAWellFormedSvidWithUpToFourIntermediates() {
    for (int length = 1; length <= SvidRules.MAX_CHAIN; length++) {
      X509Certificate[] chain = certificates(PKI.chain(Profile.svid(FRONTEND), length));
      assertThatCode(() -> trustManager().checkClientTrusted(chain, "EC")).as("chain of %d", length)
          .doesNotThrowAnyException();
    }
    // keyUsage is optional; when absent nothing is refused for it.
    X509Certificate[] noKeyUsage = certificates(PKI.chain(Profile.svid(FRONTEND).withKeyUsage(-1), 1));
    assertThatCode(() -> trustManager().checkServerTrusted(noKeyUsage, "EC")).doesNotThrowAnyException();
  }

  @Test
  void ourOwnIdentityMustBeAWellFormedSvidToo() {
    List<Issued> ca = PKI.chain(Profile.svid(FRONTEND).withCa(true), 1);
    assertThat(catchThrowable(() -> new WorkloadIdentity(FRONTEND, List.of(ca.get(0).certificate()),
        ca.get(0).keys().getPrivate(), List.of(PKI.root.certificate()))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("chain: certificate for " + FRONTEND + ": basicConstraints: cA=true "
            + "(expected: cA=false, a workload certificate is not a CA)");
    WorkloadIdentity good = PKI.identity("frontend");
    assertThat(catchThrowable(() -> new WorkloadIdentity(PKI.spiffeId("payments"), good.chain(),
        good.privateKey(), good.trustBundle())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("spiffeId: " + PKI.spiffeId("payments") + " (expected: the SPIFFE ID of the certificate, "
            + FRONTEND + ")");
  }

  // --- real handshakes on loopback --------------------------------------------------------

  /**
   * A context presenting exactly {@code chain}, whatever its shape (a {@link WorkloadIdentity}
   * refuses malformed ones); it checks its peers as {@link SpiffeTls} does.
   */
  static SSLContext presenting(List<Issued> chain) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    PrivateKey key = chain.get(0).keys().getPrivate();
    store.setKeyEntry("workload", key, "pw".toCharArray(), certificates(chain));
    KeyManagerFactory keys = KeyManagerFactory.getInstance("SunX509");
    keys.init(store, "pw".toCharArray());
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(keys.getKeyManagers(), new TrustManager[] {trustManager()}, null);
    return context;
  }

  /**
   * One handshake from {@code client} to a server using {@link SpiffeTls#context} as catalog,
   * requiring client certificates; the server echoes one byte and reports its peer's SPIFFE ID.
   *
   * @return the server's outcome: the caller's SPIFFE ID, or the handshake's failure
   */
  Object handshake(SSLContext client, Function<SSLSocket, Object> clientSide) throws Exception {
    SSLContext server = SpiffeTls.context(() -> CATALOG, SpiffeTls.allowAny());
    try (SSLServerSocket listener = (SSLServerSocket) server.getServerSocketFactory()
        .createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      listener.setNeedClientAuth(true);
      CompletableFuture<Object> served = CompletableFuture.supplyAsync(() -> {
        try (SSLSocket s = (SSLSocket) listener.accept()) {
          s.setSoTimeout(10_000);
          try {
            s.startHandshake();
            String caller = SpiffeTls.peerSpiffeId(s.getSession()).orElse("none");
            s.getOutputStream().write(s.getInputStream().read());
            s.getOutputStream().flush();
            return caller;
          } catch (IOException e) {
            return e;
          }
        } catch (IOException e) {
          return e;
        }
      }, threads);
      try (SSLSocket s = (SSLSocket) client.getSocketFactory()
          .createSocket(InetAddress.getLoopbackAddress(), listener.getLocalPort())) {
        s.setSoTimeout(10_000);
        assertThat(clientSide.apply(s)).as("the client's side").isNotInstanceOf(SocketTimeoutException.class);
      }
      return served.get(20, TimeUnit.SECONDS);
    }
  }

  /** Handshakes, sends one byte and reads the echo: the byte read (-1 at end of stream), or the failure. */
  static Object echo(SSLSocket s) {
    try {
      s.startHandshake();
      s.getOutputStream().write(42);
      s.getOutputStream().flush();
      return s.getInputStream().read();
    } catch (IOException e) {
      return e;
    }
  }

  @Test
  void aWellFormedClientCertificateCompletesTheHandshake() throws Exception {
    List<Issued> chain = PKI.chain(Profile.svid(FRONTEND), 3);
    Object[] clientSaw = new Object[1];
    Object server = handshake(presenting(chain), s -> clientSaw[0] = echo(s));
    assertThat(server).isEqualTo(FRONTEND);
    assertThat(clientSaw[0]).isEqualTo(42);
  }

  @Test
  void theServerRefusesAClientPresentingACaCertificate() throws Exception {
    List<Issued> chain = PKI.chain(Profile.svid(FRONTEND).withCa(true)
        .withKeyUsage(KeyUsage.digitalSignature | KeyUsage.keyCertSign), 1);
    Object[] clientSaw = new Object[1];
    Object server = handshake(presenting(chain), s -> clientSaw[0] = echo(s));
    assertThat(server).isInstanceOf(IOException.class);
    assertThat((Throwable) server).rootCause().isInstanceOf(CertificateException.class)
        .hasMessage("peer certificate for " + FRONTEND + ": basicConstraints: cA=true "
            + "(expected: cA=false, a workload certificate is not a CA)");
    assertThat(clientSaw[0]).as("no echo: the connection failed").isNotEqualTo(42);
  }

  @Test
  void theServerRefusesAClientPresentingAChainOfSeven() throws Exception {
    List<Issued> chain = PKI.chain(Profile.svid(FRONTEND), 7);
    Object[] clientSaw = new Object[1];
    Object server = handshake(presenting(chain), s -> clientSaw[0] = echo(s));
    assertThat(server).isInstanceOf(IOException.class);
    assertThat((Throwable) server).rootCause().hasMessage(
        "peer chain of 7 certificates (expected: at most 5, the workload certificate and its intermediates)");
    assertThat(clientSaw[0]).isNotEqualTo(42);
  }

  @Test
  void aClientRefusesAServerWithTwoSpiffeIds() throws Exception {
    List<Issued> twoIds = PKI.chain(Profile.svid(PKI.spiffeId("catalog")).withUris(PKI.spiffeId("catalog"), FRONTEND), 1);
    SSLContext server = presenting(twoIds);
    SSLContext client = SpiffeTls.context(() -> PKI.identity("frontend"), SpiffeTls.allowAny());
    try (SSLServerSocket listener = (SSLServerSocket) server.getServerSocketFactory()
        .createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
        try (SSLSocket s = (SSLSocket) listener.accept()) {
          s.setSoTimeout(10_000);
          s.startHandshake();
        } catch (IOException e) {
          // the client hangs up: expected
        }
      }, threads);
      try (SSLSocket s = (SSLSocket) client.getSocketFactory()
          .createSocket(InetAddress.getLoopbackAddress(), listener.getLocalPort())) {
        s.setSoTimeout(10_000);
        assertThat(catchThrowable(s::startHandshake)).isInstanceOf(IOException.class).rootCause()
            .hasMessage("peer certificate has 2 SPIFFE IDs [" + PKI.spiffeId("catalog") + ", " + FRONTEND
                + "] (expected: exactly one)");
      }
      served.get(20, TimeUnit.SECONDS);
    }
  }
}
