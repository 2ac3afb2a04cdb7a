package io.meshlet.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.internal.ca.CertificateAuthority;
import io.meshlet.controlplane.testing.FaultReport;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.CertificateRequests;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.identity.WorkloadIdentity;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Strict mTLS between Meshlet's OkHttp client and a plain Java HTTPS server, both with SVIDs from
 * the control server's CA: the caller's SPIFFE ID reaches the server; plaintext, a foreign CA, an
 * expired certificate and a server with the wrong SPIFFE ID are all refused; certificates rotate
 * every few seconds under traffic with no failed request.
 */
class OkHttpMtlsIT {

  static final Map<String, String> TOKENS = Map.of(
      "catalog", "catalog-token-0123456789", "frontend", "frontend-token-0123456789",
      "payments", "payments-token-0123456789");

  @TempDir static Path dir;
  static ControlServer server;
  static CaIdentitySource catalogIdentity;
  static CaIdentitySource frontendIdentity;
  static CaIdentitySource paymentsIdentity;
  static final AtomicReference<Supplier<WorkloadIdentity>> presented = new AtomicReference<>();
  static HttpsServer catalog;
  static ExecutorService catalogThreads;
  static MeshClient mesh;
  static MeshClient catalogMesh;
  static final Set<String> clientSerialsSeen = ConcurrentHashMap.newKeySet();

