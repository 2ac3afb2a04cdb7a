package io.meshlet.internal.xds;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.meshlet.config.MeshSnapshot;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A control server that sends garbage: resources whose bytes are random or cut short, a resource
 * of another type inside a response, responses of a type nobody asked for. A scripted ADS server
 * on loopback, since a real one cannot be made to send such bytes. The client must answer every
 * unreadable response with a NACK that says what was wrong, keep its stream and its last good
 * snapshot, and take the next good version.
 */
class AdsGarbageTest {

  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final int GARBAGE_RESPONSES = 600;

  /** An ADS server whose every response the test writes by hand. */
  static final class ScriptedServer implements AutoCloseable {
    final BlockingQueue<DiscoveryRequest> requests = new LinkedBlockingQueue<>();
    final BlockingQueue<StreamObserver<DiscoveryResponse>> streams = new LinkedBlockingQueue<>();
    private final Server server;
    private int nonce;

    ScriptedServer() throws Exception {
      server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
          .addService(new AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceImplBase() {
            @Override
            public StreamObserver<DiscoveryRequest> streamAggregatedResources(
                StreamObserver<DiscoveryResponse> responses) {
              streams.add(responses);
              return new StreamObserver<>() {
                @Override
                public void onNext(DiscoveryRequest request) {
                  requests.add(request);
                }

                @Override
                public void onError(Throwable t) {}

                @Override
                public void onCompleted() {
                  responses.onCompleted();
                }
              };
            }
          }).build().start();
    }

    String target() {
      return "127.0.0.1:" + server.getPort();
    }

    /** Sends a response; returns its nonce. */
    synchronized String send(StreamObserver<DiscoveryResponse> stream, String type, String version,
        List<Any> resources) {
      String n = Integer.toString(++nonce);
      stream.onNext(DiscoveryResponse.newBuilder().setTypeUrl(type).setVersionInfo(version).setNonce(n)
          .addAllResources(resources).build());
      return n;
    }

    /** The ACK or NACK of the response with this nonce, skipping subscription changes. */
    DiscoveryRequest answerTo(String nonce) throws InterruptedException {
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (true) {
        DiscoveryRequest r = requests.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
        assertThat(r).as("an answer to the response with nonce %s", nonce).isNotNull();
        if (r.getResponseNonce().equals(nonce)) {
          return r;
        }
      }
    }

