package io.meshlet.controlplane.internal.serving;

import com.google.protobuf.Any;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Everything the control server serves at one moment: per xDS type, the resources by name, each
 * with its own version, and a version for the type as a whole. Immutable; built once per edit and
 * shared by every stream, so each resource is packed (serialized) once, not once per client.
 *
 * <p>A type may have zone views: for clients whose node names a zone ({@code node.locality.zone}),
 * some resources of that type replaced by the zone's own (zone-aware routing's endpoint
 * assignments). Each view is a whole {@link TypeResources}, built once here and shared by every
 * client of that zone, with its own version, so streams stay as they are: a client is served the
 * view of its zone.
 *
 * <p>A resource's version is a hash of its deterministic serialization, and a type's version is
 * the caller's (a content hash too): two replicas, or one server before and after a restart, given
 * the same intent report the same versions.
 */
public final class ResourceSnapshot {

  /** One resource as it goes on the wire: packed once, for state-of-the-world and delta alike. */
  public record Entry(String name, String version, Any any, Resource delta) {}

  /**
   * The resources of one type, and what each subscription selects of them: a {@link Selection}
   * is computed once per distinct subscription (almost every client of a mesh subscribes to the
   * same names) and shared by every stream that has it, with its state-of-the-world response
   * serialized once.
   */
  public static final class TypeResources {
    /** Distinct subscriptions whose selection is kept per type and snapshot; beyond it, computed per call. */
    static final int MAX_CACHED_SELECTIONS = 1024;
    private static final AtomicLong SERIALS = new AtomicLong();

    private final long serial = SERIALS.incrementAndGet();
    private final String typeUrl;
    private final String version;
    private final Map<String, Entry> byName;
    private final Map<Set<String>, Selection> selections = new ConcurrentHashMap<>();
    /** Distinct delta response contents whose bytes are kept per type and snapshot. */
    static final int MAX_CACHED_DELTA_BODIES = 256;
    /** What a delta response carries: the names of its resources (this set's, so a name is one resource) and the removed names. */
    private record DeltaContent(List<String> sent, List<String> removed) {}
    private final Map<DeltaContent, byte[]> deltaBodies = new ConcurrentHashMap<>();
    private volatile Selection all;
    /** Set by {@link #diffAgainst} before the snapshot is published: what changed since the one served before. */
    private long previousSerial = -1;
    private Set<String> changed = Set.of();
    private Set<String> removed = Set.of();

    public TypeResources(String typeUrl, String version, Map<String, Entry> byName) {
      this.typeUrl = typeUrl;
      this.version = version;
      this.byName = Collections.unmodifiableMap(new TreeMap<>(byName));
    }

    public String typeUrl() {
      return typeUrl;
    }

    public String version() {
      return version;
    }

    /** Every resource of the type, by name, in name order. */
    public Map<String, Entry> byName() {
      return byName;
    }

    /** Tells this set from every other one built in this JVM, without holding on to it. */
    long serial() {
      return serial;
    }

    /** The serial of the set {@link #changed()} and {@link #removed()} are relative to; -1 if none. */
    long previousSerial() {
      return previousSerial;
    }

    /** Names that are new or have a new version since the previous set. */
    Set<String> changed() {
      return changed;
    }

    /** Names of the previous set that are gone. */
    Set<String> removed() {
      return removed;
    }

    /**
     * Records what changed since {@code previous}, once per publish, so that a stream that had
     * all of {@code previous} looks at those names only instead of at every resource. Called
     * before the snapshot is published (the volatile write that publishes it makes this visible).
     */
    void diffAgainst(TypeResources previous) {
      Set<String> c = new TreeSet<>();
      byName.forEach((name, e) -> {
        Entry old = previous.byName.get(name);
        if (old == null || !old.version().equals(e.version())) {
          c.add(name);
        }
      });
      Set<String> r = new TreeSet<>(previous.byName.keySet());
      r.removeAll(byName.keySet());
      changed = Collections.unmodifiableSet(c);
      removed = Collections.unmodifiableSet(r);
      previousSerial = previous.serial;
    }