  @BeforeAll
  static void start() throws Exception {
    catalog = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    Path file = Files.writeString(dir.resolve("mesh.yaml"), """
        trustDomain: example.org
        mtls: { mode: strict, certTtl: 1m }
        services:
          catalog:
            endpoints: [ { address: 127.0.0.1:%d } ]
            routes: [ { to: [ {} ], retries: { attempts: 2, on: [reset, connect-failure] } } ]
            authorization: { allow: [ spiffe://example.org/service/frontend ] }
        """.formatted(catalog.getAddress().getPort()));
    server = ControlServer.builder().configFile(file).xdsPort(0).adminPort(0).caDirectory(dir.resolve("ca"))
        .joinTokens(TOKENS).build().start();
    String cs = "127.0.0.1:" + server.xdsPort();
    // One-minute certificates renewed after 5% of their remaining life: every 3 s or so.
    catalogIdentity = identity("catalog", cs);
    frontendIdentity = identity("frontend", cs);
    paymentsIdentity = identity("payments", cs);
    presented.set(catalogIdentity::current);

    SSLContext tls = SpiffeTls.context(() -> presented.get().get(), SpiffeTls.allowAny());
    catalog.setHttpsConfigurator(new HttpsConfigurator(tls) {
      @Override
      public void configure(HttpsParameters params) {
        SSLParameters p = tls.getDefaultSSLParameters();
        p.setNeedClientAuth(true);
        params.setSSLParameters(p);
      }
    });
    catalogThreads = Executors.newFixedThreadPool(4);
    catalog.setExecutor(catalogThreads);
    catalogMesh = MeshClient.builder().controlServerTrust(server.trustBundleFile().orElseThrow()).serviceName("catalog").controlServers(cs).build().start();
    assertThat(catalogMesh.awaitConfig(Duration.ofSeconds(20))).isTrue();
    catalog.createContext("/", exchange -> {
      var session = ((HttpsExchange) exchange).getSSLSession();
      try {
        clientSerialsSeen.add(((java.security.cert.X509Certificate) session.getPeerCertificates()[0])
            .getSerialNumber().toString(16));
      } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
        // needClientAuth: cannot happen
      }
      byte[] body = ("caller " + SpiffeTls.peerSpiffeId(session).orElse("none")).getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }).getFilters().add(new MeshHttpsServerFilter(catalogMesh));
    catalog.start();
    mesh = MeshClient.builder().controlServerTrust(server.trustBundleFile().orElseThrow()).serviceName("frontend").controlServers(cs).build().start();
    assertThat(mesh.awaitConfig(Duration.ofSeconds(20))).isTrue();
  }

  static CaIdentitySource identity(String service, String controlServer) throws InterruptedException {
    CaIdentitySource s = CaIdentitySource.builder().service(service).joinToken(TOKENS.get(service))
        .controlServers(controlServer).controlServerTrust(server.trustBundleFile().orElseThrow()).renewAt(0.05).build().start();
    s.awaitIdentity(Duration.ofSeconds(20));
    return s;
  }

  @AfterAll
  static void stop() {
    for (AutoCloseable c : new AutoCloseable[] {mesh, catalogMesh, catalogIdentity, frontendIdentity, paymentsIdentity, server}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing
      }
    }
    if (catalog != null) {
      catalog.stop(0);
      catalogThreads.shutdownNow();
    }
  }

  static String call(OkHttpClient http) throws IOException {
    try (Response r = http.newCall(new Request.Builder().url("http://catalog/items").build()).execute()) {
      return r.code() + " " + r.body().string();
    }
  }

  @Test
  void theCallersSpiffeIdReachesTheServer() throws Exception {
    assertThat(call(MeshOkHttp.client(mesh, frontendIdentity::current)))
        .isEqualTo("200 caller spiffe://example.org/service/frontend");
  }

  @Test
  void anAuthorizedCallerIsServedAndAnotherIsDenied() throws Exception {
    assertThat(call(MeshOkHttp.client(mesh, frontendIdentity::current)))
        .isEqualTo("200 caller spiffe://example.org/service/frontend");
    try (Response r = MeshOkHttp.client(mesh, paymentsIdentity::current)
        .newCall(new Request.Builder().url("http://catalog/items").build()).execute()) {
      assertThat(r.code()).isEqualTo(403);
      assertThat(r.header("x-meshlet-denied")).isEqualTo("true");
      assertThat(r.body().string())
          .isEqualTo("caller spiffe://example.org/service/payments may not call GET /items on service 'catalog'\n");
    }
  }

  @Test
  void aClientWithoutAnIdentityIsRefused() throws Exception {
    assertThat(catchThrowable(() -> call(MeshOkHttp.client(mesh))))
        .isInstanceOf(IOException.class)
        .hasMessage("service 'catalog' requires mTLS (cluster 'catalog'), but this OkHttpClient has no workload "
            + "identity: build it with MeshOkHttp.client(mesh, identity)");
    // Plain HTTP straight to the port gets no answer either.
    OkHttpClient plain = new OkHttpClient.Builder().readTimeout(Duration.ofSeconds(5)).build();
    assertThat(catchThrowable(() -> {
      try (Response r = plain.newCall(new Request.Builder()
          .url("http://127.0.0.1:" + catalog.getAddress().getPort() + "/items").build()).execute()) {
        r.body().string();
      }
    })).isInstanceOf(IOException.class);
  }

  @Test
  void aCertificateFromAnotherCaIsRefused() throws Exception {
    CertificateAuthority other = CertificateAuthority.loadOrCreate("example.org", null, Clock.systemUTC());
    KeyPair pair = CertificateRequests.newKeyPair();
    WorkloadIdentity forged = new WorkloadIdentity("spiffe://example.org/service/frontend",
        List.of(other.sign("frontend", CertificateRequests.csr(pair, "frontend"), Duration.ofHours(1))),
        pair.getPrivate(), frontendIdentity.current().trustBundle());
    assertThat(catchThrowable(() -> call(MeshOkHttp.client(mesh, () -> forged)))).isInstanceOf(IOException.class);
  }

  @Test
  void anExpiredCertificateIsRefused() throws Exception {
    CertificateAuthority ca = CertificateAuthority.loadOrCreate("example.org", dir.resolve("ca"), Clock.systemUTC());
    KeyPair pair = CertificateRequests.newKeyPair();
    WorkloadIdentity expired = new WorkloadIdentity("spiffe://example.org/service/frontend",
        List.of(ca.sign("frontend", CertificateRequests.csr(pair, "frontend"), Duration.ofSeconds(-30))),
        pair.getPrivate(), frontendIdentity.current().trustBundle());
    assertThat(expired.expiresAt()).isBefore(java.time.Instant.now());
    assertThat(catchThrowable(() -> call(MeshOkHttp.client(mesh, () -> expired)))).isInstanceOf(IOException.class);
  }

  @Test
  void aServerWithTheWrongSpiffeIdIsRefused() throws Exception {
    presented.set(paymentsIdentity::current);
    try {
      Throwable t = catchThrowable(() -> call(MeshOkHttp.client(mesh, frontendIdentity::current)));
      assertThat(t).isInstanceOf(javax.net.ssl.SSLPeerUnverifiedException.class);
    } finally {
      presented.set(catalogIdentity::current);
    }
  }

  @Test
  void rotationUnderTrafficFailsNoRequest() throws Exception {
    OkHttpClient http = MeshOkHttp.decorate(new OkHttpClient.Builder()
        .connectionPool(new okhttp3.ConnectionPool(1, 200, TimeUnit.MILLISECONDS)), mesh, frontendIdentity::current)
        .build();
    String firstServerSerial = catalogIdentity.current().chain().get(0).getSerialNumber().toString(16);
    String firstClientSerial = frontendIdentity.current().chain().get(0).getSerialNumber().toString(16);
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    String firstFailure = null;
    java.util.Set<String> serials = new java.util.HashSet<>();
    Duration run = FaultReport.runLength(Duration.ofSeconds(8));
    long end = System.nanoTime() + run.toNanos();
    while (System.nanoTime() < end) {
      serials.add(frontendIdentity.current().chain().get(0).getSerialNumber().toString(16));
      String result;
      try {
        result = call(http);
      } catch (IOException e) {
        result = e.toString();
      }
      if (result.equals("200 caller spiffe://example.org/service/frontend")) {
        ok.incrementAndGet();
      } else {
        failed.incrementAndGet();
        firstFailure = firstFailure == null ? result : firstFailure;
      }
    }
    FaultReport.record("certificates rotating every ~3 s (OkHttp, mTLS)", (serials.size() - 1)
        + " client certificate rotations in " + run.toSeconds() + " s", firstFailure,
        new FaultReport.Counts("HTTP", ok.get() + failed.get(), failed.get()));
    assertThat(failed.get()).as("failed requests while certificates rotated (%d succeeded)", ok.get()).isZero();
    assertThat(ok.get()).isPositive();
    String clientSerial = frontendIdentity.current().chain().get(0).getSerialNumber().toString(16);
    assertThat(clientSerial).as("the client's certificate rotated").isNotEqualTo(firstClientSerial);
    assertThat(catalogIdentity.current().chain().get(0).getSerialNumber().toString(16))
        .as("the server's certificate rotated").isNotEqualTo(firstServerSerial);
    // A new connection presents the rotated certificate.
    clientSerialsSeen.clear();
    assertThat(call(MeshOkHttp.client(mesh, frontendIdentity::current)))
        .isEqualTo("200 caller spiffe://example.org/service/frontend");
    assertThat(clientSerialsSeen).containsAnyOf(clientSerial,
        frontendIdentity.current().chain().get(0).getSerialNumber().toString(16));
  }

  @Test
  void caKeyRotationWithOverlapFailsNoRequest() throws Exception {
    java.net.http.HttpClient admin = java.net.http.HttpClient.newHttpClient();
    java.net.URI base = java.net.URI.create("http://127.0.0.1:" + server.adminPort());
    // Too short an overlap for one-minute certificates is refused precisely.
    var refused = admin.send(java.net.http.HttpRequest.newBuilder(base.resolve("/ca/rotate?overlap=10s"))
        .POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(refused.statusCode()).isEqualTo(400);
    assertThat(refused.body()).contains("overlap: '10s' (expected: a duration such as 2h, at least twice mtls.certTtl (1m)");

    X509Certificate oldRoot = frontendIdentity.current().trustBundle().get(0);
    OkHttpClient http = MeshOkHttp.decorate(new OkHttpClient.Builder()
        .connectionPool(new okhttp3.ConnectionPool(1, 100, TimeUnit.MILLISECONDS)), mesh, frontendIdentity::current)
        .build();
    // Every workload here renews about every 3 s, so a 12 s overlap is long enough.
    var started = admin.send(java.net.http.HttpRequest.newBuilder(base.resolve("/ca/rotate?overlap=12s&force=true"))
        .POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    List<String> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(16);
    while (System.nanoTime() < end) {
      try {
        // A new client now and then: new connections, new handshakes with the current certificates.
        OkHttpClient c = ok.get() % 20 == 0 ? MeshOkHttp.client(mesh, frontendIdentity::current) : http;
        String r = call(c);
        if (r.startsWith("200")) {
          ok.incrementAndGet();
        } else {
          failed.incrementAndGet();
          failures.add(r);
        }
      } catch (IOException e) {
        failed.incrementAndGet();
        failures.add(e.toString());
      }
    }
    assertThat(failed.get()).as("failed requests across the CA key rotation (%d ok): %s", ok.get(), failures).isZero();
    X509Certificate issuer = frontendIdentity.current().trustBundle().get(0);
    assertThat(issuer).as("the signing root changed").isNotEqualTo(oldRoot);
    assertThat(frontendIdentity.current().trustBundle()).as("the old root is no longer trusted").doesNotContain(oldRoot);
    frontendIdentity.current().chain().get(0).verify(issuer.getPublicKey());
  }
}
