package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.XdsClients;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * grpc-java's own xDS client obeys the resilience policy that Meshlet's control server serves
 * from mesh.yaml: retries, route timeouts, injected faults and circuit breakers, against real
 * backends on loopback. Each test has its own services and backends, so the order does not
 * matter.
 */
class GrpcResilienceIT {

  private static final String NODE_ID = "resilience-it-client";

  @TempDir static Path dir;
  static final List<AutoCloseable> backends = new ArrayList<>();
  static final List<ManagedChannel> channels = new CopyOnWriteArrayList<>();
  static EchoBackend good1;
  static EchoBackend failing;
  static EchoBackend good2;
  static EchoBackend slow;
  static EchoBackend abortGrpc;
  static EchoBackend abortHttp;
  static EchoBackend delayed;
  static EchoBackend held;
  static ControlServer server;

  @BeforeAll
  static void start() throws Exception {
    good1 = backend("good1");
    failing = backend("failing").failing(true);
    good2 = backend("good2");
    slow = backend("slow").delay(2_000);
    abortGrpc = backend("abort-grpc");
    abortHttp = backend("abort-http");
    delayed = backend("delayed");
    held = backend("held");
    MeshFile mesh = new MeshFile(dir).write(meshYaml());
    server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).build().start();
    XdsClients.bootstrap(server.xdsPort(), NODE_ID);
  }

  @AfterAll
  static void stop() {
    channels.forEach(ManagedChannel::shutdownNow);
    List<AutoCloseable> all = new ArrayList<>();
    all.add(server);
    all.addAll(backends);
    Closeables.closeAll(all.toArray(new AutoCloseable[0]));
  }

  private static EchoBackend backend(String name) {
    EchoBackend backend = new EchoBackend(name);
    backends.add(backend);
    return backend;
  }

  static String meshYaml() {
    return """
        services:
          retried:
            protocol: grpc
            endpoints: [ { address: %1$s }, { address: %2$s }, { address: %3$s } ]
            routes:
              - to: [ {} ]
                retries: { attempts: 3, on: [ unavailable ] }
          unretried:
            protocol: grpc
            endpoints: [ { address: %1$s }, { address: %2$s }, { address: %3$s } ]
          timed:
            protocol: grpc
            endpoints: [ { address: %4$s } ]
            routes:
              - to: [ {} ]
                timeout: 200ms
          untimed:
            protocol: grpc
            endpoints: [ { address: %4$s } ]
          aborted-grpc:
            protocol: grpc
            endpoints: [ { address: %5$s } ]
            routes:
              - to: [ {} ]
                faults: { abort: { percent: 30, grpcStatus: 14 } }
          aborted-http:
            protocol: grpc
            endpoints: [ { address: %6$s } ]
            routes:
              - to: [ {} ]
                faults: { abort: { percent: 30, httpStatus: 503 } }
          delayed:
            protocol: grpc
            endpoints: [ { address: %7$s } ]
            routes:
              - to: [ {} ]
                faults: { delay: { percent: 50, fixed: 5s } }
          breaker:
            protocol: grpc
            endpoints: [ { address: %8$s } ]
            circuitBreaker: { maxRequests: 2 }
        """.formatted(good1.address(), failing.address(), good2.address(), slow.address(),
            abortGrpc.address(), abortHttp.address(), delayed.address(), held.address());
  }

  /**
   * An {@code xds:///service} channel that has the service's whole configuration (listener,
   * routes, cluster, endpoints) and a connected backend. Waits on the channel state rather than
   * on a call, since faults and timeouts would make a first call fail.
   */
  private static ManagedChannel readyChannel(String service) {
    ManagedChannel channel = XdsClients.channel(service);
    channels.add(channel);
    Await.until("the '" + service + "' channel to be READY", Duration.ofSeconds(10),
        () -> channel.getState(true) == ConnectivityState.READY);
    return channel;
  }

  /** The answering backend's name, or the status code the call failed with. */
  private static String outcome(ManagedChannel channel, long deadlineMillis) {
    try {
      return XdsClients.call(channel, EchoBackend.WHO, null, deadlineMillis);
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode().name();
    }
  }

  private static Map<String, Integer> outcomes(ManagedChannel channel, int calls) {
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < calls; i++) {
      seen.merge(outcome(channel, 5_000), 1, Integer::sum);
    }
    return seen;
  }

  /** Round robin only picks connected backends: wait until all three are in the rotation. */
  private static void awaitAllThreeInRotation(ManagedChannel channel) {
    Await.until("all three backends in the rotation", Duration.ofSeconds(10), () -> {
      int failingCalls = failing.calls();
      Map<String, Integer> seen = outcomes(channel, 6);
      return seen.containsKey("good1") && seen.containsKey("good2") && failing.calls() > failingCalls;
    });
  }

  @Test
  void retriesOnUnavailableHideAFailingBackend() {
    // Control: without a retry policy, the failing backend's share of calls fails.
    ManagedChannel unretried = readyChannel("unretried");
    awaitAllThreeInRotation(unretried);
    int failures = 0;
    for (int i = 0; i < 200; i++) {
      try {
        assertThat(XdsClients.who(unretried)).isIn("good1", "good2");
      } catch (StatusRuntimeException e) {
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(e.getStatus().getDescription()).isEqualTo("failing is failing");
        failures++;
      }
    }
    // Exact round robin over three backends: 66 or 67.
    assertThat(failures).as("calls failed without retries").isBetween(50, 85);

    // With 'retries: { attempts: 3, on: [unavailable] }' every call succeeds, although the
    // failing backend keeps getting (and failing) its share of the tries.
    ManagedChannel retried = readyChannel("retried");
    awaitAllThreeInRotation(retried);
    int failingCalls = failing.calls();
    Map<String, Integer> seen = outcomes(retried, 200);
    assertThat(seen).containsOnlyKeys("good1", "good2");
    // Each try on the failing backend is retried on the next backend in the rotation: about
    // one call in two meets it once.
    assertThat(failing.calls() - failingCalls).as("tries that reached the failing backend")
        .isGreaterThanOrEqualTo(40);
  }

  @Test
  void routeTimeoutCutsACallShorterThanTheClientsDeadline() {
    ManagedChannel timed = readyChannel("timed");
    int slowCalls = slow.calls();
    CallOptions tenSeconds = CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS);
    assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(timed, EchoBackend.WHO, tenSeconds, "hi"))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    // It reached the backend: the route was in force, and the backend was too slow for it.
    Await.until("the call to reach the slow backend", Duration.ofSeconds(5),
        () -> slow.calls() > slowCalls);

    // Control: the same backend without a route timeout answers within the client's deadline.
    ManagedChannel untimed = readyChannel("untimed");
    assertThat(ClientCalls.blockingUnaryCall(untimed, EchoBackend.WHO, tenSeconds, "hi")).isEqualTo("slow");
  }

  @Test
  void injectedGrpcAbortFailsItsShareOfCalls() {
    assertAbortShare(readyChannel("aborted-grpc"), abortGrpc);
  }

  @Test
  void injectedHttpAbortFailsItsShareOfCallsAsUnavailable() {
    // gRPC maps HTTP 503 to UNAVAILABLE.
    assertAbortShare(readyChannel("aborted-http"), abortHttp);
  }

  private static void assertAbortShare(ManagedChannel channel, EchoBackend backend) {
    int before = backend.calls();
    Map<String, Integer> seen = outcomes(channel, 1000);
    assertThat(seen).containsOnlyKeys(backend.name(), "UNAVAILABLE");
    // 30% of 1000: mean 300, sd ~14.5; 230..370 is ~4.8 sd either side.
    assertThat(seen.get("UNAVAILABLE")).isBetween(230, 370);
    // Aborted on the caller's side: they never reached the backend.
    assertThat(backend.calls() - before).isEqualTo(seen.get(backend.name()));
  }

  @Test
  void injectedDelayHoldsItsShareOfCallsPastTheirDeadline() throws Exception {
    ManagedChannel channel = readyChannel("delayed");
    int before = delayed.calls();
    // All at once, so the whole run takes about one deadline. The deadline (2 s) is far above
    // an undelayed call's time and far below the injected delay (5 s).
    CallOptions twoSeconds = CallOptions.DEFAULT.withDeadlineAfter(2, TimeUnit.SECONDS);
    List<ListenableFuture<String>> calls = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      calls.add(ClientCalls.futureUnaryCall(channel.newCall(EchoBackend.WHO, twoSeconds), "hi"));
    }
    Map<String, Integer> seen = new HashMap<>();
    for (ListenableFuture<String> call : calls) {
      seen.merge(result(call), 1, Integer::sum);
    }
    assertThat(seen).containsOnlyKeys("delayed", "DEADLINE_EXCEEDED");
    // 50% of 200: mean 100, sd ~7.1; 68..132 is ~4.5 sd either side.
    assertThat(seen.get("DEADLINE_EXCEEDED")).isBetween(68, 132);
    // Delayed on the caller's side: the calls that ran out of time never reached the backend.
    assertThat(delayed.calls() - before).isEqualTo(seen.get("delayed"));
  }

  /**
   * grpc-java counts requests in flight only for a cluster it reports load for, so this also
   * checks that the translator gives a cluster with a circuit breaker an {@code lrs_server}.
   */
  @Test
  void circuitBreakerRejectsCallsAboveMaxRequests() throws Exception {
    ManagedChannel channel = readyChannel("breaker");
    CallOptions tenSeconds = CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS);
    held.holdCalls();
    try {
      // Two calls fill the breaker; each is waited for, so neither races the other's count.
      List<ListenableFuture<String>> admitted = new ArrayList<>();
      for (int i = 1; i <= 2; i++) {
        admitted.add(ClientCalls.futureUnaryCall(channel.newCall(EchoBackend.WHO, tenSeconds), "hi"));
        int n = i;
        Await.until(n + " calls held by the backend", Duration.ofSeconds(5), () -> held.inFlight() == n);
      }
      List<ListenableFuture<String>> rejected = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        rejected.add(ClientCalls.futureUnaryCall(channel.newCall(EchoBackend.WHO, tenSeconds), "hi"));
      }
      // Fail fast: they are refused while the two admitted calls are still held.
      for (ListenableFuture<String> call : rejected) {
        StatusRuntimeException e = failure(call);
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(e.getStatus().getDescription())
            .isEqualTo("Cluster max concurrent requests limit of 2 exceeded");
      }
      assertThat(admitted).noneMatch(ListenableFuture::isDone);
      assertThat(held.inFlight()).isEqualTo(2);
      assertThat(held.calls()).isEqualTo(2);

      held.releaseCalls();
      for (ListenableFuture<String> call : admitted) {
        assertThat(call.get(10, TimeUnit.SECONDS)).isEqualTo("held");
      }
    } finally {
      held.releaseCalls();
    }
  }

  /** A finished call's answering backend, or the status code it failed with. */
  private static String result(ListenableFuture<String> call) throws Exception {
    try {
      return call.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return Status.fromThrowable(e.getCause()).getCode().name();
    }
  }

  private static StatusRuntimeException failure(ListenableFuture<String> call) throws Exception {
    try {
      String answer = call.get(5, TimeUnit.SECONDS);
      throw new AssertionError("expected the call to be rejected, but it was answered by " + answer);
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(StatusRuntimeException.class);
      return (StatusRuntimeException) e.getCause();
    }
  }
}
