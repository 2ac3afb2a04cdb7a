package io.meshlet.transport;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.context.propagation.TextMapSetter;

/**
 * The telemetry of one call its transport routes itself, from {@link MeshCalls#startRouted}. Its
 * methods may be called from any thread, one at a time (a transport's tries follow one another),
 * and never throw.
 */
public interface RoutedCall {

  /** Writes the call's trace context (its span under the parent) into the carrier, by the configured propagator. */
  <C> void inject(C carrier, TextMapSetter<C> setter);

  /** The cluster the transport picked for the call. */
  void cluster(String name);

  /** A try made by the transport's own retry policy (not a transparent retry), counted as the engine counts its retries. */
  void retry();

  /** A try ended: an event on the span with the endpoint ({@code host:port}, empty if none was reached) and its outcome. */
  void tried(String endpoint, Outcome outcome);

  /**
   * The call ended: its duration is recorded by service, route, cluster and outcome, and the span
   * ends with these transport attributes (such as {@code rpc.grpc.status_code}), an error status
   * when the outcome is a failure.
   */
  void end(Outcome outcome, long nanos, Attributes transportAttributes);
}
