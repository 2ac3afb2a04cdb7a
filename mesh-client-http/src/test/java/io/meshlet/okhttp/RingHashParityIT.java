package io.meshlet.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.XdsClients;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Ring hash means the same on both transports: a key sent over HTTP (Meshlet's OkHttp client and
 * policy engine) lands on the same instance as over gRPC (grpc-java's own xDS client and its
 * {@code RingHashLoadBalancer}), given one ring-hash intent and the same three instances.
 *
 * <p>The three instances are gRPC servers, so that both services can list the very same
 * addresses (a ring is built from them): the HTTP client reaches them over HTTP/2 with prior
 * knowledge, posting a gRPC frame as an HTTP body, and reads the answering instance's name from
 * the response body.
 */
class RingHashParityIT {

  /** Keys of every length xxHash64 reads differently (under 4, 4..7, 8..31, 32 and more bytes). */
  static final List<String[]> KEYS = List.of(
      new String[] {"a"}, new String[] {"bob"}, new String[] {"user-1"}, new String[] {"user-2"},
      new String[] {"user-3"}, new String[] {"user-17"}, new String[] {"alice@example.org"},
      new String[] {"tenant-42/session-7"}, new String[] {"0"}, new String[] {"42"},
      new String[] {"ffffffff-ffff-ffff-ffff-ffffffffffff"},
      new String[] {"a key that is longer than thirty-two bytes, to take the striped path"},
      new String[] {"Z"}, new String[] {"zebra"}, new String[] {"k9"}, new String[] {"session=abc123"},
      new String[] {"user-100"}, new String[] {"user-1000"}, new String[] {"cart-7"}, new String[] {"x"},
      // Two values of the header: both transports hash them joined by ','.
      new String[] {"first", "second"});

  @TempDir static Path dir;
  static final List<EchoBackend> instances = new ArrayList<>();
  static ControlServer server;
  static MeshClient mesh;
  static OkHttpClient http;
  static ManagedChannel channel;

  @BeforeAll
  static void start() throws Exception {
    for (int i = 1; i <= 3; i++) {
      instances.add(new EchoBackend("instance-" + i));
    }
    StringBuilder endpoints = new StringBuilder();
    for (EchoBackend b : instances) {
      endpoints.append("      - { address: ").append(b.address()).append(" }\n");
    }
    String service = """
            loadBalancing: ring_hash
            hashHeader: x-user
            endpoints:
        """ + endpoints;
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, "services:\n  ring-http:\n    protocol: http\n" + service
        + "  ring-grpc:\n    protocol: grpc\n" + service);
    server = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build().start();
    XdsClients.bootstrap(server.xdsPort(), "ring-hash-parity-it");
    mesh = MeshClient.builder().xdsPlaintext().serviceName("ring-hash-parity-it")
        .controlServers("127.0.0.1:" + server.xdsPort()).build().start();
    http = MeshOkHttp.decorate(new OkHttpClient.Builder()
        .protocols(List.of(Protocol.H2_PRIOR_KNOWLEDGE))
        .readTimeout(Duration.ofSeconds(10)), mesh).build();
    channel = XdsClients.channel("ring-grpc");
  }

  @AfterAll
  static void stop() {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (mesh != null) {
      mesh.close();
    }
    if (server != null) {
      server.close();
    }
    instances.forEach(EchoBackend::close);
  }

  static Stream<Arguments> keys() {
    return KEYS.stream().map(k -> Arguments.of(String.join(" + ", k), k));
  }

  @ParameterizedTest(name = "x-user: {0}")
  @MethodSource("keys")
  void aKeyLandsOnTheSameInstanceOverHttpAndOverGrpcJava(String name, String[] values) throws Exception {
    String overGrpc = grpcCall(values);
    String overHttp = httpCall(values);

    assertThat(overHttp).as("key %s: HTTP (Meshlet) vs gRPC (grpc-java)", name).isEqualTo(overGrpc);
    // And each transport keeps it there.
    assertThat(grpcCall(values)).isEqualTo(overGrpc);
    assertThat(httpCall(values)).isEqualTo(overHttp);
  }

  @Test
  void theKeysSpreadOverEveryInstance() throws Exception {
    // Otherwise agreement would prove little: one instance taking every key agrees trivially.
    Set<String> owners = new HashSet<>();
    for (String[] key : KEYS) {
      owners.add(httpCall(key));
    }
    assertThat(owners).containsExactlyInAnyOrder("instance-1", "instance-2", "instance-3");
  }

  private static String grpcCall(String[] values) {
    Metadata headers = new Metadata();
    Metadata.Key<String> key = Metadata.Key.of("x-user", Metadata.ASCII_STRING_MARSHALLER);
    Arrays.stream(values).forEach(v -> headers.put(key, v));
    return XdsClients.call(channel, EchoBackend.WHO, headers, 20_000);
  }

  private static String httpCall(String[] values) throws Exception {
    byte[] message = "hi".getBytes(StandardCharsets.UTF_8);
    // A gRPC frame: not compressed, 4-byte big-endian length, the message.
    ByteBuffer frame = ByteBuffer.allocate(5 + message.length).put((byte) 0).putInt(message.length).put(message);
    Request.Builder b = new Request.Builder()
        .url("http://ring-http/" + EchoBackend.SERVICE + "/Who")
        .header("te", "trailers")
        .post(RequestBody.create(frame.array(), MediaType.get("application/grpc")));
    Arrays.stream(values).forEach(v -> b.addHeader("x-user", v));
    try (Response r = http.newCall(b.build()).execute()) {
      assertThat(r.code()).isEqualTo(200);
      byte[] body = r.body().bytes();
      assertThat(body.length).as("a gRPC frame in the body, trailers %s", r.trailers()).isGreaterThan(5);
      return new String(body, 5, body.length - 5, StandardCharsets.UTF_8);
    }
  }
}
