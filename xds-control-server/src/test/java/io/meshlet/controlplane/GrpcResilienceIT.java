package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.XdsClients;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * grpc-java's own xDS client applies the resilience settings Meshlet's control server emits:
 * retries, route timeouts, injected faults and circuit breaking.
 */
class GrpcResilienceIT {

  @TempDir static Path dir;
  static EchoBackend healthy;
  static EchoBackend broken;
  static EchoBackend slow;
  static EchoBackend held;
  static ControlServer server;

  @BeforeAll
  static void start() throws Exception {
    healthy = new EchoBackend("healthy");
    broken = new EchoBackend("broken").failing(true);
    slow = new EchoBackend("slow").delay(2_000);
    held = new EchoBackend("held");
    MeshFile mesh = new MeshFile(dir).write("""
        services:
          retried:
            protocol: grpc
            endpoints: [ { address: %1$s }, { address: %2$s } ]
            routes: [ { to: [ { weight: 1 } ], retries: { attempts: 3, on: [unavailable], backoff: { base: 1ms, max: 5ms } } } ]
          unretried:
            protocol: grpc
            endpoints: [ { address: %1$s }, { address: %2$s } ]
          timed:
            protocol: grpc
            endpoints: [ { address: %3$s } ]
            routes: [ { to: [ { weight: 1 } ], timeout: 200ms } ]
          aborted:
            protocol: grpc
            endpoints: [ { address: %1$s } ]
            routes: [ { to: [ { weight: 1 } ], faults: { abort: { percent: 30, grpcStatus: 8 } } } ]
          delayed:
            protocol: grpc
            endpoints: [ { address: %1$s } ]
            routes: [ { to: [ { weight: 1 } ], faults: { delay: { percent: 50, fixed: 1s } } } ]
          limited:
            protocol: grpc
            endpoints: [ { address: %4$s } ]
            circuitBreaker: { maxRequests: 2 }
        """.formatted(healthy.address(), broken.address(), slow.address(), held.address()));
    server = ControlServer.builder().configFile(mesh.path()).xdsPort(0).adminPort(0).build().start();
    XdsClients.bootstrap(server.xdsPort(), "resilience-it");
  }

  @AfterAll
  static void stop() {
    for (AutoCloseable c : new AutoCloseable[] {server, healthy, broken, slow, held}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing
      }
    }
  }

  private static Map<Status.Code, Integer> codes(ManagedChannel channel, int calls, long deadlineMillis) {
    Map<Status.Code, Integer> seen = new EnumMap<>(Status.Code.class);
    for (int i = 0; i < calls; i++) {
      try {
        XdsClients.call(channel, EchoBackend.WHO, null, deadlineMillis);
        seen.merge(Status.Code.OK, 1, Integer::sum);
      } catch (StatusRuntimeException e) {
        seen.merge(e.getStatus().getCode(), 1, Integer::sum);
      }
    }
    return seen;
  }

  private static void awaitConfig(ManagedChannel channel) {
    Await.until("the channel to be ready", Duration.ofSeconds(20),
        () -> channel.getState(true) == io.grpc.ConnectivityState.READY);
  }

  @Test
  void retriesOnUnavailableHideAFailingBackend() {
    ManagedChannel retried = XdsClients.channel("retried");
    ManagedChannel unretried = XdsClients.channel("unretried");
    try {
      awaitConfig(retried);
      awaitConfig(unretried);
      assertThat(codes(retried, 200, 5_000)).containsOnlyKeys(Status.Code.OK);
      // The same two backends without a retry policy: the broken one shows.
      assertThat(codes(unretried, 200, 5_000).getOrDefault(Status.Code.UNAVAILABLE, 0)).isBetween(60, 140);
    } finally {
      retried.shutdownNow();
      unretried.shutdownNow();
    }
  }

  @Test
  void routeTimeoutSurfacesAsDeadlineExceededBeforeTheCallersDeadline() {
    ManagedChannel channel = XdsClients.channel("timed");
    try {
      awaitConfig(channel);
      long start = System.nanoTime();
      assertThat(codes(channel, 3, 10_000)).containsOnlyKeys(Status.Code.DEADLINE_EXCEEDED);
      // Three calls against a 2 s backend with a 10 s client deadline: only the route's
      // 200 ms timeout can end them before 6 s.
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(6));
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void injectedAbortIsSeenAtItsPercentage() {
    ManagedChannel channel = XdsClients.channel("aborted");
    try {
      awaitConfig(channel);
      Map<Status.Code, Integer> seen = codes(channel, 1000, 5_000);
      // 30% of 1000: mean 300, sd ~14.5.
      assertThat(seen.getOrDefault(Status.Code.RESOURCE_EXHAUSTED, 0)).isBetween(240, 360);
      assertThat(seen).containsOnlyKeys(Status.Code.OK, Status.Code.RESOURCE_EXHAUSTED);
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void injectedDelayIsSeenAtItsPercentage() {
    ManagedChannel channel = XdsClients.channel("delayed");
    try {
      awaitConfig(channel);
      // Delayed calls (1 s) miss a 100 ms deadline; the others answer at once.
      Map<Status.Code, Integer> seen = codes(channel, 100, 100);
      // 50% of 100: mean 50, sd 5.
      assertThat(seen.getOrDefault(Status.Code.DEADLINE_EXCEEDED, 0)).isBetween(30, 70);
      assertThat(seen).containsOnlyKeys(Status.Code.OK, Status.Code.DEADLINE_EXCEEDED);
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void circuitBreakerRejectsCallsAboveMaxRequests() throws Exception {
    ManagedChannel channel = XdsClients.channel("limited");
    List<ListenableFuture<String>> admitted = new ArrayList<>();
    try {
      awaitConfig(channel);
      held.holdCalls();
      // grpc-java counts a request once its stream starts, so start them one by one.
      for (int i = 1; i <= 2; i++) {
        admitted.add(ClientCalls.futureUnaryCall(channel.newCall(EchoBackend.WHO,
            CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS)), "hi"));
        int expected = i;
        Await.until(i + " calls to reach the backend", Duration.ofSeconds(10), () -> held.inFlight() == expected);
      }
      for (int i = 0; i < 3; i++) {
        StatusRuntimeException e = org.assertj.core.api.Assertions.catchThrowableOfType(
            StatusRuntimeException.class, () -> XdsClients.call(channel, EchoBackend.WHO, null, 10_000));
        assertThat(e).as("call above maxRequests").isNotNull();
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(e.getStatus().getDescription()).containsIgnoringCase("max concurrent requests");
      }
      assertThat(held.inFlight()).isEqualTo(2);
      held.releaseCalls();
      for (ListenableFuture<String> f : admitted) {
        assertThat(f.get(10, TimeUnit.SECONDS)).isEqualTo("held");
      }
      // With the slots free again, calls go through.
      assertThat(XdsClients.call(channel, EchoBackend.WHO, null, 5_000)).isEqualTo("held");
    } finally {
      held.releaseCalls();
      channel.shutdownNow();
    }
  }
}
