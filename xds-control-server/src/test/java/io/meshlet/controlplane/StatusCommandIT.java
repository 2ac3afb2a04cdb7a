package io.meshlet.controlplane;

import static io.meshlet.controlplane.testing.RawAdsClient.LISTENER;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Status;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.RawAdsClient;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code status} against a running control server with a token: a table of every client's sync
 * state per type, exit 0 while all are in sync, 1 once one NACKs (its message printed), 3 without
 * the token.
 */
class StatusCommandIT {

  static final String TOKEN = "status-it-token-0123456789abcdef0123456789";
  @TempDir static Path dir;
  static ControlServer server;
  static MeshClient frontend;
  static Path tokenFile;

  @BeforeAll
  static void start() throws Exception {
    tokenFile = Files.writeString(dir.resolve("admin-token"), TOKEN);
    Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
    MeshFile mesh = new MeshFile(dir).write("""
        services:
          svc:
            protocol: http
            endpoints: [ { address: 127.0.0.1:9 } ]
        """);
    server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0)
        .adminTokenFile(tokenFile).build().start();
    frontend = MeshClient.builder().xdsPlaintext().serviceName("frontend").nodeId("frontend-1")
        .controlServers(List.of("127.0.0.1:" + server.xdsPort())).build().start();
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(frontend, server);
  }

  record Run(int code, String out, String err) {}

  static Run status(String... extra) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    String[] args = new String[extra.length + 3];
    args[0] = "status";
    args[1] = "--admin";
    args[2] = "http://127.0.0.1:" + server.adminPort();
    System.arraycopy(extra, 0, args, 3, extra.length);
    int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aTableOfClientsExitsZeroWhileAllAreInSyncAndOneOnceAClientNacks() {
    Run[] last = new Run[1];
    Await.until("the frontend to be in sync", Duration.ofSeconds(15), () -> {
      last[0] = status("--admin-token-file", tokenFile.toString());
      return last[0].code() == 0 && last[0].out().contains("SYNCED");
    });
    Run synced = last[0];
    assertThat(synced.out().lines().findFirst().orElseThrow())
        .matches("NODE +SERVICE +STREAM +LDS +RDS +CDS +EDS");
    assertThat(synced.out()).containsPattern("frontend-1 +frontend +sotw +SYNCED \\w+ +SYNCED \\w+ +SYNCED \\w+ +SYNCED \\w+")
        .contains("1 clients, 0 stale or NACKing");

    try (RawAdsClient ads = new RawAdsClient(server.xdsPort()); var stream = ads.sotw()) {
      stream.send(DiscoveryRequest.newBuilder().setNode(RawAdsClient.node("nacker-1")).setTypeUrl(LISTENER)
          .addResourceNames("svc").build());
      DiscoveryResponse first = stream.next(Duration.ofSeconds(10));
      stream.send(DiscoveryRequest.newBuilder().setNode(RawAdsClient.node("nacker-1")).setTypeUrl(LISTENER)
          .addResourceNames("svc").setResponseNonce(first.getNonce())
          .setErrorDetail(Status.newBuilder().setCode(3).setMessage("listener svc: field x not supported")).build());
      Await.until("status to see the NACK", Duration.ofSeconds(10),
          () -> status("--admin-token-file", tokenFile.toString()).code() == 1);
      Run nacking = status("--admin-token-file", tokenFile.toString());
      assertThat(nacking.out())
          .containsPattern("nacker-1 +raw-ads-test +sotw +NACKED " + first.getVersionInfo().substring(0, 8) + " +- +- +-")
          .contains("NACK nacker-1 Listener " + first.getVersionInfo() + ": listener svc: field x not supported")
          .contains("2 clients, 1 stale or NACKing");
    }
  }

  @Test
  void withoutTheTokenStatusSaysWhatItNeedsAndExitsThree() {
    Run r = status();
    assertThat(r.code()).isEqualTo(3);
    assertThat(r.err()).contains("answered 401 (expected: --admin-token-file FILE with the server's admin token)");
  }

  @Test
  void anUnreachableAdminApiExitsThree() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.run(new String[] {"status", "--admin", "http://127.0.0.1:1"}, new PrintStream(new ByteArrayOutputStream()),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    assertThat(code).isEqualTo(3);
    assertThat(err.toString(StandardCharsets.UTF_8)).startsWith("status: cannot read http://127.0.0.1:1/clients: ");
  }
}
