package io.meshlet.controlplane.internal.source;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.meshlet.controlplane.internal.metrics.ServerMetrics;
import io.meshlet.controlplane.internal.serving.AdsStreamListener;
import io.meshlet.controlplane.internal.serving.Interner;
import io.meshlet.controlplane.internal.serving.Peer;
import io.meshlet.internal.spiffe.SpiffeIds;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps track of every connected xDS stream: who the client is, what it subscribed to, and which
 * version of each resource type it ACKed or NACKed (and why). The source of {@code /clients}.
 *
 * <p>Thread-safe: the ADS server calls it from gRPC threads; each stream's state is guarded by
 * its own lock.
 */
public final class ClientRegistry implements AdsStreamListener {

  private static final Logger log = LoggerFactory.getLogger(ClientRegistry.class);
  private static final int MAX_PENDING_NONCES = 64;

  private final Map<Long, StreamState> streams = new ConcurrentHashMap<>();
  /** Subscribed-name lists shared between streams: most clients subscribe to the same names. */
  private final Interner<List<String>> subscriptions = new Interner<>(10_000);
  private final ServerMetrics metrics;
  private final Clock clock;
  private final Registrations registrations;

  private final java.util.function.Supplier<String> trustDomain;
  private final boolean plaintextRegistration;

  /**
   * @param trustDomain the trust domain served now: a TLS stream may register an instance of
   *     service S only when its SVID is {@code spiffe://<trust domain>/service/S}
   * @param plaintextRegistration whether a plaintext stream (a server on {@code --xds-plaintext})
   *     may register instances at all
   */
  public ClientRegistry(ServerMetrics metrics, Clock clock, Registrations registrations,
      java.util.function.Supplier<String> trustDomain, boolean plaintextRegistration) {
    this.trustDomain = trustDomain;
    this.plaintextRegistration = plaintextRegistration;
    this.metrics = metrics;
    this.clock = clock;
    this.registrations = registrations;
  }

  /** What {@code /clients} shows of one type on one stream. */
  public record TypeView(
      List<String> subscribed,
      String sentVersion,
      String ackedVersion,
      Optional<Nack> lastNack) {}

  /** A rejected response: the version the client refused and the reason it gave. */
  public record Nack(String version, String message, Instant at) {}

  /** What {@code /clients} shows of one connected stream. */
  public record ClientView(
      long streamId,
      String nodeId,
      String cluster,
      String protocol,
      Instant connectedAt,
      Map<String, TypeView> resources,
      Optional<Registrations.Instance> instance,
      Optional<String> registrationError,
      String transport) {}

  /** A view of every connected client, oldest stream first. */
  public List<ClientView> clients() {
    List<ClientView> out = new ArrayList<>();
    for (StreamState s : streams.values()) {
      out.add(s.view(registrations.onStream(s.streamId)));
    }
    out.sort(Comparator.comparingLong(ClientView::streamId));
    return out;
  }

  /** Connected streams now. */
  public int connected() {
    return streams.size();
  }

  @Override
  public void onStreamOpen(long streamId, boolean delta, Peer peer) {
    StreamState s = new StreamState(streamId, clock.instant(), peer);
    s.protocol = delta ? "delta" : "sotw";
    streams.put(streamId, s);
    metrics.streamOpened();
  }

  @Override
  public void onStreamClose(long streamId, Throwable error) {
    StreamState s = streams.remove(streamId);
    if (s != null) {
      if (error == null) {
        log.info("[{}] xDS stream {} closed", s.nodeId, streamId);
      } else {
        log.info("[{}] xDS stream {} ended: {}", s.nodeId, streamId, error.toString());
      }
    }
    registrations.deregister(streamId, error == null ? "its xDS stream closed" : "its xDS stream ended ("
        + error.getMessage() + ")");
  }

