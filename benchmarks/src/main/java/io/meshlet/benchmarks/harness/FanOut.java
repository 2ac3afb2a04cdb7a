package io.meshlet.benchmarks.harness;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Control-plane fan-out: {@code clients} lightweight ADS clients (raw state-of-the-world streams,
 * many per channel) subscribe to every cluster and to the endpoints of each, as an HTTP client of
 * the mesh does, and ACK every response. Then one edit of {@code mesh.yaml} adds an instance to a
 * service; the figure is the time from the write until every stream has ACKed the new endpoints
 * version, with the control server (alone in its JVM) polling the file every 50 ms. Also the
 * server's heap after GC and its CPU time.
 */
final class FanOut {

  static final String CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
  static final String ENDPOINTS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
  static final int SERVICES = 20;
  static final long POLL_MS = 50;
  static final int STREAMS_PER_CHANNEL = 1000;

  private FanOut() {}

  static Map<String, Object> run(int clients, Path work) throws Exception {
    Path dir = Files.createDirectories(work.resolve("fanout-" + clients));
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, ServerChild.meshYaml(SERVICES, 0));
    List<ManagedChannel> channels = new ArrayList<>();
    List<String> jvm = new ArrayList<>(List.of("-Xmx1g"));
    // e.g. -Dharness.serverJvm=-XX:StartFlightRecording=filename=server.jfr,settings=profile
    String extra = System.getProperty("harness.serverJvm", "");
    if (!extra.isBlank()) {
      jvm.addAll(List.of(extra.split(" ")));
    }
    try (Proc server = Proc.jvm("control-server", jvm, dir.resolve("server.log"), "server",
        List.of(file.toString(), Long.toString(POLL_MS)))) {
      Map<String, Object> ready = server.expectJson("READY");
      int xdsPort = (Integer) ready.get("xdsPort");
      int adminPort = (Integer) ready.get("adminPort");
      long pid = server.pid();
      Thread.sleep(500);
      long heapIdle = server.childHeapAfterGc();
      long rssIdle = Proc.rssBytes(pid);

      int channelCount = Math.max(1, (clients + STREAMS_PER_CHANNEL - 1) / STREAMS_PER_CHANNEL);
      for (int i = 0; i < channelCount; i++) {
        channels.add(Grpc.newChannelBuilderForAddress("127.0.0.1", xdsPort, InsecureChannelCredentials.create())
            .directExecutor().build());
      }
      CountDownLatch subscribed = new CountDownLatch(clients);
      CountDownLatch converged = new CountDownLatch(clients);
      List<AdsStream> streams = new ArrayList<>(clients);
      long cpuConnect0 = Proc.cpuNanos(pid);
      long t0 = System.nanoTime();
      for (int i = 0; i < clients; i++) {
        AdsStream s = new AdsStream("fanout-" + i, subscribed, converged);
        s.open(channels.get(i % channelCount));
        streams.add(s);
      }
      boolean allSubscribed = subscribed.await(180, TimeUnit.SECONDS);
      long connectNanos = System.nanoTime() - t0;
      long cpuConnect = Proc.cpuNanos(pid) - cpuConnect0;
      if (!allSubscribed) {
        throw new IllegalStateException((clients - subscribed.getCount()) + " of " + clients
            + " ADS streams got their endpoints within 180 s");
      }
      Thread.sleep(500);
      long connected = connectedClients(adminPort);
      long heapConnected = server.childHeapAfterGc();
      long rssConnected = Proc.rssBytes(pid);

      String before = streams.get(0).edsVersion;
      for (AdsStream s : streams) {
        s.baseline = before;
      }
      long cpu0 = Proc.cpuNanos(pid);
      Path tmp = dir.resolve("mesh.yaml.tmp");
      Files.writeString(tmp, ServerChild.meshYaml(SERVICES, 1));
      long edit = System.nanoTime();
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      boolean all = converged.await(120, TimeUnit.SECONDS);
      long cpuEdit = Proc.cpuNanos(pid) - cpu0;
      long[] times = streams.stream().mapToLong(s -> s.convergedAt).filter(t -> t != 0).map(t -> t - edit)
          .sorted().toArray();
      long heapAfter = server.childHeapAfterGc();

      Map<String, Object> r = new LinkedHashMap<>();
      r.put("clients", clients);
      r.put("channels", channelCount);
      r.put("services", SERVICES);
      r.put("pollIntervalMs", POLL_MS);
      r.put("connectedOnServer", connected);
      r.put("subscribeAllMs", connectNanos / 1e6);
      r.put("serverCpuSubscribeMs", cpuConnect / 1e6);
      r.put("acked", times.length);
      r.put("allAcked", all);
      r.put("firstAckMs", times.length > 0 ? times[0] / 1e6 : null);
      r.put("medianAckMs", times.length > 0 ? times[times.length / 2] / 1e6 : null);
      r.put("lastAckMs", times.length > 0 ? times[times.length - 1] / 1e6 : null);
      r.put("serverCpuEditMs", cpuEdit / 1e6);
      r.put("serverHeapIdleBytes", heapIdle);
      r.put("serverHeapConnectedBytes", heapConnected);
      r.put("serverHeapAfterEditBytes", heapAfter);
      r.put("serverHeapPerClientBytes", (heapConnected - heapIdle) / (double) clients);
      r.put("serverRssIdleBytes", rssIdle);
      r.put("serverRssConnectedBytes", rssConnected);
      return r;
    } finally {
      for (ManagedChannel c : channels) {
        c.shutdownNow();
      }
      for (ManagedChannel c : channels) {
        c.awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  private static long connectedClients(int adminPort) {
    try {
      String metrics = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      return Arrays.stream(metrics.split("\n")).filter(l -> l.startsWith("meshlet_xds_connected_clients"))
          .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElse(-1);
    } catch (IOException | RuntimeException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** One ADS stream: CDS (wildcard), then EDS for the clusters it names; ACKs every response. */
  static final class AdsStream implements StreamObserver<DiscoveryResponse> {
    private final Node node;
    private final CountDownLatch subscribed;
    private final CountDownLatch converged;
    private StreamObserver<DiscoveryRequest> requests;
    private List<String> edsNames;
    volatile String edsVersion;
    volatile String baseline;
    volatile long convergedAt;

    AdsStream(String id, CountDownLatch subscribed, CountDownLatch converged) {
      this.node = Node.newBuilder().setId(id).setCluster("fanout").setUserAgentName("meshlet-fanout-bench").build();
      this.subscribed = subscribed;
      this.converged = converged;
    }

    void open(ManagedChannel channel) {
      requests = AggregatedDiscoveryServiceGrpc.newStub(channel).streamAggregatedResources(this);
      send(DiscoveryRequest.newBuilder().setNode(node).setTypeUrl(CLUSTER).build());
    }

    private synchronized void send(DiscoveryRequest r) {
      requests.onNext(r);
    }

    @Override
    public void onNext(DiscoveryResponse response) {
      if (response.getTypeUrl().equals(CLUSTER)) {
        send(DiscoveryRequest.newBuilder().setTypeUrl(CLUSTER).setVersionInfo(response.getVersionInfo())
            .setResponseNonce(response.getNonce()).build());
        if (edsNames == null) {
          edsNames = new ArrayList<>();
          for (Any any : response.getResourcesList()) {
            try {
              Cluster c = Cluster.parseFrom(any.getValue());
              if (c.hasEdsClusterConfig()) {
                String sn = c.getEdsClusterConfig().getServiceName();
                edsNames.add(sn.isEmpty() ? c.getName() : sn);
              }
            } catch (InvalidProtocolBufferException e) {
              throw new IllegalStateException(e);
            }
          }
          send(DiscoveryRequest.newBuilder().setTypeUrl(ENDPOINTS).addAllResourceNames(edsNames).build());
        }
      } else if (response.getTypeUrl().equals(ENDPOINTS)) {
        send(DiscoveryRequest.newBuilder().setTypeUrl(ENDPOINTS).addAllResourceNames(edsNames)
            .setVersionInfo(response.getVersionInfo()).setResponseNonce(response.getNonce()).build());
        String previous = edsVersion;
        edsVersion = response.getVersionInfo();
        if (previous == null) {
          subscribed.countDown();
        }
        String b = baseline;
        if (b != null && convergedAt == 0 && !b.equals(response.getVersionInfo())) {
          convergedAt = System.nanoTime();
          converged.countDown();
        }
      }
    }

    @Override
    public void onError(Throwable t) {
      // counted as not converged
    }

    @Override
    public void onCompleted() {
      // the server ended the stream
    }
  }
}
