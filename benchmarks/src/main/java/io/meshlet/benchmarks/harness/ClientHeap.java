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
   * The wait of a first call to a service not held yet, for services whose routes name subsets
   * (even-numbered: listener, route configuration, own cluster and endpoints, then the subset
   * clusters the routes name and their endpoints) and for services that name none (odd-numbered:
   * the four resources only), against one ADS round trip of the same work: a raw stream that, like
   * the client, adds one service at a time to its subscriptions, but knows every name up front and
   * asks for the listener, route configuration, clusters and endpoints at once, then waits for the
   * four answers. The first calls are timed twice: 10 of each kind as the client's first (its and the
   * server's code paths still cold in the JIT), and 20 of each after 200 more.
   */
  private static void firstCalls(MeshClient client, String xdsPort, int services, Map<String, Object> r)
      throws Exception {
    int[] next = {services - 1};
    java.util.function.IntFunction<String> nextOfKind = odd -> {
      while (Math.floorMod(next[0], 2) != odd) {
        next[0]--;
      }
      return "svc-" + next[0]--;
    };
    List<Double> coldSubsets = new ArrayList<>();
    List<Double> coldPlain = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      coldSubsets.add(firstCall(client, nextOfKind.apply(0)));
      coldPlain.add(firstCall(client, nextOfKind.apply(1)));
    }
    for (int i = 0; i < 100; i++) {
      firstCall(client, nextOfKind.apply(0));
      firstCall(client, nextOfKind.apply(1));
    }
    List<Double> warmSubsets = new ArrayList<>();
    List<Double> warmPlain = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      warmSubsets.add(firstCall(client, nextOfKind.apply(0)));
      warmPlain.add(firstCall(client, nextOfKind.apply(1)));
    }
    int held = client.snapshot().services().size();
    r.put("firstCallWaitMsMedian", median(coldSubsets));
    r.put("firstCallNoSubsetsWaitMsMedian", median(coldPlain));
    r.put("firstCallWaitWarmMsMedian", median(warmSubsets));
    r.put("firstCallNoSubsetsWaitWarmMsMedian", median(warmPlain));
    r.put("servicesHeldAfter", held);
    r.put("adsRoundTripMsMedian", idealRoundTrip(xdsPort, held));
  }

  /**
   * One round trip of what a first call needs, on a raw stream holding as many services as the client
   * did by then: the median of the last 40 of {@code held} steps, each adding one service's four
   * resources (every name known) to the subscriptions and waiting for the four answers.
   */
  private static double idealRoundTrip(String xdsPort, int held) throws Exception {
    String[] types = {"type.googleapis.com/envoy.config.listener.v3.Listener",
        "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
        "type.googleapis.com/envoy.config.cluster.v3.Cluster",
        "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"};
    io.grpc.ManagedChannel channel = io.grpc.Grpc.newChannelBuilderForAddress("127.0.0.1", Integer.parseInt(xdsPort),
        io.grpc.InsecureChannelCredentials.create()).build();
    java.util.concurrent.BlockingQueue<io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse> answers =
        new java.util.concurrent.LinkedBlockingQueue<>();
    List<Double> trips = new ArrayList<>();
    try {
      io.grpc.stub.StreamObserver<io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest> requests =
          io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc.newStub(channel)
              .streamAggregatedResources(new io.grpc.stub.StreamObserver<>() {
                @Override
                public void onNext(io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse value) {
                  answers.add(value);
                }

                @Override
                public void onError(Throwable t) {}

                @Override
                public void onCompleted() {}
              });
      Map<String, List<String>> names = new java.util.HashMap<>();
      Map<String, String> nonces = new java.util.HashMap<>();
      Map<String, String> versions = new java.util.HashMap<>();
      for (String t : types) {
        names.put(t, new ArrayList<>());
      }
      for (int i = 0; i < held; i++) {
        String service = "svc-" + i;
        names.get(types[0]).add(service);
        names.get(types[1]).add(service);
        List<String> clusters = i % 2 == 1 ? List.of(service) : List.of(service, service + "/v1", service + "/v2");
        names.get(types[2]).addAll(clusters);
        names.get(types[3]).addAll(clusters);
        long start = System.nanoTime();
        for (String t : types) {
          io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest.Builder q =
              io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest.newBuilder().setTypeUrl(t)
                  .setVersionInfo(versions.getOrDefault(t, "")).setResponseNonce(nonces.getOrDefault(t, ""))
                  .addAllResourceNames(names.get(t));
          if (i == 0 && t.equals(types[0])) {
            q.setNode(io.envoyproxy.envoy.config.core.v3.Node.newBuilder().setId("rtt").setCluster("heap"));
          }
          requests.onNext(q.build());
        }
        java.util.Set<String> answered = new java.util.HashSet<>();
        while (answered.size() < types.length) {
          io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse answer =
              answers.poll(10, java.util.concurrent.TimeUnit.SECONDS);
          if (answer == null) {
            throw new IllegalStateException("no answer to a changed subscription within 10 s (answered: " + answered + ")");
          }
          answered.add(answer.getTypeUrl());
          nonces.put(answer.getTypeUrl(), answer.getNonce());
          versions.put(answer.getTypeUrl(), answer.getVersionInfo());
        }
        if (i >= held - 40) {
          trips.add((System.nanoTime() - start) / 1e6);
        }
      }
      requests.onCompleted();
    } finally {
      channel.shutdownNow();
    }
    return median(trips);
  }

  private static double firstCall(MeshClient client, String service) throws Exception {
    long start = System.nanoTime();
    client.calls().route(service, "/", h -> null);
    return (System.nanoTime() - start) / 1e6;
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