    /**
     * A {@code DeltaDiscoveryResponse} of this type and version carrying {@code sent} (in that
     * order) and naming {@code removed}, without a nonce, serialized: once per distinct content
     * and set, as every stream in step with the set before is sent the same (a stream appends its
     * nonce, field 5, as for {@link Selection#sotwBody()}). Beyond {@value #MAX_CACHED_DELTA_BODIES}
     * distinct contents, serialized per call.
     */
    byte[] deltaBody(List<Entry> sent, List<String> removed) {
      List<String> sentNames = new ArrayList<>(sent.size());
      for (Entry e : sent) {
        sentNames.add(e.name());
      }
      DeltaContent key = new DeltaContent(sentNames, removed);
      byte[] b = deltaBodies.get(key);
      if (b != null) {
        return b;
      }
      DeltaDiscoveryResponse.Builder r = DeltaDiscoveryResponse.newBuilder().setTypeUrl(typeUrl)
          .setSystemVersionInfo(version).addAllRemovedResources(removed);
      for (Entry e : sent) {
        r.addResources(e.delta());
      }
      b = r.build().toByteArray();
      if (deltaBodies.size() < MAX_CACHED_DELTA_BODIES) {
        byte[] raced = deltaBodies.putIfAbsent(key, b);
        return raced != null ? raced : b;
      }
      return b;
    }

    /** Every resource: what a wildcard subscription selects. */
    public Selection all() {
      Selection s = all;
      if (s == null) {
        s = new Selection(this, Set.of(), List.copyOf(byName.values()), "*@" + version);
        all = s;
      }
      return s;
    }

    /** The resources among {@code names} (a sorted set) that exist. */
    public Selection select(Set<String> names) {
      Selection s = selections.get(names);
      if (s != null) {
        return s;
      }
      List<Entry> selected = new ArrayList<>();
      StringBuilder key = new StringBuilder();
      if (AdsService.FULL_STATE_TYPES.contains(typeUrl)) {
        // A listener or cluster missing from a response does not exist (xDS protocol, "Knowing When
        // a Requested Resource Does Not Exist"), so a changed subscription is answered even when it
        // selects the same resources: a client asking for one that does not exist learns so in one
        // round trip instead of waiting out its does-not-exist timer.
        key.append(names).append('\n');
      }
      for (String name : names) {
        Entry e = byName.get(name);
        if (e != null) {
          selected.add(e);
          key.append(name).append('@').append(e.version()).append('\n');
        }
      }
      s = new Selection(this, names, List.copyOf(selected), key.toString());
      if (selections.size() < MAX_CACHED_SELECTIONS) {
        Selection raced = selections.putIfAbsent(names, s);
        return raced != null ? raced : s;
      }
      return s;
    }
  }

  /**
   * What one subscription selects of one type in one snapshot: the resources, a key that is equal
   * exactly when the names and versions are (how a stream knows it has sent this already), and
   * the state-of-the-world response without its nonce, serialized once on first use.
   */
  public static final class Selection {
    private final TypeResources type;
    private final Set<String> names;
    private final List<Entry> entries;
    private final String key;
    private volatile byte[] sotwBody;

    Selection(TypeResources type, Set<String> names, List<Entry> entries, String key) {
      this.type = type;
      this.names = names;
      this.entries = entries;
      this.key = key;
    }

    /** The subscribed names this selection was made for (empty for a wildcard). */
    public Set<String> names() {
      return names;
    }

    public List<Entry> entries() {
      return entries;
    }

    public String key() {
      return key;
    }

    /**
     * A {@code DiscoveryResponse} with this selection's type, version and resources and no nonce,
     * serialized: a stream appends its nonce (field 5) to these bytes, which protobuf reads as one
     * message, instead of serializing every resource again per stream.
     */
    public byte[] sotwBody() {
      byte[] b = sotwBody;
      if (b == null) {
        DiscoveryResponse.Builder r = DiscoveryResponse.newBuilder().setTypeUrl(type.typeUrl()).setVersionInfo(type.version());
        for (Entry e : entries) {
          r.addResources(e.any());
        }
        b = r.build().toByteArray();
        sotwBody = b;
      }
      return b;
    }
  }

  private static final ResourceSnapshot EMPTY = new ResourceSnapshot(Map.of(), Map.of());

  private final Map<String, TypeResources> types;
  /** Per type URL, per zone: the type as clients of that zone see it. */
  private final Map<String, Map<String, TypeResources>> zoneViews;

  private ResourceSnapshot(Map<String, TypeResources> types, Map<String, Map<String, TypeResources>> zoneViews) {
    this.types = Map.copyOf(types);
    this.zoneViews = Map.copyOf(zoneViews);
  }

  /** A snapshot with no resources of any type: what a server serves before its first config. */
  public static ResourceSnapshot empty() {
    return EMPTY;
  }

