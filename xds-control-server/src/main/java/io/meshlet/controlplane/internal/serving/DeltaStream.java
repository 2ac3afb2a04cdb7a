package io.meshlet.controlplane.internal.serving;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.grpc.stub.StreamObserver;
import io.meshlet.controlplane.internal.serving.ResourceSnapshot.Entry;
import io.meshlet.controlplane.internal.serving.ResourceSnapshot.TypeResources;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An incremental ADS stream ({@code DeltaAggregatedResources}). Requests change the subscription
 * by difference; responses carry only the resources whose version the client does not have, and
 * the names it must forget ({@code removed_resources}). A subscribed name that does not exist is
 * reported removed once, so the client need not wait for its does-not-exist timer. Guarded by the
 * stream (see {@link AdsService}).
 */
final class DeltaStream extends AdsService.AdsStream<DeltaDiscoveryRequest, Object> {

  private static final Logger log = LoggerFactory.getLogger(DeltaStream.class);

  /** In {@link TypeState#known}: the client was told this subscribed name does not exist. */
  private static final String ABSENT = "";

  private static final class TypeState {
    final String typeUrl;
    boolean wildcard;
    final Set<String> names = new TreeSet<>();
    /** The version of each resource the client has (or was sent), by name. */
    final Map<String, String> known = new HashMap<>();
    String lastNonce;
    boolean awaitingAnswer;
    /**
     * The {@link TypeResources#serial()} of the set this stream was last brought up to date with
     * (everything its subscription selects there, sent or judged current); -1 when its
     * subscription changed since. A stream in step with the set a new one was diffed against
     * looks only at the names that changed.
     */
    long syncedSerial = -1;

    TypeState(String typeUrl) {
      this.typeUrl = typeUrl;
    }
  }

  private final Map<String, TypeState> types = new LinkedHashMap<>();

  /** {@code out} takes {@link AdsService.PreparedResponse}s (see {@link AdsService#bindService()}). */
  DeltaStream(long id, StreamObserver<Object> out, AdsService service) {
    super(id, out, service);
  }

  @Override
  void handle(DeltaDiscoveryRequest request) {
    String typeUrl = request.getTypeUrl();
    if (typeUrl.isEmpty()) {
      throw new AdsService.BadRequestException("a request without type_url (expected on ADS: the type it subscribes to)");
    }
    AdsService.notifyListener(() -> service.listener().onDeltaRequest(id, request));
    node(request.hasNode(), request.getNode());
    TypeState t = types.get(typeUrl);
    boolean first = t == null;
    if (first) {
      t = new TypeState(typeUrl);
      types.put(typeUrl, t);
      // A reconnecting client names what it has, so only what changed since is sent again.
      request.getInitialResourceVersionsMap().forEach((name, version) -> {
        if (!version.isEmpty()) {
          types.get(typeUrl).known.put(name, version);
        }
      });
      t.wildcard = request.getResourceNamesSubscribeCount() == 0
          && AdsService.FULL_STATE_TYPES.contains(typeUrl);
    }
    for (String requested : request.getResourceNamesSubscribeList()) {
      // Held for the stream's life: one shared copy of each name for all streams, not one each.
      String name = service.internName(requested);
      if (name.equals("*")) {
        t.wildcard = true;
      } else {
        t.names.add(name);
        if (!first) {
          // The client may have forgotten it while staying subscribed: it must be sent again.
          t.known.remove(name);
        }
      }
    }
    for (String name : request.getResourceNamesUnsubscribeList()) {
      if (name.equals("*")) {
        t.wildcard = false;
        t.known.keySet().retainAll(t.names);
      } else if (t.names.remove(name) && !t.wildcard) {
        t.known.remove(name);
      }
    }
    if (request.getResourceNamesSubscribeCount() > 0 || request.getResourceNamesUnsubscribeCount() > 0) {
      t.syncedSerial = -1;
    }
    String nonce = request.getResponseNonce();
    if (!nonce.isEmpty()) {
      if (nonce.equals(t.lastNonce)) {
        t.awaitingAnswer = false;
      } else {
        log.debug("ADS stream {}: {} delta request with stale nonce {} (latest {})", id, typeUrl, nonce,
            t.lastNonce);
      }
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

  private void respond(TypeState t, ResourceSnapshot snapshot) {
    if (t.awaitingAnswer || !snapshot.typeUrls().contains(t.typeUrl)) {
      return;
    }
    TypeResources current = snapshot.type(t.typeUrl, zone);
    if (t.syncedSerial == current.serial()) {
      return;    // up to date with this very set, and the subscription has not changed since
    }
    if (t.syncedSerial != -1 && t.syncedSerial == current.previousSerial()
        && current.changed().isEmpty() && current.removed().isEmpty()) {
      t.syncedSerial = current.serial();
      return;    // in step with the set before, and nothing of this type changed: most types of most edits
    }
    // The resources to send, by name, in the order they go out.
    Map<String, Entry> sent = new LinkedHashMap<>();
    List<String> removed = new ArrayList<>();
    if (t.syncedSerial != -1 && t.syncedSerial == current.previousSerial()) {
      // In step with the set this one was diffed against: only the names that changed can differ.
      for (String name : current.changed()) {
        Entry e = current.byName().get(name);
        if ((t.wildcard || t.names.contains(name)) && !e.version().equals(t.known.get(name))) {
          sent.put(name, e);
        }
      }
      for (String name : current.removed()) {
        String had = t.known.get(name);
        if (had != null && !had.equals(ABSENT)) {
          removed.add(name);
        }
      }
    } else {
      if (t.wildcard) {
        for (Entry e : current.byName().values()) {
          if (!e.version().equals(t.known.get(e.name()))) {
            sent.put(e.name(), e);
          }
        }
      }
      for (String name : t.names) {
        Entry e = current.byName().get(name);
        if (e != null && !sent.containsKey(name) && !e.version().equals(t.known.get(name))) {
          sent.put(name, e);
        }
      }
      for (Map.Entry<String, String> k : t.known.entrySet()) {
        if (!k.getValue().equals(ABSENT) && !current.byName().containsKey(k.getKey())) {
          removed.add(k.getKey());
        }
      }
      for (String name : t.names) {
        if (!current.byName().containsKey(name) && !t.known.containsKey(name)) {
          removed.add(name);    // subscribed, but does not exist: say so at once
        }
      }
    }
    if (sent.isEmpty() && removed.isEmpty()) {
      t.syncedSerial = current.serial();
      return;
    }
    removed.sort(null);
    // Serialized once for every stream sent the same (nearly all are, after an edit); the nonce is this stream's.
    byte[] body = current.deltaBody(List.copyOf(sent.values()), removed);
    String nonce = nextNonce();
    if (send(new AdsService.PreparedResponse(t.typeUrl, current.version(), nonce, body))) {
      for (Entry e : sent.values()) {
        t.known.put(e.name(), e.version());
      }
      for (String name : removed) {
        if (t.names.contains(name)) {
          t.known.put(name, ABSENT);
        } else {
          t.known.remove(name);
        }
      }
      t.lastNonce = nonce;
      t.awaitingAnswer = true;
      t.syncedSerial = current.serial();
      AdsService.notifyListener(() -> service.listener().onDeltaResponse(id, t.typeUrl, current.version(), nonce));
    }
  }
}
