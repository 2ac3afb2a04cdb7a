package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.meshlet.controlplane.internal.ca.CertificateAuthority;
import io.meshlet.controlplane.internal.source.EtcdStore;
import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.EtcdCluster;
import io.meshlet.identity.CertificateRequests;
import io.meshlet.identity.ControlPlaneTls;
import io.meshlet.identity.v1.IdentityServiceGrpc;
import io.meshlet.identity.v1.SignRequest;
import io.meshlet.identity.v1.SignResponse;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One trust root across replicas over a real etcd: replicas given the same key-encryption key sign
 * with one CA kept sealed in etcd and follow a rotation made on any of them; a replica whose root
 * differs refuses to start and writes nothing; replicas without a key-encryption key are checked
 * against the roots in etcd and cannot rotate.
 */
class EtcdCaIT {

  static final String TOKEN = "catalog-token-0123456789";
  static final String MESH = """
      trustDomain: example.org
      mtls: { mode: strict, certTtl: 1h }
      services:
        catalog: { endpoints: [ { address: 127.0.0.1:9001 } ] }
      """;

  @TempDir static Path dir;
  static EtcdCluster etcd;
  static Path kek;
  static Path mesh;
  static ControlServer a;
  static ControlServer b;

  @BeforeAll
  static void start() throws Exception {
    etcd = EtcdCluster.start(1);
    mesh = Files.writeString(dir.resolve("mesh.yaml"), MESH);
    kek = newKeyFile("kek.b64");
    a = replica(dir.resolve("ca-a"), kek).start();
    b = replica(dir.resolve("ca-b"), kek).start();
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(a, b, etcd);
  }

