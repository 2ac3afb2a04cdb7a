package io.meshlet.controlplane.internal.serving;

import com.google.protobuf.Any;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
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

  /** The resources of one type. */
  public record TypeResources(String typeUrl, String version, Map<String, Entry> byName) {
    public TypeResources {
      byName = Collections.unmodifiableMap(new TreeMap<>(byName));
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
