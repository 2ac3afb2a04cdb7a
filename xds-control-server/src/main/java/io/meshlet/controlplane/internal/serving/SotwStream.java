package io.meshlet.controlplane.internal.serving;

import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.stub.StreamObserver;
import io.meshlet.controlplane.internal.serving.ResourceSnapshot.Entry;
import io.meshlet.controlplane.internal.serving.ResourceSnapshot.TypeResources;
import java.util.ArrayList;
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
final class SotwStream extends AdsService.AdsStream<DiscoveryRequest, DiscoveryResponse> {

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

  SotwStream(long id, StreamObserver<DiscoveryResponse> out, AdsService service) {
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
    Set<String> names = new TreeSet<>(requested);
    boolean explicitWildcard = names.remove("*");
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
    List<Entry> selected = new ArrayList<>();
    String key;
    if (t.wildcard) {
      selected.addAll(current.byName().values());
      key = "*@" + current.version();
    } else {
      StringBuilder k = new StringBuilder();
      if (AdsService.FULL_STATE_TYPES.contains(t.typeUrl)) {
        // A listener or cluster missing from a response does not exist (xDS protocol, "Knowing When
        // a Requested Resource Does Not Exist"), so a changed subscription is answered even when it
        // selects the same resources: a client asking for one that does not exist learns so in one
        // round trip instead of waiting out its does-not-exist timer.
        k.append(t.names).append('\n');
      }
      for (String name : t.names) {
        Entry e = current.byName().get(name);
        if (e != null) {
          selected.add(e);
          k.append(name).append('@').append(e.version()).append('\n');
        }
      }
      key = k.toString();
    }
    if (key.equals(t.lastSent)) {
      return;
    }
    boolean fullState = AdsService.FULL_STATE_TYPES.contains(t.typeUrl);
    if (t.lastSent == null && t.wildcard && t.clientVersion.equals(current.version())) {
      // A reconnecting wildcard client that names the version served now has all of it.
      t.lastSent = key;
      return;
    }
    if (selected.isEmpty() && !fullState) {
      // For routes and endpoints absence says nothing (deletion follows from the parent): no response.
      t.lastSent = key;
      return;
    }
    DiscoveryResponse.Builder response = DiscoveryResponse.newBuilder()
        .setTypeUrl(t.typeUrl)
        .setVersionInfo(current.version())
        .setNonce(nextNonce());
    for (Entry e : selected) {
      response.addResources(e.any());
    }
    DiscoveryResponse built = response.build();
    if (send(built)) {
      t.lastNonce = built.getNonce();
      t.lastSent = key;
      t.awaitingAnswer = true;
      AdsService.notifyListener(() -> service.listener().onResponse(id, built));
    }
  }
}