  @Override
  public void onRequest(long streamId, DiscoveryRequest request) {
    StreamState s = streams.get(streamId);
    if (s == null) {
      return;
    }
    String type = shortType(request.getTypeUrl());
    synchronized (s) {
      s.noteNode(request.hasNode() ? request.getNode() : null).flatMap(i -> admitted(s, i))
          .ifPresent(i -> registrations.register(streamId, i));
      TypeState t = s.type(type);
      List<String> names = request.getResourceNamesList();
      if (!names.equals(t.subscribed)) {   // an ACK usually names what it did before: keep that copy
        t.subscribed = subscriptions.intern(List.copyOf(names));
      }
      if (request.getResponseNonce().isEmpty()) {
        // The first request of a type on this stream; a reconnecting client names what it has.
        if (!request.getVersionInfo().isEmpty()) {
          t.ackedVersion = request.getVersionInfo();
        }
        return;
      }
      answered(s, type, t, request.getResponseNonce(),
          request.hasErrorDetail() ? request.getErrorDetail().getMessage() : null, request.getVersionInfo());
    }
  }

  @Override
  public void onResponse(long streamId, String typeUrl, String version, String nonce) {
    sent(streamId, typeUrl, version, nonce);
  }

  private void sent(long streamId, String typeUrl, String version, String nonce) {
    metrics.pushed();
    StreamState s = streams.get(streamId);
    if (s == null) {
      return;
    }
    synchronized (s) {
      TypeState t = s.type(shortType(typeUrl));
      t.sentVersion = version;
      t.remember(nonce, version);
    }
  }

  @Override
  public void onDeltaRequest(long streamId, DeltaDiscoveryRequest request) {
    StreamState s = streams.get(streamId);
    if (s == null) {
      return;
    }
    String type = shortType(request.getTypeUrl());
    synchronized (s) {
      s.noteNode(request.hasNode() ? request.getNode() : null).flatMap(i -> admitted(s, i))
          .ifPresent(i -> registrations.register(streamId, i));
      TypeState t = s.type(type);
      if (request.getResourceNamesSubscribeCount() > 0 || request.getResourceNamesUnsubscribeCount() > 0) {
        updateSubscribed(t, request);
      }
      if (request.getResponseNonce().isEmpty()) {
        return;
      }
      answered(s, type, t, request.getResponseNonce(),
          request.hasErrorDetail() ? request.getErrorDetail().getMessage() : null, null);
    }
  }

  private void updateSubscribed(TypeState t, DeltaDiscoveryRequest request) {
    {
      List<String> subscribed = new ArrayList<>(t.subscribed);
      subscribed.removeAll(request.getResourceNamesUnsubscribeList());
      for (String name : request.getResourceNamesSubscribeList()) {
        if (!subscribed.contains(name)) {
          subscribed.add(name);
        }
      }
      t.subscribed = subscriptions.intern(List.copyOf(subscribed));
    }
  }

  /**
   * Records the client's answer to the response with {@code nonce}: a NACK with its message, or
   * an ACK of {@code ackedVersion} (null: the version of the answered response, as in delta).
   */
  private void answered(StreamState s, String type, TypeState t, String nonce, String nackMessage,
      String ackedVersion) {
    String sent = t.nonces.remove(nonce);
    if (nackMessage != null) {
      nack(s, type, t, sent != null ? sent : "(unknown)", nackMessage);
    } else if (ackedVersion != null) {
      t.ackedVersion = ackedVersion;
    } else if (sent != null) {
      t.ackedVersion = sent;
    }
  }

  @Override
  public void onDeltaResponse(long streamId, String typeUrl, String systemVersion, String nonce) {
    sent(streamId, typeUrl, systemVersion, nonce);
  }

  private void nack(StreamState s, String type, TypeState t, String version, String message) {
    t.lastNack = new Nack(version, message, clock.instant());
    metrics.nacked();
    log.warn("[{}] NACK of {} version {}: {}", s.nodeId, type, version, message);
  }

