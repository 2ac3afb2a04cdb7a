package io.meshlet.grpc;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientStreamTracer;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.meshlet.transport.MeshCalls;
import io.meshlet.transport.Outcome;
import io.meshlet.transport.RoutedCall;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.function.LongSupplier;

/**
 * Meshlet's telemetry for the calls of one {@code xds:///<service>} channel: the metric, counter,
 * span and trace context propagation that calls through Meshlet's HTTP engine get, so dashboards
 * and traces built on those names see gRPC calls too. grpc-java's xDS client routes the call; this
 * interceptor learns the cluster it picked from the {@code grpc.lb.backend_service} label grpc-java
 * gives each attempt (gRFC A89), counts the attempts its retry policy makes, and names the route
 * from the mesh config the {@code MeshClient} holds (empty without one).
 *
 * <p>Per call: {@code meshlet.client.request.duration} by {@code meshlet.service},
 * {@code meshlet.route}, {@code meshlet.cluster} and {@code meshlet.outcome} (the gRPC status
 * classified as the HTTP status Envoy maps it to: UNAVAILABLE is {@code gateway_error}, INTERNAL
 * {@code server_error}, DEADLINE_EXCEEDED {@code timeout}, an UNAVAILABLE that reached no server
 * {@code connect_failure}, OK and the caller's errors {@code response}); {@code meshlet.client.retries}
 * per retry; one CLIENT span {@code meshlet <service>} under the current context, with an event per
 * try, whose context is injected into the call's metadata ({@code traceparent} with W3C trace
 * context).
 *
 * <p>Thread-safe; recording never throws into the call.
 */
final class MeshClientInterceptor implements ClientInterceptor {

