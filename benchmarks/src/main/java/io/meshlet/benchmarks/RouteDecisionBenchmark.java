package io.meshlet.benchmarks;

import io.meshlet.config.CircuitBreakerPolicy;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.MeshSnapshot;
import io.meshlet.config.RequestMatch;
import io.meshlet.config.RouteRule;
import io.meshlet.config.RouteTable;
import io.meshlet.internal.policy.PolicyEngine;
import io.meshlet.internal.telemetry.Telemetry;
import io.meshlet.UnknownServiceException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of Meshlet's route decision for one call: find the service's route table, match the
 * path and headers rule by rule (first match wins), pick a cluster by weight, look up its
 * policies, and pick an endpoint by round robin. Beside it, {@code directLookup}: what a client
 * without a mesh does (a map lookup and a round-robin pick).
 *
 * <p>{@code routes} is the total number of routes in the mesh; {@code layout} {@code spread} puts
 * them in services of 10 routes each (a typical mesh), {@code single} puts them all in one
 * service (the worst case: the call matches the last of them). The call always matches the last
 * route of its service and carries one header.
 *
 * <pre>
 * ./mvnw -B -q -DskipTests package -pl benchmarks -am
 * java -jar benchmarks/target/benchmarks.jar RouteDecisionBenchmark -prof gc
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RouteDecisionBenchmark {

  @Param({"10", "1000"})
  public int routes;

  @Param({"spread", "single"})
  public String layout;

  private PolicyEngine engine;
  private String service;
  private String path;
  private Function<String, String> headers;
  private Map<String, List<String>> direct;
  private final AtomicLong counter = new AtomicLong();

  @Setup
  public void setUp() {
    int perService = layout.equals("single") ? routes : Math.min(10, routes);
    int services = Math.max(1, routes / perService);
    Map<String, RouteTable> tables = new HashMap<>();
    Map<String, ClusterConfig> clusters = new HashMap<>();
    direct = new HashMap<>();
    for (int s = 0; s < services; s++) {
      String name = "svc" + s;
      List<EndpointConfig> endpoints = List.of(
          new EndpointConfig("10.0." + (s % 250) + ".1", 8080, 1, Map.of("version", "v1")),
          new EndpointConfig("10.0." + (s % 250) + ".2", 8080, 1, Map.of("version", "v1")),
          new EndpointConfig("10.0." + (s % 250) + ".3", 8080, 1, Map.of("version", "v2")));
      for (String subset : List.of("v1", "v2")) {
        clusters.put(name + "/" + subset, new ClusterConfig(name + "/" + subset,
            ClusterConfig.LoadBalancing.ROUND_ROBIN, CircuitBreakerPolicy.defaults(), Optional.empty(),
            endpoints.stream().filter(e -> e.labels().get("version").equals(subset)).toList()));
      }
      List<RouteRule> rules = new ArrayList<>();
      for (int r = 0; r < perService; r++) {
        rules.add(new RouteRule(name + "#" + r,
            new RequestMatch(RequestMatch.PathKind.PREFIX, "/api/r" + r + "/",
                List.of(new RequestMatch.HeaderCondition("x-tenant", RequestMatch.HeaderCondition.Kind.EXACT,
                    "t" + r, false))),
            List.of(new RouteRule.WeightedCluster(name + "/v1", 90), new RouteRule.WeightedCluster(name + "/v2", 10)),
            Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty()));
      }
      tables.put(name, new RouteTable(name, rules));
      direct.put(name, endpoints.stream().map(EndpointConfig::address).toList());
    }
    engine = new PolicyEngine(System::nanoTime, Telemetry.noop());
    engine.update(new MeshSnapshot(tables, clusters, "bench", Instant.now()));
    service = "svc" + (services - 1);
    int last = perService - 1;
    path = "/api/r" + last + "/items/42";
    String tenant = "t" + last;
    headers = name -> name.equals("x-tenant") ? tenant : null;
  }

  /** Meshlet: route match, weighted cluster pick, policy lookup, endpoint pick. */
  @Benchmark
  public EndpointConfig meshletDecision() throws UnknownServiceException {
    PolicyEngine.Route route = engine.route(service, path, headers);
    return route.cluster().pickEndpoint(null);
  }

  /** No mesh: a map lookup and a round-robin pick. */
  @Benchmark
  public String directLookup() {
    List<String> endpoints = direct.get(service);
    return endpoints.get((int) (counter.getAndIncrement() % endpoints.size()));
  }
}
