package io.meshlet.controlplane.internal.serving;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.meshlet.identity.SpiffeTls;
import java.util.Optional;
import javax.net.ssl.SSLSession;

/**
 * Who is at the other end of a call to the control server: whether the transport is TLS, and the
 * SPIFFE ID of the SVID the client presented, if it did (mTLS). Put in the call's context by
 * {@link #interceptor()}, read by the ADS server and the CA's identity API.
 *
 * @param tls whether the call came over TLS
 * @param spiffeId the client certificate's SPIFFE ID; empty without one
 */
public record Peer(boolean tls, Optional<String> spiffeId) {

  /** A plaintext peer, of a server started with {@code --xds-plaintext}. */
  public static final Peer PLAINTEXT = new Peer(false, Optional.empty());

  static final Context.Key<Peer> KEY = Context.key("meshlet-peer");

  /** The peer of the current call; {@link #PLAINTEXT} outside one. */
  public static Peer current() {
    Peer p = KEY.get();
    return p != null ? p : PLAINTEXT;
  }

  /** Reads the peer from the transport of every call and puts it in the call's context. */
  public static ServerInterceptor interceptor() {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        Peer peer = session == null ? PLAINTEXT : new Peer(true, SpiffeTls.peerSpiffeId(session));
        return Contexts.interceptCall(Context.current().withValue(KEY, peer), call, headers, next);
      }
    };
  }

  @Override
  public String toString() {
    return tls ? spiffeId.map(id -> "mTLS " + id).orElse("TLS without a client certificate") : "plaintext";
  }
}