  static Path newKeyFile(String name) throws Exception {
    byte[] key = new byte[32];
    new SecureRandom().nextBytes(key);
    Path file = Files.writeString(dir.resolve(name), Base64.getEncoder().encodeToString(key) + "\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    return file;
  }

  static ControlServer replica(Path caDir, Path keyFile) {
    ControlServer.Builder builder = ControlServer.builder().etcd(etcd.endpointList()).configFile(mesh)
        .caDirectory(caDir).xdsPort(0).adminPort(0).joinTokens(Map.of("catalog", TOKEN));
    return (keyFile == null ? builder : builder.caKeyEncryptionKeyFile(keyFile)).build();
  }

  @Test
  void aCertificateFromReplicaAIsTrustedByAClientCheckingAgainstReplicaBsTrustBundle() throws Exception {
    X509Certificate fromA = sign(a);
    X509Certificate fromB = sign(b);

    Await.until("the same trust bundle file on both replicas", Duration.ofSeconds(10),
        () -> read(bundle(a)).equals(read(bundle(b))));
    validate(fromA, bundle(b));
    validate(fromB, bundle(a));
    assertThat(new AdminClient(b.adminPort()).json("/healthz").path("ca").asText())
        .startsWith("shared through etcd /meshlet/ca (keys sealed with key-encryption key ");
  }

  @Test
  void etcdHoldsTheRootsInTheClearAndTheKeysOnlySealed() throws Exception {
    String value;
    try (EtcdStore store = new EtcdStore(etcd.endpointList(), EtcdStore.DEFAULT_PREFIX)) {
      value = store.readCa().orElseThrow().value();
    }
    assertThat(value).doesNotContain("PRIVATE KEY").contains("BEGIN CERTIFICATE");
    JsonNode json = new ObjectMapper().readTree(value);
    assertThat(json.path("format").asText()).isEqualTo("meshlet-ca/1");
    assertThat(json.path("sealed").path("algorithm").asText()).isEqualTo("AES-256-GCM");
    byte[] nonce = Base64.getDecoder().decode(json.path("sealed").path("nonce").asText());
    byte[] ciphertext = Base64.getDecoder().decode(json.path("sealed").path("ciphertext").asText());
    assertThat(new String(ciphertext, StandardCharsets.ISO_8859_1)).doesNotContain("PRIVATE KEY");
    byte[] aad = "meshlet-ca/1\n/meshlet/ca\nexample.org".getBytes(StandardCharsets.UTF_8);

    byte[] otherKey = new byte[32];
    new SecureRandom().nextBytes(otherKey);
    assertThat(catchThrowable(() -> open(otherKey, nonce, ciphertext, aad))).isInstanceOf(AEADBadTagException.class);
    byte[] right = Base64.getDecoder().decode(Files.readString(kek).strip());
    assertThat(new String(open(right, nonce, ciphertext, aad), StandardCharsets.UTF_8)).contains("PRIVATE KEY");
  }

  @Test
  void aReplicaWhoseCaDirectoryHoldsAnotherRootRefusesToStartAndWritesNothing() throws Exception {
    Path other = dir.resolve("ca-other");
    CertificateAuthority stranger = CertificateAuthority.loadOrCreate("example.org", other, Clock.systemUTC());
    String serial = stranger.root().getSerialNumber().toString(16);
    Snapshot before = Snapshot.read();

    Output run = main("serve", "--etcd", etcd.endpoints(), "--config", mesh.toString(), "--ca-dir", other.toString(),
        "--ca-key-encryption-key", kek.toString(), "--xds-port", "0", "--admin-port", "0");

    assertThat(run.code()).isEqualTo(Main.FAILED);
    assertThat(run.err()).startsWith("cannot start: --ca-dir " + other + " holds a CA with root serial " + serial
        + " (sha256 " + CertificateAuthority.fingerprint(stranger.root()).substring(0, 16) + "), which is not the "
        + "mesh's: etcd /meshlet/ca holds the CA every replica signs with, roots [")
        .contains("(expected: the same CA on every replica; remove ca.key, ca.crt, next.key, next.crt, previous.crt "
            + "and rotation.properties from " + other + " to take the CA from etcd)");
    assertThat(Snapshot.read()).isEqualTo(before);
  }

  @Test
  void aReplicaWithAnotherKeyEncryptionKeyRefusesToStartAndWritesNothing() throws Exception {
    Path wrong = newKeyFile("wrong.b64");
    Snapshot before = Snapshot.read();

    Output run = main("serve", "--etcd", etcd.endpoints(), "--ca-dir", dir.resolve("ca-wrong").toString(),
        "--ca-key-encryption-key", wrong.toString(), "--xds-port", "0", "--admin-port", "0");

    assertThat(run.code()).isEqualTo(Main.FAILED);
    assertThat(run.err()).matches("cannot start: etcd /meshlet/ca holds the CA's keys sealed with key-encryption "
        + "key [0-9a-f]{16}, but --ca-key-encryption-key " + java.util.regex.Pattern.quote(wrong.toString())
        + " is key [0-9a-f]{16} \\(expected: the same key file on every replica: the one the replicas serving now "
        + "were started with\\)\\R");
    assertThat(Snapshot.read()).isEqualTo(before);
  }

  @Test
  void aRotationOnReplicaAShowsUpInReplicaBsTrustBundleFile() throws Exception {
    List<X509Certificate> before = certificates(bundle(b));
    assertThat(before).hasSize(1);

    HttpResponse<String> r = post(a.adminPort(), "/ca/rotate?overlap=2h");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
    String newSerial = new ObjectMapper().readTree(r.body()).path("newRootSerial").asText();

    Await.until("the new root in replica B's trust bundle file", Duration.ofSeconds(10),
        () -> serials(bundle(b)).contains(newSerial));
    assertThat(certificates(bundle(b))).hasSize(2).containsAll(before);
    Await.until("the same trust bundle file on both replicas", Duration.ofSeconds(10),
        () -> read(bundle(a)).equals(read(bundle(b))));
    // One rotation at a time, across the replicas: B refuses another while A's overlap lasts.
    assertThat(post(b.adminPort(), "/ca/rotate?overlap=2h").statusCode()).isEqualTo(409);
    // B signs with the old key still, and A's clients trust what it signs.
    validate(sign(b), bundle(a));
  }

  @Test
  void replicasWithoutAKeyEncryptionKeyMustHoldTheSameCaAndCannotRotate() throws Exception {
    String prefix = "/roots-only/";
    Path first = dir.resolve("roots-only-1");
    Path same = dir.resolve("roots-only-2");
    ControlServer one = null;
    ControlServer two = null;
    try {
      one = ControlServer.builder().etcd(etcd.endpointList()).etcdPrefix(prefix).configFile(mesh)
          .caDirectory(first).xdsPort(0).adminPort(0).build().start();
      Files.createDirectories(same);
      Files.copy(first.resolve("ca.key"), same.resolve("ca.key"));
      Files.copy(first.resolve("ca.crt"), same.resolve("ca.crt"));
      two = ControlServer.builder().etcd(etcd.endpointList()).etcdPrefix(prefix).caDirectory(same).xdsPort(0)
          .adminPort(0).build().start();
      assertThat(Files.readString(two.trustBundleFile().orElseThrow()))
          .isEqualTo(Files.readString(one.trustBundleFile().orElseThrow()));

      Path other = dir.resolve("roots-only-other");
      CertificateAuthority stranger = CertificateAuthority.loadOrCreate("example.org", other, Clock.systemUTC());
      Output run = main("serve", "--etcd", etcd.endpoints(), "--etcd-prefix", prefix, "--ca-dir", other.toString(),
          "--xds-port", "0", "--admin-port", "0");
      assertThat(run.code()).isEqualTo(Main.FAILED);
      assertThat(run.err()).isEqualTo("cannot start: --ca-dir " + other + " holds CA roots [serial "
          + stranger.root().getSerialNumber().toString(16) + " (sha256 "
          + CertificateAuthority.fingerprint(stranger.root()).substring(0, 16) + ")], but etcd " + prefix
          + "ca lists [" + describe(certificates(one.trustBundleFile().orElseThrow()).get(0)) + "], the roots the "
          + "other replicas sign with (expected: the same CA on every replica: copy ca.key and ca.crt from a "
          + "replica that serves into " + other + ", or start every replica with the same --ca-key-encryption-key "
          + "FILE to share the CA through etcd)" + System.lineSeparator());

      HttpResponse<String> rotate = post(one.adminPort(), "/ca/rotate?overlap=2h");
      assertThat(rotate.statusCode()).isEqualTo(409);
      assertThat(new ObjectMapper().readTree(rotate.body()).path("error").asText()).isEqualTo("a CA rotation over "
          + "etcd needs --ca-key-encryption-key: this replica's key is in --ca-dir only, and the other replicas "
          + "could not follow it (expected: start every replica with the same --ca-key-encryption-key FILE, which "
          + "shares the CA through etcd)");
      assertThat(Files.readString(one.trustBundleFile().orElseThrow()))
          .isEqualTo(Files.readString(two.trustBundleFile().orElseThrow()));
    } finally {
      Closeables.closeAll(one, two);
    }
  }

  // ---- helpers ----

  static String describe(X509Certificate root) {
    return "serial " + root.getSerialNumber().toString(16) + " (sha256 "
        + CertificateAuthority.fingerprint(root).substring(0, 16) + ")";
  }

  /** Everything under the etcd prefixes this test uses, with the revision: to show nothing was written. */
  record Snapshot(long revision, String ca) {
    static Snapshot read() throws Exception {
      try (EtcdStore store = new EtcdStore(etcd.endpointList(), EtcdStore.DEFAULT_PREFIX)) {
        EtcdStore.Contents c = store.readAll();
        return new Snapshot(c.revision(), c.ca().map(EtcdStore.Stored::value).orElse(null));
      }
    }
  }

  record Output(int code, String err) {}

  static Output main(String... args) {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.run(args, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Output(code, err.toString(StandardCharsets.UTF_8));
  }

  static Path bundle(ControlServer server) {
    return server.trustBundleFile().orElseThrow();
  }

  static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (java.io.IOException e) {
      return "";
    }
  }

  static List<X509Certificate> certificates(Path pem) throws Exception {
    return CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(Files.readAllBytes(pem)))
        .stream().map(X509Certificate.class::cast).toList();
  }

