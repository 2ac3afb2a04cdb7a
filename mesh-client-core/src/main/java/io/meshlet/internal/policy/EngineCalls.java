package io.meshlet.internal.policy;

import io.meshlet.internal.telemetry.Telemetry;
import io.meshlet.transport.MeshCalls;
import io.meshlet.transport.MeshRoute;
import io.meshlet.transport.ResponseInfo;
import io.meshlet.transport.RoutedCall;
import io.meshlet.transport.TrySender;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.context.Context;
import java.io.IOException;
import java.util.function.Function;

/** {@link MeshCalls} over a {@link PolicyEngine}: what a {@code MeshClient} hands its transports. */
public final class EngineCalls implements MeshCalls {

  /**
   * Runs before a call to a service is routed: a {@code MeshClient} waits there for its first
   * config, and on demand for the service's.
   */
  @FunctionalInterface
  public interface BeforeRoute {
    void await(String service) throws IOException;
  }

  private final PolicyEngine engine;
  private final BeforeRoute beforeRoute;

  public EngineCalls(PolicyEngine engine, BeforeRoute beforeRoute) {
    this.engine = engine;
    this.beforeRoute = beforeRoute;
  }

  /** Calls over an engine that never gets a config. */
  public static MeshCalls unrouted(OpenTelemetry otel) {
    return new EngineCalls(new PolicyEngine(System::nanoTime, Telemetry.of(otel)), service -> { });
  }

  @Override
  public MeshRoute route(String service, String path, Function<String, String> header) throws IOException {
    beforeRoute.await(service);
    return engine.route(service, path, header);
  }

  @Override
  public String routeName(String service, String path, Function<String, String> header) {
    try {
      return engine.route(service, path, header).rule().name();
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  @Override
  public <T> T execute(MeshRoute route, String hashKey, boolean replayable, TrySender<T> sender,
      ResponseInfo<T> responses) throws IOException {
    if (!(route instanceof PolicyEngine.Route r)) {
      throw new IllegalArgumentException("route: " + route + " (expected: a route from MeshCalls.route)");
    }
    return engine.execute(r, hashKey, replayable, sender, responses);
  }

  @Override
  public RoutedCall startRouted(String service, String route, Context parent) {
    return engine.telemetry().startRouted(service, route, parent);
  }

  @Override
  public void denied(String service, String caller) {
    engine.telemetry().denied(service, caller);
  }
}
