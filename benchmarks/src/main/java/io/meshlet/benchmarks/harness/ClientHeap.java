package io.meshlet.benchmarks.harness;

import io.meshlet.MeshClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Mode {@code client-heap <xds-port> <clients> <services>}: the heap a {@link MeshClient} retains
 * with the whole config of a mesh of {@code services} services: one client is built first (classes,
 * shared gRPC and Netty state), then {@code clients} more; the figure is the heap after GC grown by
 * those, divided by their number.
 */
final class ClientHeap {

  private ClientHeap() {}

  static void main(String[] args) throws Exception {
    Proc.exitWhenStdinCloses();
    String controlServer = "127.0.0.1:" + args[0];
    int count = Integer.parseInt(args[1]);
    int services = Integer.parseInt(args[2]);
    List<MeshClient> clients = new ArrayList<>();
    clients.add(await(MeshClient.builder().xdsPlaintext().serviceName("heap").nodeId("heap-warm").controlServers(controlServer)
        .build().start(), services));
    Thread.sleep(500);
    long before = Proc.heapAfterGc();
    for (int i = 0; i < count; i++) {
      clients.add(MeshClient.builder().xdsPlaintext().serviceName("heap").nodeId("heap-" + i).controlServers(controlServer)
          .build().start());
    }
    for (MeshClient c : clients) {
      await(c, services);
    }
    Thread.sleep(500);
    long after = Proc.heapAfterGc();
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("services", services);
    r.put("clients", count);
    r.put("heapBeforeBytes", before);
    r.put("heapAfterBytes", after);
    r.put("perClientBytes", (after - before) / (double) count);
    Proc.say("RESULT", r);
    for (MeshClient c : clients) {
      c.close();
    }
    System.exit(0);
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
