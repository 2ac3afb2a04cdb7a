package io.meshlet.transport;

import io.meshlet.MeshClient;
import io.meshlet.MeshRejection;
import io.meshlet.UnknownServiceException;
import io.meshlet.internal.policy.EngineCalls;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.context.Context;
import java.io.IOException;
import java.util.function.Function;

/**
 * The one door through which a transport adapter (OkHttp, gRPC, your own) runs calls by the mesh
 * config: {@link #route} decides where a call goes, {@link #execute} runs it along that route
 * (rate limit, fault, circuit breaker, tries with retries, endpoint pick, per-try timeout,
 * outlier detection) and calls the transport's {@link TrySender} once per try. A transport that
 * routes calls itself (gRPC through grpc-java's xDS) reports them with {@link #startRouted}.
 *
 * <pre>{@code
 * MeshCalls calls = mesh.calls();
 * MeshRoute route = calls.route("catalog", "/items", headers::get);
 * Response r = calls.execute(route, null, true, plan -> send(plan.endpoint(), plan.timeout()), responses);
 * }</pre>
 *
 * <p>Thread-safe; the call path takes no lock. Get one from {@link MeshClient#calls()}.
 */
public interface MeshCalls {

  /**
   * The route of a call to a mesh service. From a {@link MeshClient} it waits up to the
   * client's first-config timeout when no config has arrived yet.
   *
   * @param header a request header by lower-case name, null when absent
   * @throws UnknownServiceException when the mesh has no such service or no route for the path
   * @throws java.io.InterruptedIOException when no config arrived in time
   */
  MeshRoute route(String service, String path, Function<String, String> header) throws IOException;

  /**
   * The name of the route the config in force now gives a call, without waiting for a first
   * config: what a transport that routes calls itself passes to {@link #startRouted}. Empty when
   * the service is unknown or no route takes the path. Never throws.
   */
  String routeName(String service, String path, Function<String, String> header);

  /**
   * Runs a call along its route, calling {@code sender} once per try.
   *
   * @param route from {@link #route} of this object
   * @param hashKey the ring hash key (the value of the route's hash header), or null
   * @param replayable whether the request may be sent more than once (idempotent, body replayable)
   * @return the last try's response; a 5xx that exhausted its retries is returned, not thrown
   * @throws MeshRejection when the mesh answers the call itself (fault, rate limit, overload)
   * @throws IOException the last try's failure, with earlier ones attached as suppressed
   */
  <T> T execute(MeshRoute route, String hashKey, boolean replayable, TrySender<T> sender,
      ResponseInfo<T> responses) throws IOException;

  /**
   * Starts the telemetry of a call its transport routes itself (gRPC through grpc-java's own xDS
   * client), with the names and attributes of a call through {@link #execute}. Never throws.
   *
   * @param route the route's name, as {@link MeshRoute#rule()} names it; empty if unknown
   */
  RoutedCall startRouted(String service, String route, Context parent);

  /** Counts and reports an inbound call refused by the service's authorization. Never throws. */
  void denied(String service, String caller);

  /**
   * Calls without a mesh config, reporting through {@code otel}: every service is unknown to
   * {@link #route}; {@link #startRouted} measures calls a transport routes itself.
   */
  static MeshCalls unrouted(OpenTelemetry otel) {
    return EngineCalls.unrouted(otel);
  }
}
