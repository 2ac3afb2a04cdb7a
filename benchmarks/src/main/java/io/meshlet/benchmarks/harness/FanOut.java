package io.meshlet.benchmarks.harness;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
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
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Control-plane fan-out: {@code clients} lightweight ADS clients subscribe to every cluster and to
 * the endpoints of each, as an HTTP client of the mesh does, and ACK every response. Then one edit
 * of {@code mesh.yaml} adds an instance to a service; the figure is the time from the write until
 * every stream has ACKed the new endpoints version, with the control server (alone in its JVM)
 * polling the file every 50 ms. Also the server's heap after GC, and the CPU time of each side.
 *
 * <p>The clients are cheap so that they do not starve the server of the machine's cores: raw
 * grpc-java stubs in this one JVM, {@value #STREAMS_PER_CHANNEL} streams per channel, every
 * channel on one Netty event loop thread, callbacks run on that thread (no executor, no thread
 * per client). {@code protocol} is {@code delta} (incremental ADS, {@code
 * DeltaAggregatedResources}: a response carries only what changed) or {@code sotw} (state of the
 * world: every response carries every subscribed resource of its type).
 */
final class FanOut {

  static final String CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
  static final String ENDPOINTS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
  static final int SERVICES = 20;
  static final long POLL_MS = 50;
  static final int STREAMS_PER_CHANNEL = 1000;
  /**
   * Streams opened at a time; the next wave opens once this one has its endpoints. All 50,000 at
   * once kept the clients' one event loop thread so busy that it missed the server's keepalive
   * pings (answer within 5 s) and the server closed whole connections: the connect storm is not
   * what this measures.
   */
  static final int WAVE = 5000;

  private FanOut() {}

  static Map<String, Object> run(int clients, String protocol, Path work) throws Exception {
    if (!protocol.equals("sotw") && !protocol.equals("delta")) {
      throw new IllegalArgumentException("fan-out protocol: " + protocol + " (expected: sotw or delta)");
    }
    boolean delta = protocol.equals("delta");
    Path dir = Files.createDirectories(work.resolve("fanout-" + protocol + "-" + clients));
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, ServerChild.meshYaml(SERVICES, 0));
    Client.errors.set(0);
    Client.firstError.set(null);
    List<ManagedChannel> channels = new ArrayList<>();
    EventLoopGroup loop = new NioEventLoopGroup(1);
    String serverHeap = System.getProperty("harness.serverXmx", "2g");
    List<String> jvm = new ArrayList<>(List.of("-Xmx" + serverHeap));
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
        channels.add(NettyChannelBuilder.forAddress("127.0.0.1", xdsPort).usePlaintext()
            .eventLoopGroup(loop).channelType(NioSocketChannel.class).directExecutor()
            .maxInboundMessageSize(64 << 20).build());
      }
      CountDownLatch subscribed = new CountDownLatch(clients);
      CountDownLatch converged = new CountDownLatch(clients);
      List<Client> streams = new ArrayList<>(clients);
      double load0 = loadAverage();
      long cpuConnect0 = Proc.cpuNanos(pid);
      long selfConnect0 = Proc.selfCpuNanos();
      long t0 = System.nanoTime();
      long subscribeWait = Math.max(180, clients / 100);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(subscribeWait);
      boolean allSubscribed = true;
      for (int i = 0; i < clients && allSubscribed; i++) {
        Client s = delta ? new DeltaClient("fanout-" + i, subscribed, converged)
            : new SotwClient("fanout-" + i, subscribed, converged);
        s.open(channels.get(i % channelCount));
        streams.add(s);
        if ((i + 1) % WAVE == 0 || i + 1 == clients) {
          while (subscribed.getCount() > clients - (i + 1) && System.nanoTime() < deadline) {
            if (Client.errors.get() > 0) {
              throw new IllegalStateException(Client.errors.get() + " ADS streams failed while subscribing, the first: "
                  + Client.firstError.get(), Client.firstError.get());
            }
            Thread.sleep(20);
          }
          allSubscribed = subscribed.getCount() <= clients - (i + 1);
        }
      }
      long connectNanos = System.nanoTime() - t0;
      long cpuConnect = Proc.cpuNanos(pid) - cpuConnect0;
      long selfConnect = Proc.selfCpuNanos() - selfConnect0;
      if (!allSubscribed) {
        throw new IllegalStateException((clients - subscribed.getCount()) + " of " + clients
            + " ADS streams got their endpoints within " + subscribeWait + " s");
      }
      Thread.sleep(500);
      long connected = connectedClients(adminPort);
      long heapConnected = server.childHeapAfterGc();
      long rssConnected = Proc.rssBytes(pid);
      long clientHeapConnected = Proc.heapAfterGc();

      String before = streams.get(0).edsVersion;
      for (Client s : streams) {
        s.baseline = before;
      }
      Thread.sleep(200);
      double loadEdit = loadAverage();
      long cpu0 = Proc.cpuNanos(pid);
      long self0 = Proc.selfCpuNanos();
      Path tmp = dir.resolve("mesh.yaml.tmp");
      Files.writeString(tmp, ServerChild.meshYaml(SERVICES, 1));
      long edit = System.nanoTime();
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      boolean all = converged.await(Math.max(120, clients / 250), TimeUnit.SECONDS);
      long cpuEdit = Proc.cpuNanos(pid) - cpu0;
      long selfEdit = Proc.selfCpuNanos() - self0;
      long[] times = streams.stream().mapToLong(s -> s.convergedAt).filter(t -> t != 0).map(t -> t - edit)
          .sorted().toArray();
      long heapAfter = server.childHeapAfterGc();

      Map<String, Object> r = new LinkedHashMap<>();
      r.put("clients", clients);
      r.put("protocol", protocol);
      r.put("channels", channelCount);
      r.put("clientEventLoopThreads", 1);
      r.put("services", SERVICES);
      r.put("pollIntervalMs", POLL_MS);
      r.put("serverXmx", serverHeap);
      r.put("connectedOnServer", connected);
      r.put("loadAverageAtSubscribe", load0);
      r.put("subscribeAllMs", connectNanos / 1e6);
      r.put("serverCpuSubscribeMs", cpuConnect / 1e6);
      r.put("clientCpuSubscribeMs", selfConnect / 1e6);
      r.put("loadAverageAtEdit", loadEdit);
      r.put("acked", times.length);
      r.put("allAcked", all);
      r.put("firstAckMs", times.length > 0 ? times[0] / 1e6 : null);
      r.put("medianAckMs", times.length > 0 ? times[times.length / 2] / 1e6 : null);
      r.put("p99AckMs", times.length > 0 ? times[(int) (times.length * 0.99)] / 1e6 : null);
      r.put("lastAckMs", times.length > 0 ? times[times.length - 1] / 1e6 : null);
      r.put("serverCpuEditMs", cpuEdit / 1e6);
      r.put("clientCpuEditMs", selfEdit / 1e6);
      r.put("streamErrors", Client.errors.get());
      r.put("serverHeapIdleBytes", heapIdle);
      r.put("serverHeapConnectedBytes", heapConnected);
      r.put("serverHeapAfterEditBytes", heapAfter);
      r.put("serverHeapPerClientBytes", (heapConnected - heapIdle) / (double) clients);
      r.put("serverRssIdleBytes", rssIdle);
      r.put("serverRssConnectedBytes", rssConnected);
      r.put("clientHeapConnectedBytes", clientHeapConnected);
      return r;
    } finally {
      for (ManagedChannel c : channels) {
        c.shutdownNow();
      }
      for (ManagedChannel c : channels) {
        c.awaitTermination(5, TimeUnit.SECONDS);
      }
      loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }
  }

  /** The 1-minute load average, for the record: figures taken while others use the cores are noisy. */
  static double loadAverage() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    } catch (IOException | RuntimeException e) {
      return -1;
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

  /**
   * The EDS service names of the clusters given, each cluster parsed once for all clients (they
   * all get the same bytes): the clients must stay cheap beside the server they measure.
   */
  static List<String> edsNames(List<Any> clusters) {
    List<String> names = new ArrayList<>();
    for (Any any : clusters) {
      String name = EDS_NAMES.computeIfAbsent(any.getValue(), FanOut::edsName);
      if (!name.isEmpty()) {
        names.add(name);
      }
    }
    return names;
  }

  private static final Map<ByteString, String> EDS_NAMES = new ConcurrentHashMap<>();

  /** The EDS service name of a cluster; empty if it takes no endpoints from EDS. */
  private static String edsName(ByteString cluster) {
    try {
      Cluster c = Cluster.parseFrom(cluster);
      if (!c.hasEdsClusterConfig()) {
        return "";
      }
      String sn = c.getEdsClusterConfig().getServiceName();
      return sn.isEmpty() ? c.getName() : sn;
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  /** One ADS client; its callbacks run on the channel's event loop, one at a time. */
  abstract static class Client {
    static final AtomicLong errors = new AtomicLong();
    static final AtomicReference<Throwable> firstError = new AtomicReference<>();
    final Node node;
    private final CountDownLatch subscribed;
    private final CountDownLatch converged;
    volatile String edsVersion;
    volatile String baseline;
    volatile long convergedAt;

    Client(String id, CountDownLatch subscribed, CountDownLatch converged) {
      this.node = Node.newBuilder().setId(id).setCluster("fanout").setUserAgentName("meshlet-fanout-bench").build();
      this.subscribed = subscribed;
      this.converged = converged;
    }

    abstract void open(ManagedChannel channel);

    /** An endpoints response of type version {@code version} was ACKed. */
    final void endpointsAcked(String version) {
      String previous = edsVersion;
      edsVersion = version;
      if (previous == null) {
        subscribed.countDown();
      }
      String b = baseline;
      if (b != null && convergedAt == 0 && !b.equals(version)) {
        convergedAt = System.nanoTime();
        converged.countDown();
      }
    }
  }

  /** State of the world: CDS (wildcard), then EDS for the clusters it names; ACKs every response. */
  static final class SotwClient extends Client implements StreamObserver<DiscoveryResponse> {
    private StreamObserver<DiscoveryRequest> requests;
    private List<String> edsNames;

    SotwClient(String id, CountDownLatch subscribed, CountDownLatch converged) {
      super(id, subscribed, converged);
    }

    @Override
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
          edsNames = edsNames(response.getResourcesList());
          send(DiscoveryRequest.newBuilder().setTypeUrl(ENDPOINTS).addAllResourceNames(edsNames).build());
        }
      } else if (response.getTypeUrl().equals(ENDPOINTS)) {
        send(DiscoveryRequest.newBuilder().setTypeUrl(ENDPOINTS).addAllResourceNames(edsNames)
            .setVersionInfo(response.getVersionInfo()).setResponseNonce(response.getNonce()).build());
        endpointsAcked(response.getVersionInfo());
      }
    }

    @Override
    public void onError(Throwable t) {
      errors.incrementAndGet();
      firstError.compareAndSet(null, t);
    }

    @Override
    public void onCompleted() {
      // the server ended the stream
    }
  }

  /**
   * Incremental: CDS wildcard, then EDS for the clusters it names, by difference; ACKs every
   * response. The endpoints version it tracks is the responses' {@code system_version_info}.
   */
  static final class DeltaClient extends Client implements StreamObserver<DeltaDiscoveryResponse> {
    private StreamObserver<DeltaDiscoveryRequest> requests;
    private boolean edsSubscribed;

    DeltaClient(String id, CountDownLatch subscribed, CountDownLatch converged) {
      super(id, subscribed, converged);
    }

    @Override
    void open(ManagedChannel channel) {
      requests = AggregatedDiscoveryServiceGrpc.newStub(channel).deltaAggregatedResources(this);
      send(DeltaDiscoveryRequest.newBuilder().setNode(node).setTypeUrl(CLUSTER).build());
    }

    private synchronized void send(DeltaDiscoveryRequest r) {
      requests.onNext(r);
    }

    @Override
    public void onNext(DeltaDiscoveryResponse response) {
      send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(response.getTypeUrl())
          .setResponseNonce(response.getNonce()).build());
      if (response.getTypeUrl().equals(CLUSTER)) {
        if (!edsSubscribed) {
          edsSubscribed = true;
          send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ENDPOINTS)
              .addAllResourceNamesSubscribe(edsNames(response.getResourcesList().stream().map(Resource::getResource)
                  .toList())).build());
        }
      } else if (response.getTypeUrl().equals(ENDPOINTS)) {
        endpointsAcked(response.getSystemVersionInfo());
      }
    }

    @Override
    public void onError(Throwable t) {
      errors.incrementAndGet();
      firstError.compareAndSet(null, t);
    }

    @Override
    public void onCompleted() {
      // the server ended the stream
    }
  }

  static String label(Map<String, Object> f) {
    return String.format(Locale.ROOT, "%,d %s", ((Number) f.get("clients")).intValue(), f.get("protocol"));
  }
}