  /** Starts a snapshot. */
  public static Builder builder() {
    return new Builder();
  }

  /** The resources of a type; an empty set of version {@code ""} for a type never added. */
  public TypeResources type(String typeUrl) {
    TypeResources t = types.get(typeUrl);
    return t != null ? t : new TypeResources(typeUrl, "", Map.of());
  }

  /** Notes in each type what changed since {@code previous}, the snapshot served before this one. */
  void diffAgainst(ResourceSnapshot previous) {
    types.forEach((url, t) -> {
      TypeResources old = previous.types.get(url);
      if (old != null && old != t && t.previousSerial() == -1) {
        t.diffAgainst(old);
      }
    });
    // A zone's view against the same zone's view before (a stream keeps the zone it named first).
    zoneViews.forEach((url, views) -> views.forEach((zone, t) -> {
      TypeResources old = previous.zoneViews.getOrDefault(url, Map.of()).get(zone);
      if (old != null && old != t && t.previousSerial() == -1) {
        t.diffAgainst(old);
      }
    }));
  }

  /**
   * The resources of a type as a client in {@code zone} sees them: the zone's view when it has
   * one, else {@link #type(String)}.
   *
   * @param zone the client's zone; empty or null for a client that names none
   */
  public TypeResources type(String typeUrl, String zone) {
    if (zone != null && !zone.isEmpty()) {
      TypeResources view = zoneViews.getOrDefault(typeUrl, Map.of()).get(zone);
      if (view != null) {
        return view;
      }
    }
    return type(typeUrl);
  }

  /** The type URLs this snapshot holds resources (or an empty set) of. */
  public Set<String> typeUrls() {
    return types.keySet();
  }

  /** Collects the resources of each type. */
  public static final class Builder {
    private final Map<String, TypeResources> types = new LinkedHashMap<>();
    private final Map<String, Map<String, TypeResources>> zoneViews = new LinkedHashMap<>();

    private Builder() {}

    /**
     * Adds zone views of a type already added: per zone, the resources that replace (by name)
     * those of the type for clients of that zone. A view's version hashes the type's version and
     * the replacing resources' versions.
     */
    public <T extends Message> Builder zoneViews(String typeUrl, Map<String, List<T>> byZone, Function<T, String> name) {
      TypeResources base = types.get(typeUrl);
      if (base == null) {
        throw new IllegalStateException(typeUrl + ": zone views of a type not added");
      }
      Map<String, TypeResources> views = new TreeMap<>();
      byZone.forEach((zone, resources) -> {
        Map<String, Entry> byName = new TreeMap<>(base.byName());
        StringBuilder version = new StringBuilder(base.version());
        for (T r : resources) {
          Entry e = entry(name.apply(r), r);
          byName.put(e.name(), e);
          version.append('\n').append(e.name()).append('@').append(e.version());
        }
        views.put(zone, new TypeResources(typeUrl,
            sha256(version.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)), byName));
      });
      if (!views.isEmpty()) {
        zoneViews.put(typeUrl, views);
      }
      return this;
    }

    private static Entry entry(String n, Message r) {
      String version = hash(r);
      Any any = Any.pack(r);
      return new Entry(n, version, any, Resource.newBuilder().setName(n).setVersion(version).setResource(any).build());
    }

    /**
     * Adds every resource of one type, named by {@code name}, under the type version given.
     *
     * @throws IllegalArgumentException when two resources share a name
     */
    public <T extends Message> Builder add(String typeUrl, String typeVersion, List<T> resources,
        Function<T, String> name) {
      Map<String, Entry> byName = new TreeMap<>();
      for (T r : resources) {
        String n = name.apply(r);
        Entry e = entry(n, r);
        if (byName.put(n, e) != null) {
          throw new IllegalArgumentException(typeUrl + ": two resources named '" + n + "'");
        }
      }
      types.put(typeUrl, new TypeResources(typeUrl, typeVersion, byName));
      return this;
    }

    public ResourceSnapshot build() {
      return new ResourceSnapshot(types, zoneViews);
    }
  }

  /** A short hash of a resource's deterministic serialization. */
  static String hash(Message m) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try {
      CodedOutputStream out = CodedOutputStream.newInstance(bytes);
      out.useDeterministicSerialization();
      m.writeTo(out);
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return sha256(bytes.toByteArray());
  }

  /** The first 8 bytes of SHA-256, in hex: the content hashes versions are made of. */
  public static String sha256(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data), 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
