package io.meshlet.controlplane.internal.serving;

import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.stub.StreamObserver;
import io.meshlet.controlplane.internal.serving.ResourceSnapshot.Selection;
import io.meshlet.controlplane.internal.serving.ResourceSnapshot.TypeResources;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A state-of-the-world ADS stream ({@code StreamAggregatedResources}). Every request names the
 * client's whole subscription for its type; the server answers with every subscribed resource
 * that exists, whenever that selection changes. Guarded by the stream (see {@link AdsService}).
 */
final class SotwStream extends AdsService.AdsStream<DiscoveryRequest, Object> {

  private static final Logger log = LoggerFactory.getLogger(SotwStream.class);

  /** What this stream knows of one type. */
  private static final class TypeState {
    final String typeUrl;
    boolean wildcard;
    Set<String> names = Set.of();
    /** The version_info of the stream's first request of this type: what a reconnecting client has. */
    String clientVersion = "";
    /** The nonce of the last response of this type; null before the first. */
    String lastNonce;
    /** The names and versions the last response carried (or that were judged up to date); null before. */
    String lastSent;
    /** A response is out that the client has not ACKed or NACKed yet. */
    boolean awaitingAnswer;

    TypeState(String typeUrl) {
      this.typeUrl = typeUrl;
    }
  }

  private final Map<String, TypeState> types = new LinkedHashMap<>();

  /** {@code out} takes {@link AdsService.PreparedResponse}s (see {@link AdsService#bindService()}). */
  SotwStream(long id, StreamObserver<Object> out, AdsService service) {
    super(id, out, service);
  }

  @Override
  void handle(DiscoveryRequest request) {
    String typeUrl = request.getTypeUrl();
    if (typeUrl.isEmpty()) {
      throw new AdsService.BadRequestException("a request without type_url (expected on ADS: the type it subscribes to)");
    }
    AdsService.notifyListener(() -> service.listener().onRequest(id, request));
    TypeState t = types.get(typeUrl);
    boolean first = t == null;
    if (first) {
      t = new TypeState(typeUrl);
      types.put(typeUrl, t);
      t.clientVersion = request.getVersionInfo();
    }
    List<String> requested = request.getResourceNamesList();
    Set<String> names;
    boolean explicitWildcard;
    if (!first && requested.size() == t.names.size() && t.names.containsAll(requested)) {
      names = t.names;           // an ACK naming what the stream has: nothing to build
      explicitWildcard = false;
    } else {
      Set<String> sorted = new TreeSet<>(requested);
      explicitWildcard = sorted.remove("*");
      names = service.intern(Collections.unmodifiableSet(sorted));
    }
    if (explicitWildcard) {
      t.wildcard = true;
    } else if (first) {
      // Legacy wildcard: an empty first request for listeners or clusters means "all of them".
      t.wildcard = requested.isEmpty() && AdsService.FULL_STATE_TYPES.contains(typeUrl);
    } else if (!requested.isEmpty()) {
      t.wildcard = false;    // names without "*": the client left wildcard mode
    }                        // an empty list later keeps a legacy wildcard, or unsubscribes all names
    t.names = names;

    String nonce = request.getResponseNonce();
    if (!nonce.isEmpty() && t.lastNonce != null && !nonce.equals(t.lastNonce)) {
      // Answers an older response: its subscription is taken, but it gets no response of its own.
      log.debug("ADS stream {}: {} request with stale nonce {} (latest {})", id, typeUrl, nonce, t.lastNonce);
      return;
    }
    if (nonce.equals(t.lastNonce)) {
      t.awaitingAnswer = false;   // the ACK or NACK of the latest response
    }
    respond(t, service.snapshot());
  }

  @Override
  java.util.Set<String> typeUrls() {
    return types.keySet();
  }

  @Override
  void respond(String typeUrl, ResourceSnapshot snapshot) {
    respond(types.get(typeUrl), snapshot);
  }

  /** Sends what the subscription selects now, unless the client has it or has yet to answer. */
  private void respond(TypeState t, ResourceSnapshot snapshot) {
    if (t.awaitingAnswer || !snapshot.typeUrls().contains(t.typeUrl)) {
      return;
    }
    TypeResources current = snapshot.type(t.typeUrl);
    Selection selected = t.wildcard ? current.all() : current.select(t.names);
    String key = selected.key();
    if (key.equals(t.lastSent)) {
      return;
    }
    boolean fullState = AdsService.FULL_STATE_TYPES.contains(t.typeUrl);
    if (t.lastSent == null && t.wildcard && t.clientVersion.equals(current.version())) {
      // A reconnecting wildcard client that names the version served now has all of it.
      t.lastSent = key;
      return;
    }
    if (selected.entries().isEmpty() && !fullState) {
      // For routes and endpoints absence says nothing (deletion follows from the parent): no response.
      t.lastSent = key;
      return;
    }
    String nonce = nextNonce();
    if (send(new AdsService.PreparedResponse(t.typeUrl, current.version(), nonce, selected.sotwBody()))) {
      t.lastNonce = nonce;
      t.lastSent = key;
      t.awaitingAnswer = true;
      AdsService.notifyListener(() -> service.listener().onResponse(id, t.typeUrl, current.version(), nonce));
    }
  }
}
