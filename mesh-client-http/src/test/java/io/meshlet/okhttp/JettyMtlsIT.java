package io.meshlet.okhttp;

import io.meshlet.inbound.MeshJetty;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.meshlet.MeshClient;
import io.meshlet.config.MtlsMode;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.identity.CaIdentitySource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Jetty server with {@link MeshJetty}'s connector and inbound handler follows its service's
 * policy in mesh.yaml as it is edited: permissive serves plaintext and mTLS callers on one port,
 * strict refuses plaintext, and an allow list refuses callers not on it.
 */
class JettyMtlsIT {

  static final Map<String, String> TOKENS = Map.of(
      "catalog", "catalog-token-0123456789", "frontend", "frontend-token-0123456789",
      "payments", "payments-token-0123456789");

  @TempDir static java.nio.file.Path dir;
  static MeshFile file;
  static ControlServer server;
  static CaIdentitySource catalogIdentity;
  static CaIdentitySource frontendIdentity;
  static CaIdentitySource paymentsIdentity;
  static MeshClient catalogMesh;
  static MeshClient frontendMesh;
  static Server jetty;
  static int port;

  @BeforeAll
  static void start() throws Exception {
    jetty = new Server();
    file = new MeshFile(dir);
    server = ControlServer.builder().configFile(file.write(config("permissive", "")).path()).xdsPort(0).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).joinTokens(TOKENS).build().start();
    String cs = "127.0.0.1:" + server.xdsPort();
    catalogIdentity = identity("catalog", cs);
    frontendIdentity = identity("frontend", cs);
    paymentsIdentity = identity("payments", cs);
    catalogMesh = MeshClient.builder().controlServerTrust(server.trustBundleFile().orElseThrow()).serviceName("catalog").controlServers(cs).build().start();
    frontendMesh = MeshClient.builder().controlServerTrust(server.trustBundleFile().orElseThrow()).serviceName("frontend").controlServers(cs).build().start();
    ServerConnector connector = MeshJetty.connector(jetty, catalogMesh, catalogIdentity::current);
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    jetty.addConnector(connector);
    jetty.setHandler(MeshJetty.inbound(catalogMesh, new Handler.Abstract() {
      @Override
      public boolean handle(org.eclipse.jetty.server.Request request, org.eclipse.jetty.server.Response response,
          org.eclipse.jetty.util.Callback callback) {
        Object caller = request.getAttribute(MeshJetty.CALLER_ATTRIBUTE);
        String body = "caller " + (caller == null ? "plaintext" : caller);
        response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
        return true;
      }
    }));
    jetty.start();
    assertThat(connector.getLocalPort()).isEqualTo(port);
    awaitBoth(MtlsMode.PERMISSIVE);
  }

  /** The mesh with catalog at the Jetty server's port, in this mode, with these extra lines. */
  static String config(String mode, String extra) throws IOException {
    if (port == 0) {
      try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
        port = s.getLocalPort();
      }
    }
    return """
        trustDomain: example.org
        mtls: { mode: %s, certTtl: 1h }
        services:
          catalog:
            endpoints: [ { address: 127.0.0.1:%d } ]
        %s""".formatted(mode, port, extra);
  }

  static void apply(String mode, String extra) throws IOException {
    String before = catalogMesh.snapshot().version();
    file.write(config(mode, extra));
    Await.until("catalog's workload to see the edit", Duration.ofSeconds(20),
        () -> !catalogMesh.snapshot().version().equals(before));
    awaitBoth(MtlsMode.valueOf(mode.toUpperCase()));
  }

  static void awaitBoth(MtlsMode mode) {
    Await.until("both workloads to see catalog in mode " + mode, Duration.ofSeconds(20),
        () -> catalogMesh.snapshot().inbound("catalog").mtls() == mode
            && frontendMesh.snapshot().version().equals(catalogMesh.snapshot().version()));
  }

  static CaIdentitySource identity(String service, String controlServer) throws InterruptedException {
    CaIdentitySource s = CaIdentitySource.builder().service(service).joinToken(TOKENS.get(service))
        .controlServers(controlServer).controlServerTrust(server.trustBundleFile().orElseThrow()).build().start();
    s.awaitIdentity(Duration.ofSeconds(20));
    return s;
  }

  @AfterAll
  static void stop() throws Exception {
    if (jetty != null) {
      jetty.stop();
    }
    for (AutoCloseable c : new AutoCloseable[] {frontendMesh, catalogMesh, catalogIdentity, frontendIdentity,
        paymentsIdentity, server}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing
      }
    }
  }

  static String plaintext() throws IOException {
    OkHttpClient plain = new OkHttpClient.Builder().readTimeout(Duration.ofSeconds(5)).build();
    try (Response r = plain.newCall(new Request.Builder().url("http://127.0.0.1:" + port + "/items").build())
        .execute()) {
      return r.code() + " " + r.body().string();
    }
  }

  static String mtls(CaIdentitySource as) throws IOException {
    return mtls(as, "GET", "/items");
  }

  static String mtls(CaIdentitySource as, String method, String path) throws IOException {
    okhttp3.RequestBody body = method.equals("GET") ? null : okhttp3.RequestBody.create(new byte[0]);
    try (Response r = MeshOkHttp.client(frontendMesh, as::current)
        .newCall(new Request.Builder().url("http://catalog" + path).method(method, body).build()).execute()) {
      return r.code() + " " + r.body().string();
    }
  }

  @Test
  void modesAndAllowListsFollowTheMeshConfig() throws Exception {
    // permissive: both kinds of caller on one port; the mTLS caller's identity is known.
    assertThat(plaintext()).isEqualTo("200 caller plaintext");
    assertThat(mtls(frontendIdentity)).isEqualTo("200 caller spiffe://example.org/service/frontend");

    // strict: plaintext connections are closed; mTLS callers still served.
    apply("strict", "");
    assertThat(catchThrowable(JettyMtlsIT::plaintext)).isInstanceOf(IOException.class);
    assertThat(mtls(frontendIdentity)).isEqualTo("200 caller spiffe://example.org/service/frontend");

    // an allow list: frontend served, payments and plaintext callers refused with 403.
    apply("permissive", "    authorization: { allow: [ spiffe://example.org/service/frontend ] }\n");
    assertThat(mtls(frontendIdentity)).isEqualTo("200 caller spiffe://example.org/service/frontend");
    assertThat(mtls(paymentsIdentity))
        .isEqualTo("403 caller spiffe://example.org/service/payments may not call GET /items on service 'catalog'\n");
    assertThat(plaintext()).isEqualTo("403 caller without a client certificate may not call GET /items on service 'catalog'\n");

    // a rule for one path and method, before the service-wide list.
    apply("permissive", """
            authorization:
              allow: [ spiffe://example.org/service/frontend, spiffe://example.org/service/payments ]
              rules:
                - match: { pathPrefix: /admin, methods: [ POST, DELETE ] }
                  allow: [ spiffe://example.org/service/frontend ]
        """);
    assertThat(mtls(paymentsIdentity)).isEqualTo("200 caller spiffe://example.org/service/payments");
    assertThat(mtls(paymentsIdentity, "POST", "/admin/reindex"))
        .isEqualTo("403 caller spiffe://example.org/service/payments may not call POST /admin/reindex on service "
            + "'catalog'\n");
    // %-encoding does not get around a rule: the rule sees the path the application sees.
    assertThat(mtls(paymentsIdentity, "POST", "/%61dmin/reindex")).startsWith("403 ");
    assertThat(mtls(paymentsIdentity, "GET", "/admin/reindex")).isEqualTo("200 caller spiffe://example.org/service/payments");
    assertThat(mtls(frontendIdentity, "POST", "/admin/reindex")).isEqualTo("200 caller spiffe://example.org/service/frontend");

    // off: plaintext served again; a Meshlet client no longer uses mTLS.
    apply("off", "");
    assertThat(plaintext()).isEqualTo("200 caller plaintext");
    assertThat(mtls(frontendIdentity)).isEqualTo("200 caller plaintext");
  }
}