  /**
   * The instance a stream registers, if the stream may: over TLS only with the SVID of the
   * instance's own service; over plaintext only where the operator allowed it. A refusal is kept
   * for {@code /clients} and logged once.
   */
  private Optional<Registrations.Instance> admitted(StreamState s, Registrations.Instance i) {
    String expected = SpiffeIds.service(trustDomain.get(), i.service());
    String refusal = null;
    if (!s.peer.tls()) {
      if (!plaintextRegistration) {
        refusal = "instance " + i.address() + " of '" + i.service() + "' refused: this stream is plaintext "
            + "(expected: mTLS with " + expected + "; a server on --xds-plaintext accepts registrations "
            + "only with --allow-plaintext-registration)";
      }
    } else if (s.peer.spiffeId().isEmpty()) {
      refusal = "instance " + i.address() + " of '" + i.service() + "' refused: the stream presented no "
          + "certificate (expected: mTLS with " + expected + "; get it from the CA first)";
    } else if (!s.peer.spiffeId().get().equals(expected)) {
      refusal = "instance " + i.address() + " of '" + i.service() + "' refused: the stream is authenticated as "
          + s.peer.spiffeId().get() + " (expected: " + expected + ")";
    }
    if (refusal == null) {
      return Optional.of(i);
    }
    s.registrationError = refusal;
    log.warn("[{}] {}", s.nodeId, refusal);
    return Optional.empty();
  }

  /** {@code type.googleapis.com/envoy.config.cluster.v3.Cluster} -> {@code Cluster}. */
  static String shortType(String typeUrl) {
    String known = SHORT_TYPES.get(typeUrl);    // once per response and request: no substring each time
    if (known != null) {
      return known;
    }
    int dot = typeUrl.lastIndexOf('.');
    String name = dot >= 0 ? typeUrl.substring(dot + 1) : typeUrl;
    if (SHORT_TYPES.size() < 64) {
      SHORT_TYPES.put(typeUrl, name);
    }
    return name;
  }

  private static final Map<String, String> SHORT_TYPES = new ConcurrentHashMap<>();

  private static final class StreamState {
    final long streamId;
    final Instant connectedAt;
    String nodeId = "(unknown)";
    String cluster = "";
    String protocol = "";
    boolean announced;
    String registrationError;
    final Map<String, TypeState> types = new TreeMap<>();

    final Peer peer;

    StreamState(long streamId, Instant connectedAt, Peer peer) {
      this.peer = peer;
      this.streamId = streamId;
      this.connectedAt = connectedAt;
    }

    /** The node's instance, the first time the stream names its node; else empty. */
    Optional<Registrations.Instance> noteNode(Node node) {
      if (node == null) {
        return Optional.empty();
      }
      nodeId = node.getId().isEmpty() ? "(empty)" : node.getId();
      cluster = node.getCluster();
      if (announced) {
        return Optional.empty();
      }
      announced = true;
      log.info("[{}] xDS client connected (stream {}, {}, cluster '{}', user agent {} {})",
          nodeId, streamId, protocol, cluster, node.getUserAgentName(), node.getUserAgentVersion());
      try {
        return Registrations.parse(node);
      } catch (IllegalArgumentException e) {
        registrationError = e.getMessage();
        log.warn("[{}] refused its instance registration: {}", nodeId, e.getMessage());
        return Optional.empty();
      }
    }

    TypeState type(String name) {
      return types.computeIfAbsent(name, k -> new TypeState());
    }

    synchronized ClientView view(Optional<Registrations.Instance> instance) {
      Map<String, TypeView> resources = new LinkedHashMap<>();
      types.forEach((k, t) -> resources.put(k,
          new TypeView(t.subscribed, t.sentVersion, t.ackedVersion, Optional.ofNullable(t.lastNack))));
      return new ClientView(streamId, nodeId, cluster, protocol, connectedAt, resources, instance,
          Optional.ofNullable(registrationError), peer.toString());
    }
  }

  private static final class TypeState {
    List<String> subscribed = List.of();
    String sentVersion = "";
    String ackedVersion = "";
    Nack lastNack;
    /** Nonces of responses not yet answered, to tell which version a NACK refers to. */
    final LinkedHashMap<String, String> nonces = new LinkedHashMap<>() {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
        return size() > MAX_PENDING_NONCES;
      }
    };

    void remember(String nonce, String version) {
      nonces.put(nonce, version);
    }
  }
}
