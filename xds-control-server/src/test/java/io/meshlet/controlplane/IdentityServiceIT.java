package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.meshlet.internal.spiffe.ControlPlaneTls;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.CertificateRequests;
import io.meshlet.identity.WorkloadIdentity;
import io.meshlet.identity.v1.IdentityServiceGrpc;
import io.meshlet.identity.v1.SignRequest;
import io.meshlet.identity.v1.SignResponse;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The control server's CA over its gRPC identity API: certificates for the SPIFFE ID a join token
 * allows; refusals for bad tokens, bad CSRs and CSRs asking for another ID; a root kept across restarts;
 * renewal by the workload's {@link CaIdentitySource}; no key material in logs.
 */
class IdentityServiceIT {

  static final String CATALOG_TOKEN = "catalog-token-0123456789";
  static final String FRONTEND_TOKEN = "frontend-token-0123456789";

  @TempDir Path dir;
  ControlServer server;
  ManagedChannel channel;
  ListAppender<ILoggingEvent> logs;

  @BeforeEach
  void start() throws Exception {
    logs = new ListAppender<>();
    logs.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    server = startServer(dir.resolve("ca"), "1h");
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.xdsPort(),
        ControlPlaneTls.channelCredentials(server.trustBundleFile().orElseThrow(), null)).build();
  }

  ControlServer startServer(Path caDir, String ttl) throws Exception {
    MeshFile mesh = new MeshFile(dir).write("""
        trustDomain: example.org
        mtls: { mode: strict, certTtl: %s }
        services:
          catalog: { endpoints: [ { address: 127.0.0.1:9001 } ] }
          frontend: { endpoints: [ { address: 127.0.0.1:9002 } ] }
        """.formatted(ttl));
    return ControlServer.builder().configFile(mesh.path()).xdsPort(0).adminPort(0).caDirectory(caDir)
        .joinTokens(Map.of("catalog", CATALOG_TOKEN, "frontend", FRONTEND_TOKEN)).build().start();
  }

  @AfterEach
  void stop() {
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    if (channel != null) {
      channel.shutdownNow();
    }
    if (server != null) {
      server.close();
    }
  }

  SignResponse sign(String service, String token, byte[] csr) {
    return IdentityServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .sign(SignRequest.newBuilder().setService(service).setJoinToken(token)
            .setCsrDer(ByteString.copyFrom(csr)).build());
  }

  static X509Certificate cert(ByteString der) throws Exception {
    return (X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(new ByteArrayInputStream(der.toByteArray()));
  }

  static List<String> uris(X509Certificate c) throws Exception {
    List<String> out = new ArrayList<>();
    for (List<?> san : c.getSubjectAlternativeNames()) {
      out.add(san.get(0) + ":" + san.get(1));
    }
    return out;
  }

  @Test
  void signsACertificateForTheServicesSpiffeId() throws Exception {
    KeyPair pair = CertificateRequests.newKeyPair();
    SignResponse r = sign("catalog", CATALOG_TOKEN, CertificateRequests.csr(pair, "catalog"));
    X509Certificate leaf = cert(r.getCertificateChainDer(0));
    X509Certificate root = cert(r.getTrustBundleDer(0));
    assertThat(r.getSpiffeId()).isEqualTo("spiffe://example.org/service/catalog");
    assertThat(uris(leaf)).containsExactly("6:spiffe://example.org/service/catalog");
    assertThat(leaf.getPublicKey()).isEqualTo(pair.getPublic());
    assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
    assertThat(leaf.getExtendedKeyUsage()).containsExactlyInAnyOrder("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
    leaf.verify(root.getPublicKey());
    long lifetime = leaf.getNotAfter().getTime() - leaf.getNotBefore().getTime();
    // certTtl 1h, plus the one minute the CA back-dates for clock skew.
    assertThat(lifetime).isEqualTo(Duration.ofMinutes(61).toMillis());
  }

  static byte[] csrAskingFor(String... uris) throws Exception {
    KeyPair pair = CertificateRequests.newKeyPair();
    ExtensionsGenerator ext = new ExtensionsGenerator();
    ext.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(List.of(uris).stream()
        .map(uri -> new GeneralName(GeneralName.uniformResourceIdentifier, uri)).toArray(GeneralName[]::new)));
    return new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=catalog"), pair.getPublic())
        .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, ext.generate())
        .build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate())).getEncoded();
  }

  @Test
  void aCsrAskingForSomeoneElsesIdOrSeveralIdsIsRefused() throws Exception {
    String catalog = "spiffe://example.org/service/catalog";
    String payments = "spiffe://example.org/service/payments";
    String expected = " (expected: no names, or exactly [uri:" + catalog
        + "]; the CA issues the service's own SPIFFE ID only)";
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
        () -> sign("catalog", CATALOG_TOKEN, csrAskingFor(payments)));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription())
        .isEqualTo("service 'catalog': csr: subjectAltName: [uri:" + payments + "]" + expected);

    e = catchThrowableOfType(StatusRuntimeException.class,
        () -> sign("catalog", CATALOG_TOKEN, csrAskingFor(catalog, payments)));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription())
        .isEqualTo("service 'catalog': csr: subjectAltName: [uri:" + catalog + ", uri:" + payments + "]" + expected);

    // Asking for exactly its own ID is fine.
    SignResponse r = sign("catalog", CATALOG_TOKEN, csrAskingFor(catalog));
    assertThat(uris(cert(r.getCertificateChainDer(0)))).containsExactly("6:" + catalog);
  }

  @Test
  void refusesBadTokensAndBadCsrsPrecisely() throws Exception {
    byte[] csr = CertificateRequests.csr(CertificateRequests.newKeyPair(), "catalog");
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
        () -> sign("catalog", "wrong-token-0123456789", csr));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(e.getStatus().getDescription()).isEqualTo("service 'catalog': join_token: not valid "
        + "(expected: the join token configured for this service)");
    // Another service's token does not make you that service, nor this one.
    e = catchThrowableOfType(StatusRuntimeException.class, () -> sign("catalog", FRONTEND_TOKEN, csr));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    e = catchThrowableOfType(StatusRuntimeException.class, () -> sign("payments", CATALOG_TOKEN, csr));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);

    e = catchThrowableOfType(StatusRuntimeException.class,
        () -> sign("catalog", CATALOG_TOKEN, "not a csr".getBytes()));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription()).startsWith("service 'catalog': csr: not a PKCS#10 certificate signing request");

    byte[] tampered = csr.clone();
    tampered[tampered.length - 5] ^= 0x01;
    e = catchThrowableOfType(StatusRuntimeException.class, () -> sign("catalog", CATALOG_TOKEN, tampered));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);

    KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
    rsa.initialize(1024);
    KeyPair weak = rsa.generateKeyPair();
    byte[] weakCsr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=catalog"), weak.getPublic())
        .build(new JcaContentSignerBuilder("SHA256withRSA").build(weak.getPrivate())).getEncoded();
    e = catchThrowableOfType(StatusRuntimeException.class, () -> sign("catalog", CATALOG_TOKEN, weakCsr));
    assertThat(e.getStatus().getDescription())
        .isEqualTo("service 'catalog': csr: RSA key of 1024 bits (expected: EC, or RSA of 2048 bits or more)");

    e = catchThrowableOfType(StatusRuntimeException.class,
        () -> sign("catalog", CATALOG_TOKEN, new byte[20_000]));
    assertThat(e.getStatus().getDescription()).isEqualTo("service 'catalog': csr: 20000 bytes (expected: at most 16384)");
  }

  @Test
  void theRootSurvivesARestartWithTheSameDirectory() throws Exception {
    X509Certificate before = cert(sign("catalog", CATALOG_TOKEN,
        CertificateRequests.csr(CertificateRequests.newKeyPair(), "catalog")).getTrustBundleDer(0));
    server.close();
    channel.shutdownNow();
    server = startServer(dir.resolve("ca"), "1h");
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.xdsPort(),
        ControlPlaneTls.channelCredentials(server.trustBundleFile().orElseThrow(), null)).build();
    X509Certificate after = cert(sign("catalog", CATALOG_TOKEN,
        CertificateRequests.csr(CertificateRequests.newKeyPair(), "catalog")).getTrustBundleDer(0));
    assertThat(after).isEqualTo(before);
    // A HashSet: its order varies from run to run.
    assertThat(Files.getPosixFilePermissions(dir.resolve("ca").resolve("ca.key"))).containsExactlyInAnyOrder(
        java.nio.file.attribute.PosixFilePermission.OWNER_READ, java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
  }

  @Test
  void workloadRenewsItsCertificateWithANewKeyAndLogsNoKeys() throws Exception {
    server.close();
    channel.shutdownNow();
    server = startServer(dir.resolve("ca"), "1m");
    BlockingQueue<WorkloadIdentity> issued = new LinkedBlockingQueue<>();
    // A 1 minute certificate renewed when 5% of its remaining life has passed: about every 3 s.
    try (CaIdentitySource source = CaIdentitySource.builder().service("frontend").joinToken(FRONTEND_TOKEN)
        .controlServers("127.0.0.1:" + server.xdsPort()).controlServerTrust(server.trustBundleFile().orElseThrow())
        .renewAt(0.05).build()) {
      source.addListener(issued::add);
      source.start();
      WorkloadIdentity first = issued.poll(10, TimeUnit.SECONDS);
      WorkloadIdentity second = issued.poll(10, TimeUnit.SECONDS);
      assertThat(first).isNotNull();
      assertThat(second).as("a renewal").isNotNull();
      assertThat(second.spiffeId()).isEqualTo("spiffe://example.org/service/frontend");
      assertThat(second.privateKey()).isNotEqualTo(first.privateKey());
      assertThat(second.chain().get(0).getSerialNumber()).isNotEqualTo(first.chain().get(0).getSerialNumber());
      assertThat(issued.size()).as("renewals not in a tight loop").isLessThanOrEqualTo(1);
      assertThat(first.toString()).doesNotContain(Base64.getEncoder().encodeToString(first.privateKey().getEncoded()));

      String caKey = Files.readString(dir.resolve("ca").resolve("ca.key"));
      String keyBody = caKey.lines().filter(l -> !l.startsWith("-----")).findFirst().orElseThrow();
      for (ILoggingEvent event : logs.list) {
        String line = event.getFormattedMessage();
        assertThat(line).doesNotContain("PRIVATE KEY").doesNotContain(keyBody)
            .doesNotContain(Base64.getEncoder().encodeToString(first.privateKey().getEncoded()).substring(0, 40))
            .doesNotContain(FRONTEND_TOKEN).doesNotContain(CATALOG_TOKEN);
      }
    }
  }
}
