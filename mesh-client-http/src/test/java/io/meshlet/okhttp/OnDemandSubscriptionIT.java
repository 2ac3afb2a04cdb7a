package io.meshlet.okhttp;

import static io.meshlet.okhttp.TestMesh.get;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.meshlet.MeshClient;
import io.meshlet.MeshListener;
import io.meshlet.UnknownServiceException;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.MeshFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code MeshClient} that subscribes on demand, against the real control server: it holds the
 * services it was told of and those it calls, never the rest of the mesh; a first call to another
 * service waits for it and succeeds; a service the mesh does not have fails with the usual error
 * as soon as the server says so (not after the 30 s wait); one added later becomes callable.
 */
class OnDemandSubscriptionIT {

  @TempDir static Path dir;
  static TestMesh mesh;
  static WireMockServer v1;
  static WireMockServer v2;
  static MeshFile file;
  static MeshClient client;
  static OkHttpClient http;
  static final AtomicInteger snapshots = new AtomicInteger();

  static String meshYaml(String extra) {
    String fillers = IntStream.range(0, 200)
        .mapToObj(i -> "  filler-" + i + ":\n    endpoints: [ { address: 127.0.0.1:" + v1.port() + " } ]\n")
        .collect(Collectors.joining());
    return """
        services:
          frontend:
            endpoints: [ { address: 127.0.0.1:%d } ]
            authorization: { allow: [ spiffe://meshlet.local/service/admin ] }
          search:
            endpoints: [ { address: 127.0.0.1:%d } ]
          catalog:
            endpoints:
              - { address: 127.0.0.1:%d, labels: { version: v1 } }
              - { address: 127.0.0.1:%d, labels: { version: v2 } }
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            routes:
              - to: [ { subset: v1, weight: 50 }, { subset: v2, weight: 50 } ]
        """.formatted(v1.port(), v2.port(), v1.port(), v2.port()) + fillers + extra;
  }

  @BeforeAll
  static void start() throws Exception {
    mesh = new TestMesh();
    v1 = mesh.upstream("v1");
    v2 = mesh.upstream("v2");
    file = new MeshFile(dir).write(meshYaml(""));
    ControlServer server = mesh.controlServer(file.path());
    client = mesh.closeLater(MeshClient.builder().xdsPlaintext()
        .serviceName("frontend")
        .controlServers("127.0.0.1:" + server.xdsPort())
        .subscribeOnDemand("search")
        .firstConfigTimeout(Duration.ofSeconds(30))
        .listener(new MeshListener() {
          @Override
          public void onConfig(io.meshlet.config.MeshSnapshot snapshot) {
            snapshots.incrementAndGet();
          }
        })
        .build());
    client.start();
    assertThat(client.awaitConfig(Duration.ofSeconds(10))).as("first config").isTrue();
    http = mesh.http(client);
  }

  @AfterAll
  static void stop() throws Exception {
    if (mesh != null) {
      mesh.close();
    }
  }

  @Test
  void holdsOnlyTheServicesNamedAndCalledAndTheOwnInboundPolicy() throws Exception {
    assertThat(client.snapshot().services()).containsKey("search").doesNotContainKey("filler-7");

    assertThat(get(http, "http://catalog/items").code()).isEqualTo(200);

    assertThat(client.snapshot().services().keySet()).as("services held after calling catalog")
        .contains("search", "catalog")
        .noneMatch(s -> s.startsWith("filler-"));
    assertThat(client.snapshot().clusters().keySet())
        .contains("catalog", "catalog/v1", "catalog/v2", "search")
        .noneMatch(s -> s.startsWith("filler-"));
    assertThat(client.authorize(Optional.of("spiffe://meshlet.local/service/stranger"), "/", "GET"))
        .as("the own service's inbound policy is subscribed too").isFalse();
  }

  @Test
  void aServiceTheMeshDoesNotHaveFailsAsSoonAsTheServerSaysSo() {
    // A timeout would end in an InterruptedIOException after 30 s, not this error.
    assertThatThrownBy(() -> get(http, "http://catalgo/items"))
        .isInstanceOf(UnknownServiceException.class)
        .hasMessageStartingWith("service 'catalgo' is not in the mesh");
  }

  @Test
  void aServiceAddedAfterItWasAskedForBecomesCallable() throws Exception {
    assertThatThrownBy(() -> get(http, "http://late/x")).isInstanceOf(UnknownServiceException.class);

    file.write(meshYaml("""
          late:
            endpoints: [ { address: 127.0.0.1:%d } ]
        """.formatted(v2.port())));

    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!client.snapshot().services().containsKey("late")) {
      assertThat(System.nanoTime()).as("'late' arrives after the edit").isLessThan(deadline);
      Thread.sleep(20);
    }
    assertThat(get(http, "http://late/x").body()).isEqualTo("v2");
  }
}
