package io.meshlet.controlplane.internal;

import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Keeps java-control-plane from resending a version a client just NACKed.
 *
 * <p>A NACK names the version the client still has; java-control-plane sees that it differs from
 * the snapshot's and answers at once with the same rejected resources, which the client NACKs
 * again: a busy loop for as long as the bad config stands. The xDS protocol expects the server to
 * wait for a new version instead. This interceptor rewrites the {@code version_info} of a NACK
 * to the version it rejects, so java-control-plane holds its response until the config changes.
 * The error detail stays, so {@link ClientRegistry} still records the NACK and its text.
 */
public final class NackedVersionInterceptor implements ServerInterceptor {

  private static final int MAX_NONCES = 64;

  @Override
  public <Q, P> ServerCall.Listener<Q> interceptCall(ServerCall<Q, P> call, Metadata headers,
      ServerCallHandler<Q, P> next) {
    Map<String, String> versionsByNonce = new LinkedHashMap<>() {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
        return size() > MAX_NONCES;
      }
    };
    ServerCall<Q, P> recording = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void sendMessage(P message) {
        if (message instanceof DiscoveryResponse r) {
          synchronized (versionsByNonce) {
            versionsByNonce.put(r.getNonce(), r.getVersionInfo());
          }
        }
        super.sendMessage(message);
      }
    };
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(recording, headers)) {
      @Override
      @SuppressWarnings("unchecked")
      public void onMessage(Q message) {
        if (message instanceof DiscoveryRequest r && r.hasErrorDetail() && !r.getResponseNonce().isEmpty()) {
          String rejected;
          synchronized (versionsByNonce) {
            rejected = versionsByNonce.get(r.getResponseNonce());
          }
          if (rejected != null && !rejected.equals(r.getVersionInfo())) {
            message = (Q) r.toBuilder().setVersionInfo(rejected).build();
          }
        }
        super.onMessage(message);
      }
    };
  }
}
