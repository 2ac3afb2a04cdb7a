// Long by design: one Node grpc-js-xds process per class (its start-up is the cost), driving every
// supported feature from mesh.yaml; splitting it would start Node once per file.
package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.controlplane.testing.AdminClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.NodeXdsDriver;
import io.meshlet.controlplane.testing.NodeXdsDriver.Calls;
import io.meshlet.controlplane.testing.NodeXdsDriver.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Node's xDS client, {@code @grpc/grpc-js-xds}, follows what Meshlet's control server serves from
 * mesh.yaml: the same cases grpc-java's ITs cover, seen by a non-Java client that calls real
 * backends on loopback through {@code xds:///} channels (conformance/node/client.js in a child
 * process). Every change is made by editing mesh.yaml, as a user would.
 *
 * <p>Each test has its own services (its own listener, routes and clusters), so the order does
 * not matter; the restart test has its own control server and Node client. Skipped, with how to
 * install it, when Node or the driver's node_modules is missing. What passes and what does not
 * on grpc-js-xds 1.14.1 is written down in docs/compatibility-node.md: on the server as of
 * December 2026 (java-control-plane's SimpleCache serving ADS) the canary rollback and the NACK
 * loop tests fail, by design, until the serving layer is rewritten; the cases that meet
 * grpc-js's own bugs are aborted with the bug's description and link.
 */
class GrpcJsXdsIT {

  private static final String NODE_ID = "grpc-js-xds-it-client";

  /**
   * grpc-js-xds 1.14.1 compares a new resource with its cached one by walking only the cached
   * object's keys, so a route that gains a {@code typed_per_filter_config} entry (a map, empty
   * before) while nothing else in it changes is judged unchanged and the update is dropped.
   */
  static final String DEEP_EQUAL_BUG = "grpc-js-xds 1.14.1 drops a route update that only adds "
      + "typed_per_filter_config entries (its XdsResourceType.resourcesEqual/deepEqual walks only the old "
      + "object's keys; no upstream issue filed yet; code: https://github.com/grpc/grpc-node/blob/master/"
      + "packages/grpc-js-xds/src/xds-resource-type/xds-resource-type.ts), so a fault added to an "
      + "otherwise unchanged route does not reach connected clients";

  @TempDir static Path dir;
  static final List<AutoCloseable> closeables = new ArrayList<>();
  static final Map<String, String> services = new TreeMap<>();
  static EchoBackend a;
  static EchoBackend b;
  static EchoBackend c;
  static EchoBackend d;
  static EchoBackend faulty;
  static EchoBackend good1;
  static EchoBackend failing;
  static EchoBackend good2;
  static EchoBackend slow;
  static EchoBackend held;
  static EchoBackend healthy1;
  static EchoBackend outlier;
  static EchoBackend healthy2;
  static MeshFile mesh;
  static ControlServer server;
  static AdminClient admin;
  static NodeXdsDriver node;

  /** Why Node's client cannot run here, if it cannot: then every test is skipped with this reason. */
  static Optional<String> unavailable;

  @BeforeAll
  static void start() throws Exception {
    unavailable = NodeXdsDriver.unavailableReason();
    if (unavailable.isPresent()) {
      System.err.println("GrpcJsXdsIT: every test skipped: " + unavailable.get());
      return;
    }
    a = backend("a");
    b = backend("b");
    c = backend("c");
    d = backend("d");
    faulty = backend("faulty");
    good1 = backend("good1");
    failing = backend("failing").failing(true);
    good2 = backend("good2");
    slow = backend("slow").delay(2_000);
    held = backend("held");
    healthy1 = backend("healthy1");
    outlier = backend("outlier").failing(true);
    healthy2 = backend("healthy2");
    initialServices();
    mesh = new MeshFile(dir).write(meshYaml());
    server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).build().start();
    closeables.add(server);
    admin = new AdminClient(server.adminPort());
    node = NodeXdsDriver.start(server.xdsPort(), NODE_ID, logFile("client"));
    closeables.add(0, node);
  }

  /** Per test rather than in {@code @BeforeAll}, so that each test shows as skipped with the reason. */
  @BeforeEach
  void assumeNodeIsInstalled() {
    Assumptions.assumeTrue(unavailable.isEmpty(), () -> "grpc-js-xds conformance skipped: " + unavailable.get());
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(closeables.toArray(new AutoCloseable[0]));
  }

  private static EchoBackend backend(String name) {
    EchoBackend backend = new EchoBackend(name);
    closeables.add(backend);
    return backend;
  }

  private static Path logFile(String name) {
    return Path.of("target", "grpc-js-xds", "GrpcJsXdsIT-" + name + ".log").toAbsolutePath();
  }

  // ---------------------------------------------------------------------------------------------
  // mesh.yaml: one block per service, each test edits only its own.

  static void initialServices() {
    services.put("rr", """
        protocol: grpc
        endpoints: [ { address: %s }, { address: %s }, { address: %s } ]
        """.formatted(a.address(), b.address(), c.address()));
    services.put("split", """
        protocol: grpc
        endpoints:
          - { address: %s, labels: { version: v1 } }
          - { address: %s, labels: { version: v2 } }
        subsets: { v1: { version: v1 }, v2: { version: v2 } }
        routes:
          - to: [ { subset: v1, weight: 80 }, { subset: v2, weight: 20 } ]
        """.formatted(a.address(), c.address()));
    // Each route leads to its own backend, so the answer names the route that matched.
    services.put("routed", """
        protocol: grpc
        endpoints:
          - { address: %s, labels: { route: default } }
          - { address: %s, labels: { route: canary } }
          - { address: %s, labels: { route: method } }
          - { address: %s, labels: { route: beta } }
        subsets: { default: { route: default }, canary: { route: canary }, method: { route: method },
                   beta: { route: beta } }
        routes:
          - match: { headers: { x-canary: "true" } }
            to: [ { subset: canary } ]
          - match: { path: /meshlet.test.Echo/Other }
            to: [ { subset: method } ]
          - match: { headers: { x-user: { regex: "beta-[0-9]+" } } }
            to: [ { subset: beta } ]
          - match: { pathPrefix: / }
            to: [ { subset: default } ]
        """.formatted(a.address(), b.address(), c.address(), d.address()));
    services.put("scaled", scaled(a));
    services.put("canary", canary("v1"));
    services.put("fault-added", faulted(false, false));
    services.put("fault-removed", faulted(true, false));
    services.put("retried", """
        protocol: grpc
        endpoints: [ { address: %s }, { address: %s }, { address: %s } ]
        routes:
          - to: [ {} ]
            retries: { attempts: 3, on: [ unavailable ] }
        """.formatted(good1.address(), failing.address(), good2.address()));
    services.put("unretried", """
        protocol: grpc
        endpoints: [ { address: %s }, { address: %s }, { address: %s } ]
        """.formatted(good1.address(), failing.address(), good2.address()));
    services.put("timed", """
        protocol: grpc
        endpoints: [ { address: %s } ]
        routes:
          - to: [ {} ]
            timeout: 200ms
        """.formatted(slow.address()));
    services.put("untimed", """
        protocol: grpc
        endpoints: [ { address: %s } ]
        """.formatted(slow.address()));
    services.put("breaker", """
        protocol: grpc
        endpoints: [ { address: %s } ]
        circuitBreaker: { maxRequests: 2 }
        """.formatted(held.address()));
    // grpc-js implements failure-percentage and success-rate ejection (gRFC A50), not consecutive_5xx.
    services.put("ejecting", """
        protocol: grpc
        endpoints: [ { address: %s }, { address: %s }, { address: %s } ]
        outlierDetection:
          interval: 1s
          baseEjectionTime: 30s
          maxEjectionPercent: 50
          failurePercentage: { threshold: 50, minimumHosts: 3, requestVolume: 10 }
        """.formatted(healthy1.address(), outlier.address(), healthy2.address()));
    services.put("stable", stable("v1"));
  }

  /** Added only while its test runs: grpc-js-xds 1.14.1 NACKs it, and so every CDS response with it. */
  static String leastRequest() {
    return """
        protocol: grpc
        endpoints: [ { address: %s }, { address: %s } ]
        loadBalancing: least_request
        """.formatted(a.address(), b.address());
  }

  static String scaled(EchoBackend... endpoints) {
    StringBuilder list = new StringBuilder();
    for (EchoBackend e : endpoints) {
      list.append(list.length() == 0 ? "" : ", ").append("{ address: ").append(e.address()).append(" }");
    }
    return "protocol: grpc\nendpoints: [ " + list + " ]\n";
  }

  static String canary(String to) {
    return """
        protocol: grpc
        endpoints:
          - { address: %s, labels: { version: v1 } }
          - { address: %s, labels: { version: v2 } }
        subsets: { v1: { version: v1 }, v2: { version: v2 } }
        routes:
          - to: [ { subset: %s, weight: 100 } ]
        """.formatted(a.address(), b.address(), to);
  }

  /** One backend; with {@code abort}, every call aborted with ABORTED (10); {@code timeout} adds a route timeout. */
  static String faulted(boolean abort, boolean timeout) {
    return """
        protocol: grpc
        endpoints: [ { address: %s } ]
        routes:
          - to: [ {} ]
        """.formatted(faulty.address())
        + (abort ? "    faults: { abort: { percent: 100, grpcStatus: 10 } }\n" : "")
        + (timeout ? "    timeout: 30s\n" : "");
  }

  static String stable(String to) {
    return """
        protocol: grpc
        endpoints:
          - { address: %s, labels: { version: v1 } }
          - { address: %s, labels: { version: v2 } }
        subsets: { v1: { version: v1 }, v2: { version: v2 } }
        routes:
          - to: [ { subset: %s } ]
        """.formatted(a.address(), b.address(), to);
  }

  static String meshYaml() {
    StringBuilder yaml = new StringBuilder("services:\n");
    services.forEach((name, body) -> {
      yaml.append("  ").append(name).append(":\n");
      body.lines().forEach(line -> yaml.append("    ").append(line).append('\n'));
    });
    return yaml.toString();
  }

  /** Replaces one service's block and writes the whole file, as an operator's edit would. */
  static void edit(String service, String body) {
    services.put(service, body);
    mesh.write(meshYaml());
  }

  // ---------------------------------------------------------------------------------------------
  // Calls through the Node client.

  private static List<Result> calls(String service, Calls calls) {
    return node.call(service, calls);
  }

  private static Map<String, Integer> count(String service, Calls calls) {
    Map<String, Integer> seen = new TreeMap<>();
    for (Result r : calls(service, calls)) {
      seen.merge(r.outcome(), 1, Integer::sum);
    }
    return seen;
  }

  /** The first call on a fresh channel: waits for the whole config and a ready backend. */
  private static Result firstCall(String service) {
    return calls(service, Calls.who(1).waitForReady().timeout(10_000)).get(0);
  }

  /**
   * Repeats {@code calls} until every result satisfies {@code each}; on time-out the failure names
   * the last results and the end of grpc-js's log.
   */
  private static List<Result> awaitEvery(String what, String service, Calls calls, Duration timeout,
      Predicate<Result> each) {
    return awaitEvery(node, what, service, calls, timeout, each);
  }

  private static List<Result> awaitEvery(NodeXdsDriver driver, String what, String service, Calls calls,
      Duration timeout, Predicate<Result> each) {
    AtomicReference<List<Result>> last = new AtomicReference<>(List.of());
    try {
      Await.until(what, timeout, () -> {
        List<Result> results = driver.call(service, calls);
        last.set(results);
        return results.stream().allMatch(each);
      });
      return last.get();
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; the last calls gave " + last.get()
          + "\ngrpc-js log (" + driver.log() + "), last lines:\n" + driver.logTail(20), e);
    }
  }

  private static Predicate<Result> answeredBy(EchoBackend backend) {
    return r -> r.ok() && r.who().equals(backend.name());
  }

  private static Predicate<Result> failedWith(String status) {
    return r -> !r.ok() && r.status().equals(status);
  }

  // ---------------------------------------------------------------------------------------------
  // Routing and load balancing.

  @Test
  void roundRobinSpreadsCallsEvenlyOverThreeBackends() {
    firstCall("rr");
    // Round robin picks only connected backends: once all three answer, it is exact.
    Await.until("all three backends answering", Duration.ofSeconds(10),
        () -> count("rr", Calls.who(6)).size() == 3);
    Map<String, Integer> seen = count("rr", Calls.who(300));
    assertThat(seen).containsOnlyKeys("a", "b", "c");
    assertThat(seen.values()).allSatisfy(n -> assertThat(n).isBetween(90, 110));
  }

  @Test
  void weightedSplitFollowsTheWeightsWithinStatisticalTolerance() {
    firstCall("split");
    Map<String, Integer> seen = count("split", Calls.who(1000));
    assertThat(seen).containsOnlyKeys("a", "c");
    // 20% of 1000: mean 200, sd ~12.6; 150..250 is ~4 sd either side.
    assertThat(seen.get("c")).isBetween(150, 250);
  }

  @Test
  void pathRouteTakesOnlyItsMethod() {
    firstCall("routed");
    assertThat(count("routed", Calls.who(20).method("Other"))).containsOnlyKeys("c");
    // Negative: the other method of the same service falls through to the default route.
    assertThat(count("routed", Calls.who(20))).containsOnlyKeys("a");
  }

  @Test
  void exactHeaderRouteTakesOnlyTheExactValue() {
    firstCall("routed");
    assertThat(count("routed", Calls.who(20).header("x-canary", "true"))).containsOnlyKeys("b");
    // Negative: another value, a longer one, or no header at all go to the default route.
    assertThat(count("routed", Calls.who(10).header("x-canary", "false"))).containsOnlyKeys("a");
    assertThat(count("routed", Calls.who(10).header("x-canary", "truee"))).containsOnlyKeys("a");
    assertThat(count("routed", Calls.who(10))).containsOnlyKeys("a");
  }

  @Test
  void regexHeaderRouteMustMatchTheWholeValue() {
    firstCall("routed");
    assertThat(count("routed", Calls.who(20).header("x-user", "beta-42"))).containsOnlyKeys("d");
    // Negative: RE2 full match, so a value that only contains a match is not one.
    assertThat(count("routed", Calls.who(10).header("x-user", "xbeta-42"))).containsOnlyKeys("a");
    assertThat(count("routed", Calls.who(10).header("x-user", "beta-x"))).containsOnlyKeys("a");
    assertThat(count("routed", Calls.who(10).header("x-user", "alpha-1"))).containsOnlyKeys("a");
  }

  @Test
  void endpointsAddedAndRemovedInTheFileAreFollowed() {
    assertThat(firstCall("scaled").outcome()).isEqualTo("a");

    edit("scaled", scaled(a, b));
    Await.until("the added endpoint b to answer", Duration.ofSeconds(10),
        () -> count("scaled", Calls.who(10)).keySet().equals(java.util.Set.of("a", "b")));

    edit("scaled", scaled(b));
    awaitEvery("every call to land on b once a is removed", "scaled", Calls.who(10),
        Duration.ofSeconds(10), answeredBy(b));
    assertThat(count("scaled", Calls.who(50))).containsOnlyKeys("b");
  }

  /**
   * A canary forward (v1 to v2) and its rollback. On the rollback the client subscribes again to
   * the v1 cluster it dropped on the forward; a server that does not resend a resource at an
   * unchanged version to a client that resubscribes (java-control-plane's SimpleCache,
   * envoyproxy/java-control-plane#339) leaves it waiting, and after grpc-js's 15 s resource timer
   * calls fail with "Cluster resource canary/v1 does not exist".
   */
  @Test
  void canaryForwardAndRollbackAreBothFollowed() {
    assertThat(firstCall("canary").outcome()).isEqualTo("a");

    edit("canary", canary("v2"));
    awaitEvery("every call to land on v2 after the forward", "canary", Calls.who(10).timeout(1_000),
        Duration.ofSeconds(10), answeredBy(b));

    edit("canary", canary("v1"));
    try {
      awaitEvery("every call to land on v1 after the rollback", "canary", Calls.who(5).timeout(500),
          Duration.ofSeconds(10), answeredBy(a));
    } catch (AssertionError e) {
      throw new AssertionError("the rollback did not reach the client. Calls still answered by v2 (b) mean "
          + "grpc-js is waiting for cluster canary/v1, which it subscribed to again and the server did not "
          + "resend (envoyproxy/java-control-plane#339); after its 15 s resource timer calls fail with "
          + "'Cluster resource canary/v1 does not exist'. " + e.getMessage(), e);
    }
    assertThat(count("canary", Calls.who(50))).containsOnlyKeys("a");
  }

  /** A service with {@code loadBalancing: least_request} is callable (round robin on grpc-js). */
  @Test
  void leastRequestServiceIsCallable() {
    withLeastRequestService("least", () -> {
      long nacksBefore = nacks();
      // grpc-js-xds has no least_request policy: it takes the next one of the cluster's
      // load_balancing_policy list, round robin, instead of refusing the cluster (it NACKed the
      // lb_policy-only encoding on join, and the old server answered each NACK with the same
      // cluster: 294 NACKs a second). The NACK-on-join case itself is AdsConformanceTest's.
      List<Result> last = awaitEvery("calls to a least_request service to be answered", "least",
          Calls.who(10).timeout(1_000), Duration.ofSeconds(5),
          r -> r.ok() && (r.who().equals("a") || r.who().equals("b")));
      assertThat(last).hasSize(10);
      assertThat(nacks()).as("NACKs of the least_request cluster").isEqualTo(nacksBefore);
    });
  }

  /** Adds a least_request service of that name for the duration of {@code test}, then removes it and closes its channel. */
  private static void withLeastRequestService(String name, Runnable test) {
    edit(name, leastRequest());
    try {
      test.run();
    } finally {
      node.closeChannel(name);
      services.remove(name);
      mesh.write(meshYaml());
    }
  }

  private static long nacks() {
    Matcher m = Pattern.compile("(?m)^meshlet_xds_nacks_total (\\d+)").matcher(admin.get("/metrics").body());
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Resilience.

  @Test
  void faultPresentWhenTheClientConnectsAbortsCallsUntilRemoved() {
    // The fault arrives with the first config: every call aborted with the configured status.
    Result first = calls("fault-removed", Calls.who(1).waitForReady().timeout(10_000)).get(0);
    assertThat(first.outcome()).as("first call: %s", first).isEqualTo("ABORTED");
    assertThat(count("fault-removed", Calls.who(50))).containsOnlyKeys("ABORTED");
    assertThat(faulty.calls()).as("aborted calls never reach the backend").isZero();

    edit("fault-removed", faulted(false, false));
    awaitEvery("calls to succeed once the fault is removed", "fault-removed", Calls.who(10),
        Duration.ofSeconds(10), answeredBy(faulty));
  }

  /**
   * A fault added to a route the client already has. Known to fail on grpc-js-xds 1.14.1
   * ({@link #DEEP_EQUAL_BUG}): then the test is aborted with that reason rather than passed or
   * dropped. The workaround users have, changing another field of the route in the same edit, is
   * checked to work.
   */
  @Test
  void faultAddedToAConnectedClientsRouteAbortsItsCalls() {
    assertThat(firstCall("fault-added").outcome()).isEqualTo("faulty");

    edit("fault-added", faulted(true, false));
    List<Result> last;
    try {
      last = awaitEvery("calls to be aborted once the fault is added", "fault-added", Calls.who(10),
          Duration.ofSeconds(5), failedWith("ABORTED"));
    } catch (AssertionError e) {
      boolean knownBug = node.grpcJsXdsVersion().equals("1.14.1")
          && count("fault-added", Calls.who(20)).keySet().equals(java.util.Set.of("faulty"));
      if (!knownBug) {
        throw e;
      }
      // The workaround: the same fault with another change to the route reaches the client.
      edit("fault-added", faulted(true, true));
      awaitEvery("calls to be aborted once the fault comes with a route timeout", "fault-added",
          Calls.who(10), Duration.ofSeconds(10), failedWith("ABORTED"));
      edit("fault-added", faulted(false, false));
      awaitEvery("calls to succeed once the fault is removed", "fault-added", Calls.who(10),
          Duration.ofSeconds(10), answeredBy(faulty));
      Assumptions.abort(DEEP_EQUAL_BUG + " (seen here: calls kept succeeding for 5 s after the fault "
          + "was added; with a route timeout added in the same edit the fault arrived)");
      return;
    }
    assertThat(last).allSatisfy(r -> assertThat(r.outcome()).isEqualTo("ABORTED"));
    edit("fault-added", faulted(false, false));
    awaitEvery("calls to succeed once the fault is removed", "fault-added", Calls.who(10),
        Duration.ofSeconds(10), answeredBy(faulty));
  }

  @Test
  void retriesOnUnavailableHideAFailingBackend() {
    // Control: without a retry policy, the failing backend's share of calls fails.
    firstCall("unretried");
    awaitAllThreeInRotation("unretried");
    Map<String, Integer> unretried = count("unretried", Calls.who(150));
    assertThat(unretried).containsOnlyKeys("good1", "good2", "UNAVAILABLE");
    // Exact round robin over three backends: 50.
    assertThat(unretried.get("UNAVAILABLE")).as("calls failed without retries").isBetween(35, 65);

    // With 'retries: { attempts: 3, on: [unavailable] }' every call succeeds, although the
    // failing backend keeps getting (and failing) its share of the tries.
    firstCall("retried");
    awaitAllThreeInRotation("retried");
    int failingCalls = failing.calls();
    Map<String, Integer> retried = count("retried", Calls.who(150));
    assertThat(retried).containsOnlyKeys("good1", "good2");
    assertThat(failing.calls() - failingCalls).as("tries that reached the failing backend")
        .isGreaterThanOrEqualTo(30);
  }

  /** Round robin only picks connected backends: wait until all three are in the rotation. */
  private static void awaitAllThreeInRotation(String service) {
    Await.until("all three backends of '" + service + "' in the rotation", Duration.ofSeconds(10), () -> {
      int failingCalls = failing.calls();
      Map<String, Integer> seen = count(service, Calls.who(6));
      return seen.containsKey("good1") && seen.containsKey("good2") && failing.calls() > failingCalls;
    });
  }

  @Test
  void routeTimeoutCutsACallShorterThanTheClientsDeadline() {
    // The slow backend answers after 2 s; the route's timeout is 200 ms, the caller's deadline 10 s.
    int slowCalls = slow.calls();
    Result timed = calls("timed", Calls.who(1).waitForReady().timeout(10_000)).get(0);
    assertThat(timed.outcome()).as("call: %s", timed).isEqualTo("DEADLINE_EXCEEDED");
    assertThat(timed.millis()).isLessThan(1_900);
    // It reached the backend: the route was in force, and the backend was too slow for it.
    Await.until("the call to reach the slow backend", Duration.ofSeconds(5), () -> slow.calls() > slowCalls);

    // Control: the same backend without a route timeout answers within the caller's deadline.
    Result untimed = calls("untimed", Calls.who(1).waitForReady().timeout(10_000)).get(0);
    assertThat(untimed.outcome()).as("call: %s", untimed).isEqualTo("slow");
  }

  @Test
  void circuitBreakerRejectsCallsAboveMaxRequests() throws Exception {
    firstCall("breaker");
    held.holdCalls();
    try {
      // Two calls fill the breaker; each is waited for, so neither races the other's count.
      List<CompletableFuture<List<Result>>> admitted = new ArrayList<>();
      for (int i = 1; i <= 2; i++) {
        admitted.add(node.callAsync("breaker", Calls.who(1).timeout(20_000)));
        int n = i;
        Await.until(n + " calls held by the backend", Duration.ofSeconds(5), () -> held.inFlight() == n);
      }
      // Fail fast while the two admitted calls are still held.
      List<Result> rejected = calls("breaker", Calls.who(3).parallel().timeout(5_000));
      assertThat(rejected).allSatisfy(r -> {
        assertThat(r.outcome()).as("%s", r).isEqualTo("UNAVAILABLE");
        assertThat(r.details()).contains("dropped");
        assertThat(r.millis()).isLessThan(4_000);
      });
      assertThat(admitted).noneMatch(CompletableFuture::isDone);
      assertThat(held.inFlight()).isEqualTo(2);

      held.releaseCalls();
      for (CompletableFuture<List<Result>> call : admitted) {
        assertThat(call.get(10, TimeUnit.SECONDS).get(0).outcome()).isEqualTo("held");
      }
      // With the held calls done, the breaker lets calls through again.
      assertThat(count("breaker", Calls.who(5))).containsOnlyKeys("held");
    } finally {
      held.releaseCalls();
    }
  }

  @Test
  void outlierDetectionEjectsTheFailingInstance() {
    firstCall("ejecting");
    // Every call the outlier gets fails; within a few 1 s intervals it is ejected for 30 s and
    // calls go only to the two healthy instances.
    AtomicInteger outlierCalls = new AtomicInteger();
    Await.until("the failing instance to be ejected", Duration.ofSeconds(15), () -> {
      int before = outlier.calls();
      Map<String, Integer> seen = count("ejecting", Calls.who(30));
      outlierCalls.set(outlier.calls() - before);
      return seen.keySet().equals(java.util.Set.of("healthy1", "healthy2")) && outlierCalls.get() == 0;
    });
    int before = outlier.calls();
    assertThat(count("ejecting", Calls.who(60))).containsOnlyKeys("healthy1", "healthy2");
    assertThat(outlier.calls()).isEqualTo(before);
  }

  // ---------------------------------------------------------------------------------------------
  // Last known good.

  @Test
  void aRefusedEditChangesNothingForConnectedClients() {
    assertThat(firstCall("stable").outcome()).isEqualTo("a");
    long refusals = refusals();
    try {
      // The edit would send 'stable' to v2, but another part of the file is invalid: the whole
      // file is refused and the client keeps the last good config.
      services.put("stable", stable("v2"));
      mesh.write(meshYaml().replace("maxEjectionPercent: 50", "maxEjectionPercent: 140"));
      Await.until("the bad edit to be refused", Duration.ofSeconds(10), () -> refusals() > refusals);
      assertThat(admin.json("/config").path("lastRefused").path("errors").toString())
          .contains("maxEjectionPercent: 140 (expected: 0..100)");
      assertThat(count("stable", Calls.who(50))).containsOnlyKeys("a");
    } finally {
      // The same edit without the error: now it is served.
      edit("stable", stable("v2"));
    }
    awaitEvery("the good edit to reach the client", "stable", Calls.who(10), Duration.ofSeconds(10),
        answeredBy(b));
  }

  private static long refusals() {
    Matcher m = Pattern.compile("(?m)^meshlet_config_refusals_total (\\d+)").matcher(admin.get("/metrics").body());
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  /**
   * A control server stopped under traffic and started again on the same port with an edited
   * file: the Node client keeps calling with its last config while the server is down, then
   * reconnects and follows the edit. Its own control server and Node client, so the others are
   * not disturbed.
   */
  @Test
  void clientKeepsCallingThroughAControlServerRestartAndFollowsTheEditAfterIt() throws Exception {
    Path restartDir = Files.createDirectories(dir.resolve("restart"));
    MeshFile restartMesh = new MeshFile(restartDir).write("services:\n  svc:\n"
        + stable("v1").lines().map(l -> "    " + l + "\n").reduce("", String::concat));
    ControlServer first = ControlServer.builder().xdsPlaintext(true).configFile(restartMesh.path()).xdsPort(0).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).build().start();
    ControlServer restarted = null;
    NodeXdsDriver client = null;
    Traffic traffic = null;
    try {
      int xdsPort = first.xdsPort();
      client = NodeXdsDriver.start(xdsPort, NODE_ID + "-restart", logFile("restart-client"));
      assertThat(client.call("svc", Calls.who(1).waitForReady().timeout(10_000)).get(0).outcome()).isEqualTo("a");
      traffic = new Traffic(client, "svc");
      traffic.start();
      Traffic t = traffic;
      Await.until("traffic to flow", Duration.ofSeconds(10), () -> t.ok() >= 20);

      first.close();
      first = null;
      int okAtStop = t.ok();
      Await.until("50 calls answered with the control server down", Duration.ofSeconds(10),
          () -> t.ok() >= okAtStop + 50);
      assertThat(t.failed()).as("failed calls while the server was down: %s", t.firstFailure()).isZero();
      assertThat(t.answered("b")).as("calls answered by b before the edit").isZero();

      // Edit the file while the server is down, then start a new server on the same port.
      restartMesh.write("services:\n  svc:\n"
          + stable("v2").lines().map(l -> "    " + l + "\n").reduce("", String::concat));
      restarted = ControlServer.builder().xdsPlaintext(true).configFile(restartMesh.path()).xdsPort(xdsPort).adminPort(0)
          .pollInterval(Duration.ofMillis(100)).build().start();
      Await.until("the client to follow the restarted server's config", Duration.ofSeconds(30),
          () -> t.consecutive("b") >= 20);
    } finally {
      if (traffic != null) {
        traffic.stop();
      }
      Closeables.closeAll(client, first, restarted);
    }
    assertThat(traffic.failed()).as("failed calls across the restart: %s", traffic.firstFailure()).isZero();
  }

  /** Calls a service through a Node client in a loop on its own thread until stopped. */
  private static final class Traffic {
    private final NodeXdsDriver client;
    private final String service;
    private final Map<String, AtomicInteger> answered = new java.util.concurrent.ConcurrentHashMap<>();
    private final AtomicInteger ok = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final AtomicReference<String> lastAnswer = new AtomicReference<>("");
    private final AtomicInteger consecutive = new AtomicInteger();
    private final AtomicReference<Object> firstFailure = new AtomicReference<>();
    private final Thread thread;
    private volatile boolean running = true;

    Traffic(NodeXdsDriver client, String service) {
      this.client = client;
      this.service = service;
      this.thread = new Thread(this::run, "grpc-js-xds-traffic");
      this.thread.setDaemon(true);
    }

    private void run() {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (running && System.nanoTime() < deadline) {
        try {
          for (Result r : client.call(service, Calls.who(5).timeout(2_000))) {
            if (r.ok()) {
              ok.incrementAndGet();
              answered.computeIfAbsent(r.who(), k -> new AtomicInteger()).incrementAndGet();
              if (r.who().equals(lastAnswer.getAndSet(r.who()))) {
                consecutive.incrementAndGet();
              } else {
                consecutive.set(1);
              }
            } else {
              failed.incrementAndGet();
              firstFailure.compareAndSet(null, r);
              lastAnswer.set("");
              consecutive.set(0);
            }
          }
        } catch (RuntimeException e) {
          failed.incrementAndGet();
          firstFailure.compareAndSet(null, e);
          return;
        }
      }
    }

    void start() {
      thread.start();
    }

    void stop() throws InterruptedException {
      running = false;
      thread.join(TimeUnit.SECONDS.toMillis(15));
    }

    int ok() {
      return ok.get();
    }

    int failed() {
      return failed.get();
    }

    Object firstFailure() {
      return firstFailure.get();
    }

    int answered(String backend) {
      AtomicInteger n = answered.get(backend);
      return n == null ? 0 : n.get();
    }

    /** Calls in a row, up to the last, answered by this backend. */
    int consecutive(String backend) {
      return backend.equals(lastAnswer.get()) ? consecutive.get() : 0;
    }
  }
}