    @Override
    public void close() throws InterruptedException {
      server.shutdownNow();
      server.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private ScriptedServer server;
  private AdsClient client;
  private ScheduledExecutorService executor;
  private final BlockingQueue<MeshSnapshot> snapshots = new LinkedBlockingQueue<>();
  private final BlockingQueue<String> nacks = new LinkedBlockingQueue<>();
  private final BlockingQueue<Status> disconnects = new LinkedBlockingQueue<>();

  @BeforeEach
  void start() throws Exception {
    server = new ScriptedServer();
    executor = Executors.newSingleThreadScheduledExecutor();
    client = new AdsClient(List.of(server.target()), Node.newBuilder().setId("frontend~garbage").build(),
        new AdsClient.Handler() {
          @Override
          public void onSnapshot(MeshSnapshot snapshot) {
            snapshots.add(snapshot);
          }

          @Override
          public void onNack(String typeUrl, String version, String message) {
            nacks.add(message);
          }

          @Override
          public void onConnected(String s) {}

          @Override
          public void onDisconnected(String s, Status status, Duration retryIn) {
            disconnects.add(status);
          }
        }, executor, Clock.systemUTC(), Duration.ofMillis(10), Duration.ofMillis(50), io.grpc.InsecureChannelCredentials.create(), null);
    client.start();
  }

  @AfterEach
  void stop() throws Exception {
    if (client != null) {
      client.close();
    }
    executor.shutdownNow();
    server.close();
  }

  /** Answers each type the client asks for with version 1 of the catalog mesh, until a snapshot is built. */
  private StreamObserver<DiscoveryResponse> serveVersion1() throws InterruptedException {
    StreamObserver<DiscoveryResponse> stream = server.streams.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(stream).as("the client's stream").isNotNull();
    Set<String> answered = new HashSet<>();
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (snapshots.isEmpty()) {
      assertThat(System.nanoTime()).as("the first snapshot in time").isLessThan(deadline);
      DiscoveryRequest r = server.requests.poll(100, TimeUnit.MILLISECONDS);
      if (r != null && answered.add(r.getTypeUrl())) {
        server.send(stream, r.getTypeUrl(), "1", version1(r.getTypeUrl()));
      }
    }
    server.requests.clear();
    return stream;
  }

  /** The resources of one type in version 1 of the catalog mesh. */
  private static List<Any> version1(String type) {
    AdsClientTest.Mesh v1 = AdsClientTest.Mesh.catalog("1");
    return type.equals(AdsClient.LDS) ? pack(v1.listeners())
        : type.equals(AdsClient.RDS) ? pack(v1.routes())
        : type.equals(AdsClient.CDS) ? pack(v1.clusters())
        : pack(v1.endpoints());
  }

  private static List<Any> pack(List<? extends Message> messages) {
    return messages.stream().map(Any::pack).toList();
  }

  @Test
  void unreadableResourcesAreNackedPreciselyAndTheLastGoodSnapshotStays() throws Exception {
    StreamObserver<DiscoveryResponse> stream = serveVersion1();
    MeshSnapshot good = snapshots.take();
    List<String> types = List.of(AdsClient.LDS, AdsClient.RDS, AdsClient.CDS, AdsClient.EDS);
    List<List<Any>> valid = types.stream().map(AdsGarbageTest::version1).toList();
    Random random = new Random(8);
    List<String> messages = new ArrayList<>();
    int accepted = 0;
    for (int i = 0; i < GARBAGE_RESPONSES; i++) {
      int t = random.nextInt(types.size());
      String type = types.get(t);
      Any any = valid.get(t).get(0);
      byte[] bytes = any.getValue().toByteArray();
      Any bad = switch (i % 3) {
        // Random bytes under the right type.
        case 0 -> any.toBuilder().setValue(ByteString.copyFrom(randomBytes(random, 1 + random.nextInt(64)))).build();
        // A valid resource cut short.
        case 1 -> any.toBuilder().setValue(ByteString.copyFrom(bytes, 0, 1 + random.nextInt(bytes.length - 1))).build();
        // A resource of another type.
        default -> valid.get((t + 1 + random.nextInt(3)) % 4).get(0);
      };
      String version = "garbage-" + i;
      DiscoveryRequest answer = server.answerTo(server.send(stream, type, version, List.of(bad)));
      if (!answer.hasErrorDetail()) {
        // Random or cut-short bytes can still parse as a message that is acceptable (a listener
        // without an api_listener is a server-side listener, for instance): an ACK is then right.
        // Put version 1 back before the next one.
        assertThat(answer.getVersionInfo()).isEqualTo(version);
        accepted++;
        assertThat(server.answerTo(server.send(stream, type, "1", valid.get(t))).hasErrorDetail()).isFalse();
        continue;
      }
      assertThat(answer.getTypeUrl()).isEqualTo(type);
      assertThat(answer.getVersionInfo()).as("a NACK names the last good version").isEqualTo("1");
      assertThat(answer.getErrorDetail().getMessage()).as("the NACK of garbage response %d", i).isNotBlank();
      messages.add(answer.getErrorDetail().getMessage());
    }
    assertThat(disconnects).as("the stream survived every garbage response").isEmpty();
    assertThat(messages.size()).as("garbage responses NACKed (%d were readable and ACKed)", accepted)
        .isGreaterThan(GARBAGE_RESPONSES * 9 / 10);
    assertThat(messages).anySatisfy(m -> assertThat(m).contains("unreadable").contains("expected: a valid"));
    assertThat(messages).allSatisfy(m -> assertThat(m).hasSizeLessThan(2_000));
    // Only a NACKed response's version is never published; what was ACKed was put back to version 1.
    MeshSnapshot last = good;
    for (MeshSnapshot s; (s = snapshots.poll(200, TimeUnit.MILLISECONDS)) != null; ) {
      last = s;
    }
    assertThat(last.services()).as("the routes in force after the garbage").isEqualTo(good.services());
    assertThat(last.clusters()).as("the clusters in force after the garbage").isEqualTo(good.clusters());

    // A response of a type nobody subscribed to is ignored, not fatal.
    server.send(stream, "type.googleapis.com/not.a.Type", "x", List.of(Any.pack(Node.getDefaultInstance())));
    // And a good version 2 of the endpoints is taken at once.
    server.send(stream, AdsClient.EDS, "2", pack(AdsClientTest.Mesh.catalog("1")
        .endpoints("2", XdsFixtures.assignment("catalog/v1", "10.0.0.9:9001"),
            XdsFixtures.assignment("catalog/v2", "10.0.0.2:9002")).endpoints()));
    MeshSnapshot next = snapshots.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(next).as("version 2 after the garbage").isNotNull();
    assertThat(next.clusters().get("catalog/v1").endpoints()).extracting(e -> e.host() + ":" + e.port())
        .containsExactly("10.0.0.9:9001");
    assertThat(disconnects).isEmpty();
  }

  private static byte[] randomBytes(Random random, int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }
}
