package io.meshlet.benchmarks.harness;

import io.meshlet.MeshClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Mode {@code client-heap <xds-port> <clients> <services> [<on-demand services>]}: the heap a
 * {@link MeshClient} retains with the whole config of a mesh of {@code services} services, or,
 * subscribing on demand, with the first {@code on-demand} of them: one client is built first
 * (classes, shared gRPC and Netty state), then {@code clients} more; the figure is the heap after GC
 * grown by those, divided by their number. On demand it also times the first call to a service not
 * yet held (its route, waiting for its config) against one ADS round trip to the same server.
 */
final class ClientHeap {

  private ClientHeap() {}

  static void main(String[] args) throws Exception {
    Proc.exitWhenStdinCloses();
    String controlServer = "127.0.0.1:" + args[0];
    int count = Integer.parseInt(args[1]);
    int services = Integer.parseInt(args[2]);
    int onDemand = args.length > 3 ? Integer.parseInt(args[3]) : 0;
    int held = onDemand > 0 ? onDemand : services;
    List<MeshClient> clients = new ArrayList<>();
    clients.add(await(client(controlServer, "heap-warm", onDemand).start(), held));
    Thread.sleep(500);
    long before = Proc.heapAfterGc();
    for (int i = 0; i < count; i++) {
      clients.add(client(controlServer, "heap-" + i, onDemand).start());
    }
    for (MeshClient c : clients) {
      await(c, held);
    }
    Thread.sleep(500);
    long after = Proc.heapAfterGc();
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("services", services);
    r.put("clients", count);
    r.put("heapBeforeBytes", before);
    r.put("heapAfterBytes", after);
    r.put("perClientBytes", (after - before) / (double) count);
    if (onDemand > 0) {
      r.put("onDemandServices", onDemand);
      firstCalls(clients.get(0), args[0], services, r);
    }
    Proc.say("RESULT", r);
    for (MeshClient c : clients) {
      c.close();
    }
    System.exit(0);
  }

  private static MeshClient.Builder builder(String controlServer, String nodeId) {
    return MeshClient.builder().xdsPlaintext().serviceName("heap").nodeId(nodeId).controlServers(controlServer);
  }

  private static MeshClient client(String controlServer, String nodeId, int onDemand) {
    MeshClient.Builder b = builder(controlServer, nodeId);
    if (onDemand > 0) {
      b.subscribeOnDemand(java.util.stream.IntStream.range(0, onDemand).mapToObj(i -> "svc-" + i)
          .toArray(String[]::new));
    }
    return b.build();
  }

  /**
   * The wait of a first call to a service not held yet (its route: listener, route configuration,
   * then the subset clusters it names), against one ADS round trip (a listener asked for by name
   * on a stream of its own), medians of 20 each.
   */
  private static void firstCalls(MeshClient client, String xdsPort, int services, Map<String, Object> r)
      throws Exception {
    List<Double> waits = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      String service = "svc-" + (services - 1 - i);
      long start = System.nanoTime();
      client.calls().route(service, "/", h -> null);
      waits.add((System.nanoTime() - start) / 1e6);
    }
    List<Double> trips = new ArrayList<>();
    io.grpc.ManagedChannel channel = io.grpc.Grpc.newChannelBuilderForAddress("127.0.0.1", Integer.parseInt(xdsPort),
        io.grpc.InsecureChannelCredentials.create()).build();
    try {
      for (int i = 0; i < 20; i++) {
        java.util.concurrent.CompletableFuture<Long> answered = new java.util.concurrent.CompletableFuture<>();
        io.grpc.stub.StreamObserver<io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest> requests =
            io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc.newStub(channel)
                .streamAggregatedResources(new io.grpc.stub.StreamObserver<>() {
                  @Override
                  public void onNext(io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse value) {
                    answered.complete(System.nanoTime());
                  }

                  @Override
                  public void onError(Throwable t) {
                    answered.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
        long start = System.nanoTime();
        requests.onNext(io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest.newBuilder()
            .setNode(io.envoyproxy.envoy.config.core.v3.Node.newBuilder().setId("rtt-" + i).setCluster("heap"))
            .setTypeUrl("type.googleapis.com/envoy.config.listener.v3.Listener")
            .addResourceNames("svc-" + i).build());
        long end = answered.get(10, java.util.concurrent.TimeUnit.SECONDS);
        trips.add((end - start) / 1e6);
        requests.onCompleted();
      }
    } finally {
      channel.shutdownNow();
    }
    r.put("firstCallWaitMsMedian", median(waits));
    r.put("adsRoundTripMsMedian", median(trips));
  }

  private static double median(List<Double> values) {
    List<Double> sorted = new ArrayList<>(values);
    java.util.Collections.sort(sorted);
    return sorted.get(sorted.size() / 2);
  }

  private static MeshClient await(MeshClient client, int services) throws InterruptedException {
    long end = System.nanoTime() + 60_000_000_000L;
    while (client.snapshot() == null || client.snapshot().services().size() < services) {
      if (System.nanoTime() > end) {
        throw new IllegalStateException("a MeshClient did not get all " + services + " services within 60 s");
      }
      Thread.sleep(20);
    }
    return client;
  }
}
