package io.meshlet.controlplane.internal.serving;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;

/**
 * Hears what happens on every ADS stream: opened, each request as the client sent it, each
 * response as sent, closed. The source of {@code /clients}, metrics and registrations.
 *
 * <p>Called on the stream's own thread, under the stream's lock: implementations are quick and
 * never throw (a throw is logged and ignored).
 */
public interface AdsStreamListener {

  /**
   * A stream opened; {@code delta} tells which variant of ADS it speaks, {@code peer} who opened
   * it (TLS, and the SVID presented).
   */
  default void onStreamOpen(long streamId, boolean delta, Peer peer) {}

  /** A stream ended: {@code error} is null when the client or the server closed it cleanly. */
  default void onStreamClose(long streamId, Throwable error) {}

  /** A state-of-the-world request, before the server acts on it. */
  default void onRequest(long streamId, DiscoveryRequest request) {}

  /**
   * A state-of-the-world response, as it goes out: its type, version and nonce (the resources
   * go out as bytes shared by every stream with the same subscription, not as a message).
   */
  default void onResponse(long streamId, String typeUrl, String version, String nonce) {}

  /** An incremental request, before the server acts on it. */
  default void onDeltaRequest(long streamId, DeltaDiscoveryRequest request) {}

  /**
   * An incremental response, as it goes out: its type, system version and nonce (it goes out as
   * bytes shared by every stream sent the same, not as a message).
   */
  default void onDeltaResponse(long streamId, String typeUrl, String systemVersion, String nonce) {}
}
