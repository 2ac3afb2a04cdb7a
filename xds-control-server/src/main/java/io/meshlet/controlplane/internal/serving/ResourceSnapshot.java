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

  private static final ResourceSnapshot EMPTY = new ResourceSnapshot(Map.of());

  private final Map<String, TypeResources> types;

  private ResourceSnapshot(Map<String, TypeResources> types) {
    this.types = Map.copyOf(types);
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

  /** The type URLs this snapshot holds resources (or an empty set) of. */
  public Set<String> typeUrls() {
    return types.keySet();
  }

  /** Collects the resources of each type. */
  public static final class Builder {
    private final Map<String, TypeResources> types = new LinkedHashMap<>();

    private Builder() {}

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
        String version = hash(r);
        Any any = Any.pack(r);
        Entry e = new Entry(n, version, any, Resource.newBuilder().setName(n).setVersion(version).setResource(any).build());
        if (byName.put(n, e) != null) {
          throw new IllegalArgumentException(typeUrl + ": two resources named '" + n + "'");
        }
      }
      types.put(typeUrl, new TypeResources(typeUrl, typeVersion, byName));
      return this;
    }

    public ResourceSnapshot build() {
      return new ResourceSnapshot(types);
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
