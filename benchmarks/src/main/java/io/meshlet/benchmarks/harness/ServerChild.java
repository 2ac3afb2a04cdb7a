package io.meshlet.benchmarks.harness;

import io.meshlet.controlplane.ControlServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/** Mode {@code server <mesh.yaml> <poll-ms>}: a control server alone in its JVM, for its heap and CPU. */
final class ServerChild {

  private ServerChild() {}

  static void main(String[] args) throws Exception {
    try (ControlServer server = ControlServer.builder().xdsPlaintext(true).configFile(Path.of(args[0])).xdsPort(0).adminPort(0)
        .pollInterval(Duration.ofMillis(Long.parseLong(args[1]))).build().start()) {
      Map<String, Object> ready = new LinkedHashMap<>();
      ready.put("xdsPort", server.xdsPort());
      ready.put("adminPort", server.adminPort());
      ready.put("pid", ProcessHandle.current().pid());
      Proc.say("READY", ready);
      Proc.serveUntilStdinCloses();
    }
  }

  /** A mesh of {@code services} HTTP services, each with two endpoints and one route with a timeout. */
  static String meshYaml(int services, int extraEndpointsOfFirst) {
    StringBuilder sb = new StringBuilder("services:\n");
    for (int s = 0; s < services; s++) {
      sb.append("  svc-").append(s).append(":\n");
      sb.append("    endpoints:\n");
      int endpoints = 2 + (s == 0 ? extraEndpointsOfFirst : 0);
      for (int e = 0; e < endpoints; e++) {
        sb.append("      - { address: 10.").append(s / 250).append('.').append(s % 250).append('.').append(e + 1)
            .append(":8080, labels: { version: v").append(e % 2 + 1).append(" } }\n");
      }
      sb.append("    subsets: { v1: { version: v1 }, v2: { version: v2 } }\n");
      sb.append("    routes:\n");
      sb.append("      - match: { pathPrefix: /api, headers: { x-canary: \"true\" } }\n");
      sb.append("        to: [ { subset: v2, weight: 100 } ]\n");
      sb.append("      - to: [ { subset: v1, weight: 90 }, { subset: v2, weight: 10 } ]\n");
      sb.append("        timeout: 2s\n");
      sb.append("        retries: { attempts: 2 }\n");
    }
    return sb.toString();
  }

  /**
   * The same mesh as {@link #meshYaml} in YAML's flow style, one line per service: 10,000 services
   * fit in mesh.yaml's 4 MiB limit this way.
   */
  /**
   * A mesh of {@code services} services, two endpoints each: even-numbered services split by subsets
   * (v1, v2) and a canary header route, odd-numbered ones route to themselves with a timeout and
   * retries and name no subset (a first call to one needs its four resources and nothing more).
   */
  static String meshYamlCompact(int services) {
    StringBuilder sb = new StringBuilder("services:\n");
    for (int s = 0; s < services; s++) {
      String net = "10." + s / 250 + "." + s % 250 + ".";
      if (s % 2 == 1) {
        sb.append("  svc-").append(s).append(": { endpoints: [ { address: ").append(net)
            .append("1:8080 }, { address: ").append(net).append("2:8080 } ],")
            .append(" routes: [ { to: [ { weight: 100 } ], timeout: 2s, retries: { attempts: 2 } } ] }\n");
        continue;
      }
      sb.append("  svc-").append(s).append(": { endpoints: [ { address: ").append(net)
          .append("1:8080, labels: { version: v1 } }, { address: ").append(net)
          .append("2:8080, labels: { version: v2 } } ], subsets: { v1: { version: v1 }, v2: { version: v2 } },")
          .append(" routes: [ { match: { pathPrefix: /api, headers: { x-canary: \"true\" } },")
          .append(" to: [ { subset: v2, weight: 100 } ] },")
          .append(" { to: [ { subset: v1, weight: 90 }, { subset: v2, weight: 10 } ], timeout: 2s,")
          .append(" retries: { attempts: 2 } } ] }\n");
    }
    return sb.toString();
  }
}