  /** The optional label by which grpc-java's cds policy names the cluster of an attempt (gRFC A89). */
  static final String BACKEND_SERVICE = "grpc.lb.backend_service";
  private static final AttributeKey<String> RPC_SYSTEM = AttributeKey.stringKey("rpc.system");
  private static final AttributeKey<String> RPC_SERVICE = AttributeKey.stringKey("rpc.service");
  private static final AttributeKey<String> RPC_METHOD = AttributeKey.stringKey("rpc.method");
  private static final AttributeKey<Long> RPC_GRPC_STATUS = AttributeKey.longKey("rpc.grpc.status_code");
  private static final TextMapSetter<Metadata> METADATA = (headers, name, value) -> {
    if (headers != null) {
      Metadata.Key<String> key = Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER);
      headers.removeAll(key);
      headers.put(key, value);
    }
  };

  private final String service;
  private final MeshCalls calls;
  private final LongSupplier nanoTime;

  /**
   * @param calls the mesh calls whose config names the route of a call and that report it
   *     ({@link MeshCalls#unrouted} without a config: the route is then empty)
   */
  MeshClientInterceptor(String service, MeshCalls calls, LongSupplier nanoTime) {
    this.service = service;
    this.calls = calls;
    this.nanoTime = nanoTime;
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
    Tracked tracked = new Tracked(nanoTime);
    ClientCall<Q, R> call = next.newCall(method, options.withStreamTracerFactory(tracked));
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        RoutedCall routed = calls.startRouted(service, routeName(method, headers), Context.current());
        tracked.start(routed, method, nanoTime.getAsLong());
        routed.inject(headers, METADATA);
        try {
          super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
            @Override
            public void onClose(Status status, Metadata trailers) {
              tracked.end(status);
              super.onClose(status, trailers);
            }
          }, headers);
        } catch (RuntimeException | Error e) {
          tracked.end(Status.fromThrowable(e));
          throw e;
        }
      }
    };
  }

  /** The name of the route the mesh config gives this call, as the HTTP side names it; empty if unknown. */
  private String routeName(MethodDescriptor<?, ?> method, Metadata headers) {
    return calls.routeName(service, "/" + method.getFullMethodName(), name -> header(headers, name));
  }

  /** A header's values joined by {@code ,}, as grpc-java's header matchers read them; null if absent or binary. */
  private static String header(Metadata headers, String name) {
    if (name.endsWith(Metadata.BINARY_HEADER_SUFFIX) || name.startsWith(":")) {
      return null;
    }
    Iterable<String> values = headers.getAll(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER));
    return values == null ? null : String.join(",", values);
  }

  /** One call's telemetry, and the factory of its attempts' tracers. */
  private static final class Tracked extends ClientStreamTracer.Factory {
    private final LongSupplier nanoTime;
    private volatile RoutedCall routed;
    private volatile MethodDescriptor<?, ?> method;
    private volatile long start;
    private volatile boolean reachedServer;
    private volatile Attempt last;
    private volatile boolean ended;

    Tracked(LongSupplier nanoTime) {
      this.nanoTime = nanoTime;
    }

    void start(RoutedCall routed, MethodDescriptor<?, ?> method, long start) {
      this.method = method;
      this.start = start;
      this.routed = routed;
    }

    @Override
    public ClientStreamTracer newClientStreamTracer(ClientStreamTracer.StreamInfo info, Metadata headers) {
      RoutedCall call = routed;
      if (call == null) {
        return new ClientStreamTracer() { };
      }
      if (info.getPreviousAttempts() > 0 && !info.isTransparentRetry() && !info.isHedging()) {
        call.retry();
      }
      Attempt attempt = new Attempt(this, call);
      last = attempt;
      return attempt;
    }

    void end(Status status) {
      RoutedCall call = routed;
      if (call == null || ended) {
        return;
      }
      ended = true;
      Attempt a = last;
      Outcome outcome = a != null && a.status != null && a.status.getCode() == status.getCode()
          ? a.outcome
          : Attempt.classify(status, reachedServer, false);
      MethodDescriptor<?, ?> m = method;
      String serviceName = m.getServiceName();
      String fullName = m.getFullMethodName();
      call.end(outcome, nanoTime.getAsLong() - start, Attributes.of(
          RPC_SYSTEM, "grpc",
          RPC_SERVICE, serviceName == null ? "" : serviceName,
          RPC_METHOD, fullName.substring(fullName.lastIndexOf('/') + 1),
          RPC_GRPC_STATUS, (long) status.getCode().value()));
    }
  }

  /** The tracer of one attempt: the endpoint it reached, the cluster grpc-java picked, its outcome. */
  private static final class Attempt extends ClientStreamTracer {
    private final Tracked call;
    private final RoutedCall routed;
    private volatile String endpoint = "";
    private volatile boolean answered;
    volatile Status status;
    volatile Outcome outcome;

    Attempt(Tracked call, RoutedCall routed) {
      this.call = call;
      this.routed = routed;
    }

    @Override
    public void addOptionalLabel(String key, String value) {
      if (BACKEND_SERVICE.equals(key)) {
        routed.cluster(value);
      }
    }

    @Override
    public void streamCreated(io.grpc.Attributes transportAttrs, Metadata headers) {
      SocketAddress address = transportAttrs.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
      if (address instanceof InetSocketAddress a) {
        endpoint = (a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString()) + ":" + a.getPort();
      } else if (address != null) {
        endpoint = address.toString();
      }
      call.reachedServer = true;
    }

    @Override
    public void inboundHeaders() {
      answered = true;
    }

    @Override
    public void inboundTrailers(Metadata trailers) {
      answered = true;
    }

    @Override
    public void streamClosed(Status status) {
      Outcome o = classify(status, !endpoint.isEmpty(), answered);
      this.outcome = o;
      this.status = status;
      routed.tried(endpoint, o);
    }

    /**
     * The outcome of a status: a server's answer as the HTTP status Envoy maps it to; an UNAVAILABLE
     * that reached no server a connect failure, and one whose stream broke before an answer a reset.
     */
    static Outcome classify(Status status, boolean reachedServer, boolean answered) {
      if (status.getCode() == Status.Code.UNAVAILABLE && !answered) {
        return reachedServer ? Outcome.RESET : Outcome.CONNECT_FAILURE;
      }
      return Outcome.ofGrpcStatus(status.getCode().value());
    }
  }
}
