package io.meshlet.internal.xds;

import io.meshlet.internal.wire.Backoff;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.rpc.Code;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.EndpointConfig;
import io.meshlet.config.MeshSnapshot;
import io.meshlet.config.RouteTable;
import io.meshlet.internal.xds.ListenerResource;
import io.meshlet.internal.xds.ResourceException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An xDS client over one ADS stream (state of the world): subscribes to every listener and
 * cluster, and to the route configurations and endpoint assignments they name, or, {@linkplain
 * #subscribeOnDemand on demand}, only to the services it is asked for; ACKs what it can
 * apply and NACKs what it cannot with the reason; publishes a new consistent {@link MeshSnapshot}
 * after each accepted change; reconnects with jittered exponential backoff, moving to the next
 * control server each time, and keeps the last good config throughout.
 *
 * <p>Thread-safety: all state is confined to one serialized executor; gRPC callbacks hop onto it.
 */
public final class AdsClient implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AdsClient.class);

  static final String LDS = "type.googleapis.com/" + Listener.getDescriptor().getFullName();
  static final String RDS = "type.googleapis.com/" + RouteConfiguration.getDescriptor().getFullName();
  static final String CDS = "type.googleapis.com/" + Cluster.getDescriptor().getFullName();
  static final String EDS = "type.googleapis.com/" + ClusterLoadAssignment.getDescriptor().getFullName();
  private static final List<String> TYPES = List.of(LDS, CDS, RDS, EDS);

  /** What the client tells its owner; called on the serialized executor, must not block. */
  public interface Handler {
    /** A new consistent snapshot was built from accepted resources. */
    void onSnapshot(MeshSnapshot snapshot);

    /** A response was refused; a refused version sent again is refused again but reported once. */
    void onNack(String typeUrl, String version, String message);

    /** A stream to a control server is up and answering. */
    void onConnected(String server);

    /** The stream to a control server ended; a reconnect is scheduled. */
    void onDisconnected(String server, Status status, Duration retryIn);

    /** On demand: the control server answered that it has no listener for a service asked for. */
    default void onAbsent(String service) {}
  }

  private final List<String> servers;
  private volatile Node node;
  private final Handler handler;
  private final ScheduledExecutorService executor;
  private final Clock clock;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final Map<String, ManagedChannel> channels = new HashMap<>();
  private final io.grpc.ChannelCredentials credentials;
  private final java.util.function.Supplier<io.meshlet.identity.WorkloadIdentity> identity;
  /** The identity the channels were made with (confined to the executor). */
  private io.meshlet.identity.WorkloadIdentity presented;
  /** A stream and channels being replaced: closed once the new stream answers. */
  private Stream retiring;
  private List<ManagedChannel> retiringChannels = List.of();

  // State below is confined to the executor.
  private final Map<String, TypeState> types = new HashMap<>();
  private Map<String, ListenerResource> listeners = new TreeMap<>();
  private final Map<String, RouteConfiguration> routeConfigs = new TreeMap<>();
  /**
   * Per type, what each resource of the last accepted response parsed to, by a digest of its bytes. A
   * state-of-the-world response carries every subscribed resource of its type, so without this a
   * client parsed everything it holds on every response: a client holding many services on each
   * edit, one subscribing on demand on each service it adds.
   */
  private final Map<String, Map<ByteString, Object>> parsed = new HashMap<>();
  /** Keys {@link #parsed}: a SHA-256 digest of a resource holds 32 bytes where keeping the resource's own would hold them all. */
  private final java.security.MessageDigest digest;
  /**
   * Route tables parsed from {@link #routeConfigs}, by route configuration name and the listener
   * that reads it (service and filters): each configuration is parsed once per update, when it
   * arrives, and again only for a listener that starts reading it later.
   */
  private final Map<String, Map<RouteReader, RouteTable>> routeTables = new TreeMap<>();

  /** Who reads a route configuration: the result of parsing depends on both. */
  private record RouteReader(String service, Set<String> filters) {}
  private Map<String, ClusterConfig> clusters = new TreeMap<>();
  private final Map<String, List<EndpointConfig>> endpoints = new TreeMap<>();
  /** Per assignment name: its overprovisioning factor (when its priority 0 spills over). */
  private final Map<String, Integer> overprovisioning = new TreeMap<>();
  private int serverIndex = -1;
  private Stream stream;
  private int failures;
  private boolean closed;
  private String lastPublished = "";
  /** A {@link #publishSoon} is on the executor's queue. */
  private boolean publishQueued;

  /**
   * On demand: the services asked for (their listeners, route configurations and clusters are
   * subscribed by name), and the inbound listener of this client's own service; null: wildcard.
   */
  private Set<String> demanded;
  private String ownInbound;
  /** Services asked for whose listener has not arrived, and what would prove it absent. */
  private final Map<String, Pending> pending = new HashMap<>();
  /** Listener subscription changes sent since the last listener response. */
  private int ldsChangesUnanswered;

  /**
   * A service asked for: absent when a listener response at the version the client had when it
   * asked, answering no earlier change, lacks it (the server answers every changed subscription).
   */
  private static final class Pending {
    String askedAtVersion;
    int changesBefore;

    Pending(String askedAtVersion, int changesBefore) {
      this.askedAtVersion = askedAtVersion;
      this.changesBefore = changesBefore;
    }
  }

  private static final class TypeState {
    String ackedVersion = "";
    String nonce = "";
    Set<String> names = new TreeSet<>();
    /** The refusal last sent on this stream, and how often the server sent that version again. */
    String nackedVersion;
    String nackedMessage;
    int nackRepeats;
  }

  /**
   * @param credentials how channels to the control servers are secured (TLS from
   *     {@link io.meshlet.internal.spiffe.ControlPlaneTls}, or plaintext)
   * @param identity the SVID the credentials present, or null; when it changes (a first
   *     certificate, a rotation) the client reconnects so the server sees the new one
   */
  public AdsClient(List<String> servers, Node node, Handler handler, ScheduledExecutorService executor,
      Clock clock, Duration initialBackoff, Duration maxBackoff, io.grpc.ChannelCredentials credentials,
      java.util.function.Supplier<io.meshlet.identity.WorkloadIdentity> identity) {
    if (servers.isEmpty()) {
      throw new IllegalArgumentException("servers: [] (expected: at least one control server host:port)");
    }
    this.servers = List.copyOf(servers);
    this.node = node;
    this.handler = handler;
    this.executor = executor;
    this.clock = clock;
    this.initialBackoff = initialBackoff;
    this.maxBackoff = maxBackoff;
    this.credentials = java.util.Objects.requireNonNull(credentials, "credentials");
    this.identity = identity;
    try {
      this.digest = java.security.MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is in every Java runtime", e);
    }
    for (String t : TYPES) {
      types.put(t, new TypeState());
    }
  }

  /**
   * Subscribes by name to the services asked for ({@code initial} now, others through {@link
   * #demand}) instead of to every listener and cluster: the client holds only what it uses. Call
   * before {@link #start}.
   *
   * @param ownService the service this client belongs to: its inbound listener is subscribed too
   */
  public void subscribeOnDemand(String ownService, java.util.Collection<String> initial) {
    demanded = new TreeSet<>(initial);
    ownInbound = io.meshlet.internal.wire.WireNames.inbound(ownService);
    for (String service : initial) {
      pending.put(service, new Pending(null, 0));   // the first listener response answers these
    }
    types.get(LDS).names = ldsNames();
    types.get(CDS).names = cdsNames();
    types.get(RDS).names = new TreeSet<>(demanded);
    types.get(EDS).names = cdsNames();
  }

  /** On demand: subscribes to a service from now on (no-op when already asked for or in wildcard mode). */
  public void demand(String service) {
    post(() -> {
      if (demanded == null || closed || !demanded.add(service)) {
        return;
      }
      pending.put(service, new Pending(types.get(LDS).ackedVersion, ldsChangesUnanswered));
      log.debug("[{}] subscribing on demand to service '{}'", node.getId(), service);
      if (stream != null) {
        updateSubscriptions(stream);
      }
    });
  }

  private Set<String> ldsNames() {
    Set<String> names = new TreeSet<>(demanded);
    names.add(ownInbound);
    return names;
  }

  /** The services' own clusters (asked for with their listeners) and those their routes name. */
  private Set<String> cdsNames() {
    Set<String> names = new TreeSet<>(demanded);
    for (String service : demanded) {
      ListenerResource l = listeners.get(service);
      RouteConfiguration rc = l == null ? null : routeConfigs.get(l.routeConfigName());
      if (rc != null) {
        try {
          routeTable(l, rc).rules().forEach(rule -> rule.clusters().forEach(wc -> names.add(wc.cluster())));
        } catch (ResourceException e) {
          // Said when the snapshot is built; the service is left out of it.
        }
      }
    }
    return names;
  }

  /** Opens the first stream. */
  public void start() {
    post(() -> {
      if (identity != null) {
        presented = identity.get();
        scheduleIdentityCheck();
      }
      connect();
    });
  }

  private void scheduleIdentityCheck() {
    schedule(() -> {
      if (closed) {
        return;
      }
      io.meshlet.identity.WorkloadIdentity now = identity.get();
      if (now != presented) {
        presented = now;
        reconnectWithNewIdentity();
      }
      scheduleIdentityCheck();
    }, 1000);
  }

  /**
   * A TLS connection keeps the certificate it was opened with: new channels and a new stream to
   * the same server present the new one; the old stream is closed once the new one answers, so
   * the config and a registered instance never lapse.
   */
  private void reconnectWithNewIdentity() {
    log.info("[{}] workload identity {}: reconnecting to present it to the control server", node.getId(),
        presented == null ? "gone" : presented.spiffeId() + " (serial "
            + presented.chain().get(0).getSerialNumber().toString(16) + ")");
    synchronized (channels) {
      retiringChannels = new ArrayList<>(channels.values());
      channels.clear();
    }
    if (stream != null) {
      retiring = stream;
      stream = null;
      serverIndex = (serverIndex - 1 + servers.size()) % servers.size();
      connect();
    }
  }

  private void retireOld() {
    if (retiring != null) {
      retiring.cancel();
      retiring = null;
    }
    retiringChannels.forEach(ManagedChannel::shutdown);
    retiringChannels = List.of();
  }

  /**
   * Sends this node from now on: the stream is reopened to the same control server, since a
   * server reads the node from a stream's first request. The config in force stays meanwhile.
   */
  public void updateNode(Node updated) {
    post(() -> {
      node = updated;
      if (closed || stream == null) {
        return;        // the next stream carries it
      }
      Stream old = stream;
      stream = null;
      old.cancel();
      serverIndex = (serverIndex - 1 + servers.size()) % servers.size();
      connect();
    });
  }

  @Override
  public void close() {
    post(() -> {
      closed = true;
      if (stream != null) {
        stream.cancel();
      }
    });
    synchronized (channels) {
      channels.values().forEach(ManagedChannel::shutdownNow);
      channels.clear();
      retiringChannels.forEach(ManagedChannel::shutdownNow);
    }
  }

  /** The channel to a control server, which the load reports to that server share. */
  public io.grpc.Channel channelTo(String server) {
    return channel(server);
  }

  private ManagedChannel channel(String server) {
    synchronized (channels) {
      return channels.computeIfAbsent(server, s -> NettyChannelBuilder.forTarget(s, credentials)
          .keepAliveTime(30, TimeUnit.SECONDS)
          .build());
    }
  }

  private void connect() {
    if (closed) {
      return;
    }
    serverIndex = (serverIndex + 1) % servers.size();
    String server = servers.get(serverIndex);
    Stream s = new Stream(server);
    stream = s;
    log.debug("[{}] opening ADS stream to {}", node.getId(), server);
    s.open();
    ldsChangesUnanswered = 0;
    pending.values().forEach(p -> {
      p.changesBefore = 0;     // a new stream: its first listener response answers every name
      p.askedAtVersion = null;
    });
    for (String type : TYPES) {
      TypeState t = types.get(type);
      boolean wildcard = demanded == null && (type.equals(LDS) || type.equals(CDS));
      t.nackedVersion = null;
      if (wildcard || !t.names.isEmpty()) {
        t.nonce = "";
        s.send(request(type, t, null));
      }
    }
  }

  private DiscoveryRequest request(String type, TypeState t, String error) {
    DiscoveryRequest.Builder b = DiscoveryRequest.newBuilder()
        .setNode(node)
        .setTypeUrl(type)
        .setVersionInfo(t.ackedVersion)
        .setResponseNonce(t.nonce)
        .addAllResourceNames(demanded == null && (type.equals(LDS) || type.equals(CDS)) ? List.of() : t.names);
    if (error != null) {
      b.setErrorDetail(com.google.rpc.Status.newBuilder().setCode(Code.INVALID_ARGUMENT_VALUE).setMessage(error));
    }
    return b.build();
  }

  private void onResponse(Stream s, DiscoveryResponse response) {
    if (s != stream || closed) {
      return;
    }
    if (!s.answered) {
      s.answered = true;
      failures = 0;
      log.info("[{}] connected to control server {}", node.getId(), s.server);
      retireOld();
      handler.onConnected(s.server);
    }
    String type = response.getTypeUrl();
    TypeState t = types.get(type);
    if (t == null) {
      log.warn("[{}] ignoring a response of unsubscribed type {}", node.getId(), type);
      return;
    }
    t.nonce = response.getNonce();
    String error = null;
    try {
      apply(type, response.getResourcesList());
    } catch (ResourceException e) {
      error = e.getMessage();
    } catch (RuntimeException e) {
      // A parsing bug must not leave the response unanswered: the server would send no more of this type.
      error = shortType(type) + " version " + response.getVersionInfo() + ": could not be applied (" + e + ")";
    }
    if (error == null) {
      t.ackedVersion = response.getVersionInfo();
      t.nackedVersion = null;
      s.send(request(type, t, null));
      log.debug("[{}] ACK {} version {}", node.getId(), shortType(type), response.getVersionInfo());
      if (demanded != null && type.equals(LDS)) {
        findAbsent(response.getVersionInfo());
      }
      updateSubscriptions(s);
      publishSoon();
    } else if (response.getVersionInfo().equals(t.nackedVersion) && error.equals(t.nackedMessage)) {
      // Some servers (java-control-plane's SimpleCache) answer a NACK, which names the last good
      // version, by sending the refused version again at once. Refuse it again after a growing
      // pause instead of looping at full speed, and report it only once.
      t.nackRepeats++;
      long delay = backoffMillis(t.nackRepeats);
      log.debug("[{}] {} version {} sent again; NACK in {} ms", node.getId(), shortType(type),
          response.getVersionInfo(), delay);
      String nonce = t.nonce;
      String message = error;
      schedule(() -> {
        if (s == stream && !closed && nonce.equals(t.nonce)) {
          s.send(request(type, t, message));
        }
      }, delay);
    } else {
      t.nackedVersion = response.getVersionInfo();
      t.nackedMessage = error;
      t.nackRepeats = 0;
      log.warn("[{}] NACK {} version {}: {}", node.getId(), shortType(type), response.getVersionInfo(), error);
      s.send(request(type, t, error));
      handler.onNack(type, response.getVersionInfo(), error);
    }
  }

  /** Parses a whole response; applies it only if every resource in it is acceptable. */
  private void apply(String type, List<Any> resources) throws ResourceException {
    List<String> errors = new ArrayList<>();
    Map<ByteString, Object> before = parsed.getOrDefault(type, Map.of());
    Map<ByteString, Object> now = new HashMap<>();
    List<ByteString> keys = new ArrayList<>(resources.size());
    for (Any any : resources) {
      keys.add(key(any));
    }
    if (type.equals(LDS)) {
      Map<String, ListenerResource> next = new TreeMap<>();
      for (int i = 0; i < resources.size(); i++) {
        Any any = resources.get(i);
        try {
          ListenerResource l = (ListenerResource) before.get(keys.get(i));
          if (l == null) {
            Listener listener = unpack(any, Listener.class);
            if (!listener.hasApiListener()) {
              // A server-side listener (gRPC's XdsServerBuilder asks for those); not for clients.
              continue;
            }
            l = ResourceParser.listener(listener);
          }
          now.put(keys.get(i), l);
          next.put(l.name(), l);
        } catch (ResourceException e) {
          errors.add(e.getMessage());
        }
      }
      throwIfAny(errors);
      listeners = next;
    } else if (type.equals(RDS)) {
      Map<String, RouteConfiguration> next = new LinkedHashMap<>();
      Map<String, Map<RouteReader, RouteTable>> tablesNext = new LinkedHashMap<>();
      for (int i = 0; i < resources.size(); i++) {
        Any any = resources.get(i);
        RouteConfiguration rc = (RouteConfiguration) before.get(keys.get(i));
        // Unchanged since the last response: its tables, parsed for the same readers, still hold.
        Map<RouteReader, RouteTable> unchanged = rc == null ? Map.of() : routeTables.getOrDefault(rc.getName(), Map.of());
        if (rc == null) {
          rc = unpack(any, RouteConfiguration.class);
        }
        Map<RouteReader, RouteTable> tables = new HashMap<>();
        for (ListenerResource l : listeners.values()) {
          if (!l.inbound() && l.routeConfigName().equals(rc.getName())) {
            RouteReader reader = new RouteReader(l.service(), l.filters());
            RouteTable table = unchanged.get(reader);
            try {
              tables.put(reader, table != null ? table : ResourceParser.routeConfiguration(l.service(), rc, l.filters()));
            } catch (ResourceException e) {
              errors.add(e.getMessage());
            }
          }
        }
        now.put(keys.get(i), rc);
        next.put(rc.getName(), rc);
        tablesNext.put(rc.getName(), tables);
      }
      throwIfAny(errors);
      routeConfigs.putAll(next);
      routeConfigs.keySet().retainAll(types.get(RDS).names);
      routeTables.putAll(tablesNext);
      routeTables.keySet().retainAll(routeConfigs.keySet());
    } else if (type.equals(CDS)) {
      Map<String, ClusterConfig> next = new TreeMap<>();
      for (int i = 0; i < resources.size(); i++) {
        Any any = resources.get(i);
        try {
          ClusterConfig c = (ClusterConfig) before.get(keys.get(i));
          if (c == null) {
            c = ResourceParser.cluster(unpack(any, Cluster.class));
          }
          now.put(keys.get(i), c);
          next.put(c.name(), c);
        } catch (ResourceException e) {
          errors.add(e.getMessage());
        }
      }
      throwIfAny(errors);
      clusters = next;
    } else {
      Map<String, List<EndpointConfig>> next = new LinkedHashMap<>();
      Map<String, Integer> nextFactors = new LinkedHashMap<>();
      for (int i = 0; i < resources.size(); i++) {
        Any any = resources.get(i);
        try {
          Assignment a = (Assignment) before.get(keys.get(i));
          if (a == null) {
            ClusterLoadAssignment cla = unpack(any, ClusterLoadAssignment.class);
            a = new Assignment(cla.getClusterName(), ResourceParser.endpoints(cla),
                ResourceParser.overprovisioningFactor(cla));
          }
          now.put(keys.get(i), a);
          next.put(a.cluster(), a.endpoints());
          nextFactors.put(a.cluster(), a.overprovisioningFactor());
        } catch (ResourceException e) {
          errors.add(e.getMessage());
        }
      }
      throwIfAny(errors);
      endpoints.putAll(next);
      endpoints.keySet().retainAll(types.get(EDS).names);
      overprovisioning.putAll(nextFactors);
      overprovisioning.keySet().retainAll(types.get(EDS).names);
    }
    parsed.put(type, now);
  }

  /** A cluster's endpoints as parsed from its {@code ClusterLoadAssignment}. */
  private record Assignment(String cluster, List<EndpointConfig> endpoints, int overprovisioningFactor) {}

  /**
   * What identifies {@code any} among the resources of the last accepted response of its type: a
   * digest of its type URL and bytes (equal exactly when both are, for any purpose here).
   */
  private ByteString key(Any any) {
    digest.reset();
    digest.update(any.getTypeUrl().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    digest.update((byte) 0);
    any.getValue().asReadOnlyByteBufferList().forEach(digest::update);
    return com.google.protobuf.UnsafeByteOperations.unsafeWrap(digest.digest());
  }



  /** The route table a listener reads from a route configuration: parsed when it arrived, or now. */
  private RouteTable routeTable(ListenerResource l, RouteConfiguration rc) throws ResourceException {
    Map<RouteReader, RouteTable> tables = routeTables.computeIfAbsent(rc.getName(), k -> new HashMap<>());
    RouteReader reader = new RouteReader(l.service(), l.filters());
    RouteTable table = tables.get(reader);
    if (table == null) {
      table = ResourceParser.routeConfiguration(l.service(), rc, l.filters());
      tables.put(reader, table);
    }
    return table;
  }

  private void updateSubscriptions(Stream s) {
    Set<String> rds = new TreeSet<>();
    listeners.values().stream().filter(l -> !l.inbound()).forEach(l -> rds.add(l.routeConfigName()));
    if (demanded == null) {
      resubscribe(s, RDS, rds);
      resubscribe(s, EDS, new TreeSet<>(clusters.keySet()));
      return;
    }
    // On demand, a new service's route configuration, cluster and endpoints are asked for with its
    // listener (the translator names them after the service), so that a service without subsets
    // arrives in one round trip; what its routes name besides follows in a second.
    if (resubscribe(s, LDS, ldsNames())) {
      ldsChangesUnanswered++;
    }
    for (String service : demanded) {
      if (!listeners.containsKey(service)) {
        rds.add(service);
      }
    }
    resubscribe(s, RDS, rds);
    Set<String> cds = cdsNames();
    resubscribe(s, CDS, cds);
    Set<String> eds = new TreeSet<>(cds);
    eds.addAll(clusters.keySet());
    resubscribe(s, EDS, eds);
  }

  /** Reports the services asked for that a listener response proves absent. */
  private void findAbsent(String version) {
    ldsChangesUnanswered = 0;
    for (java.util.Iterator<Map.Entry<String, Pending>> it = pending.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<String, Pending> e = it.next();
      Pending p = e.getValue();
      if (listeners.containsKey(e.getKey())) {
        it.remove();
      } else if (p.changesBefore == 0 && (p.askedAtVersion == null || p.askedAtVersion.equals(version))) {
        it.remove();
        log.info("[{}] the control server has no service '{}' (no listener of that name)", node.getId(), e.getKey());
        handler.onAbsent(e.getKey());
      } else {
        // This response may answer an earlier request; the ACK that follows carries the name.
        p.changesBefore = 0;
        p.askedAtVersion = version;
      }
    }
  }

  private boolean resubscribe(Stream s, String type, Set<String> names) {
    TypeState t = types.get(type);
    if (!t.names.equals(names)) {
      t.names = names;
      if (!(demanded != null && names.isEmpty() && (type.equals(LDS) || type.equals(CDS)))) {
        s.send(request(type, t, null));   // never an empty first list: that would be a wildcard
      }
      return true;
    }
    return false;
  }

  /**
   * Publishes after the responses already queued: responses that arrive together (the four types
   * of one change, a service asked for on demand) make one snapshot, not one each, since building
   * one costs as much as the client holds.
   */
  private void publishSoon() {
    if (!publishQueued) {
      publishQueued = true;
      post(() -> {
        publishQueued = false;
        if (!closed) {
          publishIfComplete();
        }
      });
    }
  }

  /** Builds and publishes a snapshot once every referenced resource has arrived. */
  private void publishIfComplete() {
    Map<String, RouteTable> tables = new TreeMap<>();
    Map<String, io.meshlet.config.InboundPolicy> inbound = new TreeMap<>();
    for (ListenerResource l : listeners.values()) {
      if (l.inbound()) {
        inbound.put(l.service(), l.inboundPolicy());
        continue;
      }
      RouteConfiguration rc = routeConfigs.get(l.routeConfigName());
      if (rc == null) {
        return;
      }
      try {
        tables.put(l.service(), routeTable(l, rc));
      } catch (ResourceException e) {
        log.warn("[{}] service '{}' left out of the snapshot: {}", node.getId(), l.service(), e.getMessage());
      }
    }
    Map<String, ClusterConfig> resolved = new TreeMap<>();
    for (ClusterConfig c : clusters.values()) {
      List<EndpointConfig> eps = endpoints.get(c.name());
      if (eps == null) {
        return;
      }
      resolved.put(c.name(), c.withEndpoints(eps,
          overprovisioning.getOrDefault(c.name(), ClusterConfig.DEFAULT_OVERPROVISIONING_FACTOR)));
    }
    String version = "L=" + types.get(LDS).ackedVersion + ",R=" + types.get(RDS).ackedVersion
        + ",C=" + types.get(CDS).ackedVersion + ",E=" + types.get(EDS).ackedVersion;
    MeshSnapshot snapshot = new MeshSnapshot(tables, resolved, inbound, version, clock.instant());
    List<String> dangling = snapshot.danglingReferences();
    if (!dangling.isEmpty()) {
      log.debug("[{}] waiting for resources: {}", node.getId(), dangling);
      return;
    }
    // On demand, a service added at unchanged versions makes a new snapshot too.
    String published = demanded == null ? version : version + " " + types.get(LDS).names + types.get(CDS).names;
    if (published.equals(lastPublished)) {
      return;
    }
    lastPublished = published;
    handler.onSnapshot(snapshot);
  }

  private void onStreamEnd(Stream s, Status status) {
    if (s != stream || closed) {
      return;
    }
    stream = null;
    failures++;
    Duration delay = Duration.ofMillis(backoffMillis(failures));
    log.warn("[{}] ADS stream to {} ended ({}); keeping the last good config, reconnecting to {} in {} ms",
        node.getId(), s.server, status.getCode() + (status.getDescription() == null ? "" : ": "
            + status.getDescription()), servers.get((serverIndex + 1) % servers.size()), delay.toMillis());
    handler.onDisconnected(s.server, status, delay);
    schedule(this::connect, delay.toMillis());
  }

  /** The n-th backoff (n >= 1): from the initial one doubling up to the max, jittered down by up to half. */
  private long backoffMillis(int n) {
    return Backoff.halfJitter(initialBackoff.toMillis(), maxBackoff.toMillis(), n);
  }

  /** Runs on the serialized executor; after close the executor is gone and events are dropped. */
  private void post(Runnable r) {
    try {
      executor.execute(r);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      log.debug("[{}] dropped an event after close", node.getId());
    }
  }

  private void schedule(Runnable r, long delayMillis) {
    try {
      executor.schedule(r, delayMillis, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      log.debug("[{}] dropped a timer after close", node.getId());
    }
  }

  private static <T extends com.google.protobuf.Message> T unpack(Any any, Class<T> type)
      throws ResourceException {
    try {
      return any.unpack(type);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new ResourceException("resource of type " + any.getTypeUrl() + ": unreadable ("
          + e.getMessage() + ") (expected: a valid " + type.getSimpleName() + ")");
    }
  }

  private static void throwIfAny(List<String> errors) throws ResourceException {
    if (!errors.isEmpty()) {
      throw new ResourceException(String.join("; ", errors));
    }
  }

  static String shortType(String typeUrl) {
    return typeUrl.substring(typeUrl.lastIndexOf('.') + 1);
  }

  /** One ADS stream to one server. */
  private final class Stream implements StreamObserver<DiscoveryResponse> {
    final String server;
    StreamObserver<DiscoveryRequest> requests;
    boolean answered;

    Stream(String server) {
      this.server = server;
    }

    void open() {
      ManagedChannel channel = channel(server);
      // The channel keeps its own connect backoff (1 s growing to 120 s) after failures; without
      // this reset a new stream fails fast for that long and the client's backoff means nothing.
      channel.resetConnectBackoff();
      requests = AggregatedDiscoveryServiceGrpc.newStub(channel).streamAggregatedResources(this);
    }

    void send(DiscoveryRequest r) {
      try {
        requests.onNext(r);
      } catch (RuntimeException e) {
        log.debug("[{}] could not send on the ADS stream: {}", node.getId(), e.toString());
      }
    }

    void cancel() {
      try {
        requests.onError(Status.CANCELLED.withDescription("client closed").asRuntimeException());
      } catch (RuntimeException e) {
        // already gone
      }
    }

    @Override
    public void onNext(DiscoveryResponse response) {
      post(() -> onResponse(this, response));
    }

    @Override
    public void onError(Throwable t) {
      post(() -> onStreamEnd(this, Status.fromThrowable(t)));
    }

    @Override
    public void onCompleted() {
      post(() -> onStreamEnd(this, Status.UNAVAILABLE.withDescription("server closed the stream")));
    }
  }
}