  static Set<String> serials(Path pem) {
    try {
      return certificates(pem).stream().map(c -> c.getSerialNumber().toString(16)).collect(Collectors.toSet());
    } catch (Exception e) {
      return Set.of(); // being replaced right now: read again
    }
  }

  /** Validates a workload certificate against a trust bundle file, as a TLS peer would (PKIX). */
  static void validate(X509Certificate leaf, Path bundle) throws Exception {
    Set<TrustAnchor> anchors = certificates(bundle).stream().map(c -> new TrustAnchor(c, null))
        .collect(Collectors.toSet());
    PKIXParameters params = new PKIXParameters(anchors);
    params.setRevocationEnabled(false);
    CertPathValidator.getInstance("PKIX").validate(
        CertificateFactory.getInstance("X.509").generateCertPath(List.of(leaf)), params);
  }

  /** A certificate for catalog from a replica's CA, over TLS checked against that replica's bundle. */
  static X509Certificate sign(ControlServer server) throws Exception {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.xdsPort(),
        ControlPlaneTls.channelCredentials(bundle(server), null)).build();
    try {
      SignResponse r = IdentityServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
          .sign(SignRequest.newBuilder().setService("catalog").setJoinToken(TOKEN)
              .setCsrDer(ByteString.copyFrom(CertificateRequests.csr(CertificateRequests.newKeyPair(), "catalog")))
              .build());
      return (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(r.getCertificateChainDer(0).toByteArray()));
    } finally {
      channel.shutdownNow();
    }
  }

  static byte[] open(byte[] key, byte[] nonce, byte[] ciphertext, byte[] aad) throws Exception {
    Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
    c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
    c.updateAAD(aad);
    return c.doFinal(ciphertext);
  }

  static HttpResponse<String> post(int port, String path) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .POST(HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
