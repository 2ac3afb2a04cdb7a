package io.meshlet.controlplane.internal.serving;

import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import com.google.protobuf.CodedOutputStream;
import io.grpc.BindableService;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Meshlet's ADS server, state of the world and incremental (delta), as Envoy's "xDS REST and gRPC
 * protocol" document describes them, for any conforming client: grpc-java, gRPC C-core, grpc-js,
 * Envoy and Meshlet's own.
 *
 * <p>Why our own instead of java-control-plane's {@code SimpleCache} and watches: that cache
 * decides what to send from the version alone, and counts every resource it ever sent on a stream
 * as known. So a name that a client dropped and asks for again at an unchanged version is never
 * sent (envoyproxy/java-control-plane#339: a gRPC canary rolled back to a subset used before
 * takes the service down), and a NACK on a stream's first response is answered at once with the
 * same resources, forever. Serving is the product here, so it follows the protocol document
 * rather than what one client tolerates. What each stream keeps, per type:
 * <ul>
 *   <li>its subscription: wildcard (legacy: an empty first request for listeners and clusters;
 *       or {@code "*"}) and/or names;
 *   <li>what was last sent (state of the world: the names and versions of the last response;
 *       delta: the version of each resource the client has been given), and the nonce of the
 *       last response, which the client must ACK or NACK before it is sent the next one.
 * </ul>
 * A response goes out when what the subscription selects differs from what was last sent: a new
 * version, or a name newly (re)subscribed even at an unchanged version. A NACK is never answered
 * with the same resources; the next change is. A request with a stale nonce gets no response,
 * though its subscription is taken (it is the client's newest word).
 *
 * <p>Thread-safe. Each stream's state is guarded by the stream; {@link #publish} fans a new
 * snapshot out from the caller's thread. The work per stream and edit does not grow with the
 * size of the mesh where it need not: resources are packed once per snapshot and shared; what a
 * subscription selects, and its state-of-the-world response, are computed and serialized once per
 * distinct subscription and snapshot ({@link ResourceSnapshot.Selection}; a stream appends its
 * nonce to the shared bytes); a delta stream that had the previous snapshot looks only at the
 * names that changed; equal subscriptions are held once ({@link Interner}).
 *
 * <p>Flow control: a stream gets no new response of a type until the client has answered the last
 * one (ACK or NACK), so at most one response per type, four in all, is ever queued for a client,
 * however slow it reads; a new snapshot meanwhile is sent once it answers, as one response.
 */
public final class AdsService implements AggregatedDiscoveryServiceGrpc.AsyncService, BindableService {

  private static final Logger log = LoggerFactory.getLogger(AdsService.class);

  public static final String LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener";
  public static final String ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
  public static final String CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
  public static final String ENDPOINTS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

  /**
   * The order a new snapshot is pushed in on one stream, make before break as the protocol
   * document advises: clusters, then their endpoints, then listeners and routes that use them.
   */
  static final List<String> PUSH_ORDER = List.of(CLUSTER, ENDPOINTS, LISTENER, ROUTE);

  /**
   * Types whose state-of-the-world responses carry every subscribed resource (absence means
   * deleted) and which a legacy wildcard (an empty first request) subscribes to.
   */
  static final Set<String> FULL_STATE_TYPES = Set.of(LISTENER, CLUSTER);

  private final AdsStreamListener listener;
  private final AtomicLong streamIds = new AtomicLong();
  private final Set<AdsStream<?, ?>> streams = ConcurrentHashMap.newKeySet();
  private volatile ResourceSnapshot snapshot = ResourceSnapshot.empty();
  /** Subscriptions (sorted name sets) shared between streams; 10,000 distinct ones at most. */
  private final Interner<Set<String>> subscriptions = new Interner<>(10_000);
  /** Resource names delta streams subscribe to, shared between streams; 100,000 distinct ones at most. */
  private final Interner<String> names = new Interner<>(100_000);

  public AdsService(AdsStreamListener listener) {
    this.listener = listener;
  }

  /** Serves {@code next} from now on, and pushes what changed to every open stream. */
  public void publish(ResourceSnapshot next) {
    next.diffAgainst(snapshot);
    snapshot = next;
    for (AdsStream<?, ?> s : streams) {
      s.snapshotChanged();
    }
  }

  /** What is served now. */
  public ResourceSnapshot snapshot() {
    return snapshot;
  }

  /** Open streams now. */
  public int streams() {
    return streams.size();
  }

  /**
   * The generated service, except that responses go out through {@link PreparedResponses}: a
   * {@link PreparedResponse} is written as the shared bytes of its content (a state-of-the-world
   * selection, or what a delta response carries) plus its nonce, not serialized again per stream.
   */
  @Override
  public ServerServiceDefinition bindService() {
    ServerServiceDefinition generated = AggregatedDiscoveryServiceGrpc.bindService(this);
    MethodDescriptor<DiscoveryRequest, DiscoveryResponse> sotw =
        AggregatedDiscoveryServiceGrpc.getStreamAggregatedResourcesMethod();
    MethodDescriptor<DeltaDiscoveryRequest, DeltaDiscoveryResponse> delta =
        AggregatedDiscoveryServiceGrpc.getDeltaAggregatedResourcesMethod();
    ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(AggregatedDiscoveryServiceGrpc.SERVICE_NAME);
    for (ServerMethodDefinition<?, ?> m : generated.getMethods()) {
      String name = m.getMethodDescriptor().getFullMethodName();
      if (name.equals(sotw.getFullMethodName())) {
        MethodDescriptor<DiscoveryRequest, Object> prepared = sotw.toBuilder(sotw.getRequestMarshaller(),
            new PreparedResponses<>(ProtoUtils.marshaller(DiscoveryResponse.getDefaultInstance()))).build();
        b.addMethod(prepared, ServerCalls.<DiscoveryRequest, Object>asyncBidiStreamingCall(
            out -> open(new SotwStream(streamIds.incrementAndGet(), out, this))));
      } else if (name.equals(delta.getFullMethodName())) {
        MethodDescriptor<DeltaDiscoveryRequest, Object> prepared = delta.toBuilder(delta.getRequestMarshaller(),
            new PreparedResponses<>(ProtoUtils.marshaller(DeltaDiscoveryResponse.getDefaultInstance()))).build();
        b.addMethod(prepared, ServerCalls.<DeltaDiscoveryRequest, Object>asyncBidiStreamingCall(
            out -> open(new DeltaStream(streamIds.incrementAndGet(), out, this))));
      } else {
        b.addMethod(m);
      }
    }
    return b.build();
  }

  /** For a caller that bypasses bindService(): prepared responses are turned into messages. */
  private static <M> StreamObserver<Object> messages(StreamObserver<M> out,
      java.util.function.Function<PreparedResponse, M> parse) {
    return new StreamObserver<Object>() {
      @Override
      @SuppressWarnings("unchecked")
      public void onNext(Object value) {
        out.onNext(value instanceof PreparedResponse p ? parse.apply(p) : (M) value);
      }

      @Override
      public void onError(Throwable t) {
        out.onError(t);
      }

      @Override
      public void onCompleted() {
        out.onCompleted();
      }
    };
  }

  @Override
  public StreamObserver<DiscoveryRequest> streamAggregatedResources(StreamObserver<DiscoveryResponse> out) {
    return open(new SotwStream(streamIds.incrementAndGet(), messages(out, PreparedResponse::toMessage), this));
  }

  /** The shared instance of a resource name. */
  String internName(String name) {
    return names.intern(name);
  }

  /** The shared instance of a subscription equal to {@code names}. */
  Set<String> intern(Set<String> names) {
    return subscriptions.intern(names);
  }

  @Override
  public StreamObserver<DeltaDiscoveryRequest> deltaAggregatedResources(StreamObserver<DeltaDiscoveryResponse> out) {
    return open(new DeltaStream(streamIds.incrementAndGet(), messages(out, PreparedResponse::toDeltaMessage), this));
  }

  private <Q> StreamObserver<Q> open(AdsStream<Q, ?> stream) {
    streams.add(stream);
    Peer peer = Peer.current();
    notifyListener(() -> listener.onStreamOpen(stream.id, stream instanceof DeltaStream, peer));
    return stream;
  }

  void closed(AdsStream<?, ?> stream, Throwable error) {
    if (streams.remove(stream)) {
      notifyListener(() -> listener.onStreamClose(stream.id, error));
    }
  }

  AdsStreamListener listener() {
    return listener;
  }

  static void notifyListener(Runnable call) {
    try {
      call.run();
    } catch (RuntimeException e) {
      log.error("an ADS stream listener failed; ignored", e);
    }
  }

  /**
   * One ADS stream: requests are handled and responses sent under the stream's lock, so a push
   * from {@link #publish} and a request from the client never interleave.
   */
  abstract static class AdsStream<Q, R> implements StreamObserver<Q> {
    final long id;
    final AdsService service;
    private final StreamObserver<R> out;
    private boolean closed;
    private long nonces;
    /**
     * The zone of the client's node ({@code node.locality.zone}), read from the first request that
     * carries a node (clients may send it only once); empty for a client that names none. It picks
     * the zone view of the snapshot this stream is served ({@link ResourceSnapshot#type(String, String)}).
     */
    String zone = "";
    private boolean nodeSeen;

    AdsStream(long id, StreamObserver<R> out, AdsService service) {
      this.id = id;
      this.out = out;
      this.service = service;
    }

    abstract void handle(Q request);

    /** Notes the client's node, once: its zone chooses what this stream is served. */
    final void node(boolean present, io.envoyproxy.envoy.config.core.v3.Node node) {
      if (present && !nodeSeen) {
        nodeSeen = true;
        zone = node.getLocality().getZone();
      }
    }

    /** The types this stream has asked for. */
    abstract Set<String> typeUrls();

    /** Sends what the stream's subscription of a type selects in {@code snapshot}, if it should. */
    abstract void respond(String typeUrl, ResourceSnapshot snapshot);

    /** Offers a new snapshot to every type, make before break ({@link #PUSH_ORDER}), then the rest. */
    private void pushAll(ResourceSnapshot snapshot) {
      for (String typeUrl : PUSH_ORDER) {
        if (typeUrls().contains(typeUrl)) {
          respond(typeUrl, snapshot);
        }
      }
      for (String typeUrl : List.copyOf(typeUrls())) {
        if (!PUSH_ORDER.contains(typeUrl)) {
          respond(typeUrl, snapshot);
        }
      }
    }

    @Override
    public final synchronized void onNext(Q request) {
      if (closed) {
        return;
      }
      try {
        handle(request);
      } catch (BadRequestException e) {
        log.warn("ADS stream {}: {}; closing it", id, e.getMessage());
        fail(Status.INVALID_ARGUMENT.withDescription(e.getMessage()));
      } catch (RuntimeException e) {
        log.error("ADS stream {}: could not handle a request; closing it", id, e);
        fail(Status.INTERNAL.withDescription("the control server failed to handle the request: " + e));
      }
    }

    @Override
    public final synchronized void onError(Throwable t) {
      closed = true;
      service.closed(this, t);
    }

    @Override
    public final synchronized void onCompleted() {
      if (!closed) {
        closed = true;
        try {
          out.onCompleted();
        } catch (RuntimeException ignored) {
          // already cancelled
        }
        service.closed(this, null);
      }
    }

    final synchronized void snapshotChanged() {
      if (!closed) {
        try {
          pushAll(service.snapshot());
        } catch (RuntimeException e) {
          log.error("ADS stream {}: could not push a new snapshot; closing it", id, e);
          fail(Status.INTERNAL.withDescription("the control server failed to push: " + e));
        }
      }
    }

    final String nextNonce() {
      return Long.toString(++nonces);
    }

    /** Sends one response; false when the stream is gone. */
    final boolean send(R response) {
      try {
        out.onNext(response);
        return true;
      } catch (RuntimeException e) {
        // The call was cancelled under us; onError follows or has come.
        closed = true;
        service.closed(this, e);
        return false;
      }
    }

    private void fail(Status status) {
      closed = true;
      try {
        out.onError(status.asRuntimeException());
      } catch (RuntimeException ignored) {
        // already cancelled
      }
      service.closed(this, status.asRuntimeException());
    }
  }

  /**
   * A response as it goes on the wire: the shared serialized body (type, version, resources; for
   * delta also the removed names) and this stream's nonce, written after it as field 5 (the
   * nonce's number in {@code DiscoveryResponse} and {@code DeltaDiscoveryResponse} alike).
   * Protobuf reads concatenated messages as one, so the client sees one ordinary response.
   */
  record PreparedResponse(String typeUrl, String version, String nonce, byte[] body) {
    /** The same state-of-the-world response as a message (for callers outside {@link #bindService()}). */
    DiscoveryResponse toMessage() {
      try {
        return DiscoveryResponse.parseFrom(PreparedResponses.bytes(this));
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new IllegalStateException("a prepared DiscoveryResponse does not parse", e);
      }
    }

    /** The same delta response as a message (for callers outside {@link #bindService()}). */
    DeltaDiscoveryResponse toDeltaMessage() {
      try {
        return DeltaDiscoveryResponse.parseFrom(PreparedResponses.bytes(this));
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new IllegalStateException("a prepared DeltaDiscoveryResponse does not parse", e);
      }
    }
  }

  /** Writes {@link PreparedResponse}s as their bytes and anything else as the protobuf message it is. */
  static final class PreparedResponses<M extends com.google.protobuf.Message> implements MethodDescriptor.Marshaller<Object> {
    private final MethodDescriptor.Marshaller<M> proto;

    PreparedResponses(MethodDescriptor.Marshaller<M> proto) {
      this.proto = proto;
    }

    @Override
    @SuppressWarnings("unchecked")
    public InputStream stream(Object value) {
      if (value instanceof PreparedResponse p) {
        return new PreparedStream(p.body(), nonceField(p.nonce()));
      }
      return proto.stream((M) value);
    }

    @Override
    public Object parse(InputStream stream) {
      return proto.parse(stream);
    }

    static byte[] bytes(PreparedResponse p) {
      byte[] tail = nonceField(p.nonce());
      byte[] all = java.util.Arrays.copyOf(p.body(), p.body().length + tail.length);
      System.arraycopy(tail, 0, all, p.body().length, tail.length);
      return all;
    }

    /** {@code nonce} as field 5 of a {@code DiscoveryResponse}. */
    private static byte[] nonceField(String nonce) {
      byte[] out = new byte[CodedOutputStream.computeStringSize(DiscoveryResponse.NONCE_FIELD_NUMBER, nonce)];
      CodedOutputStream c = CodedOutputStream.newInstance(out);
      try {
        c.writeString(DiscoveryResponse.NONCE_FIELD_NUMBER, nonce);
        c.checkNoSpaceLeft();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return out;
    }
  }

  /** The body and the nonce field, read or drained (gRPC drains it straight into its frame). */
  private static final class PreparedStream extends InputStream implements KnownLength, Drainable {
    private final byte[] body;
    private final byte[] tail;
    private int pos;

    PreparedStream(byte[] body, byte[] tail) {
      this.body = body;
      this.tail = tail;
    }

    @Override
    public int available() {
      return body.length + tail.length - pos;
    }

    @Override
    public int read() {
      if (pos < body.length) {
        return body[pos++] & 0xff;
      }
      if (pos < body.length + tail.length) {
        return tail[pos++ - body.length] & 0xff;
      }
      return -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      int left = available();
      if (left == 0) {
        return len == 0 ? 0 : -1;
      }
      int n = Math.min(len, left);
      for (int i = 0; i < n; ) {
        if (pos < body.length) {
          int k = Math.min(n - i, body.length - pos);
          System.arraycopy(body, pos, b, off + i, k);
          pos += k;
          i += k;
        } else {
          int k = n - i;
          System.arraycopy(tail, pos - body.length, b, off + i, k);
          pos += k;
          i += k;
        }
      }
      return n;
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      int n = available();
      if (pos < body.length) {
        target.write(body, pos, body.length - pos);
        target.write(tail);
      } else {
        target.write(tail, pos - body.length, n);
      }
      pos = body.length + tail.length;
      return n;
    }
  }

  /** A request that breaks the protocol: the stream is closed with INVALID_ARGUMENT. */
  static final class BadRequestException extends RuntimeException {
    BadRequestException(String message) {
      super(message);
    }
  }
}
