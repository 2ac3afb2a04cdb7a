package io.meshlet.controlplane.internal.source;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The last versions of the intent the server accepted, with when and from where (a file, the
 * admin API, etcd), and the last edits it refused with their errors; and the difference between
 * two versions' intents, field by field, for the console.
 *
 * <p>Bounded ({@link #KEPT} of each) and in memory: a restarted server starts a new history.
 * Thread-safe.
 */
public final class ConfigHistory {

  /** How many accepted versions and refused edits are kept, each. */
  public static final int KEPT = 20;
  private static final Pattern ETCD_REVISION = Pattern.compile("^etcd .*@(\\d+)$");

  /** A version served, the intent as {@code IntentTree} writes it. */
  public record Version(String version, Instant at, String source, String origin, Map<String, Object> intent) {}

  /** An edit refused, with every error. */
  public record Refusal(Instant at, String source, String origin, List<String> errors) {
    public Refusal {
      errors = List.copyOf(errors);
    }
  }

  /** One field that differs: its path in the intent ({@code services.catalog.routes[0].to[1].weight}). */
  public record Change(String path, Object before, Object after) {}

  private final ArrayDeque<Version> versions = new ArrayDeque<>();
  private final ArrayDeque<Refusal> refusals = new ArrayDeque<>();
  /** etcd revisions the admin API wrote, and who sent them. */
  private final Map<Long, String> adminWrites = new LinkedHashMap<>();

  /** Where a source string comes from: {@code file}, {@code admin API} or {@code etcd}. */
  synchronized String origin(String source) {
    Matcher m = ETCD_REVISION.matcher(source);
    if (m.matches()) {
      String by = adminWrites.get(Long.parseLong(m.group(1)));
      return by != null ? "admin API (" + by + "), through etcd" : "etcd";
    }
    if (source.startsWith("registered instances")) {
      return "registered instances";
    }
    if (source.startsWith("PUT /config")) {
      return "admin API";
    }
    return "file";
  }

  /** A new version is served. */
  public synchronized void accepted(String version, String source, Map<String, Object> intent, Instant at) {
    versions.addFirst(new Version(version, at, source, origin(source), intent));
    while (versions.size() > KEPT) {
      versions.removeLast();
    }
  }

  /** An edit was refused. */
  public synchronized void refused(String source, List<String> errors, Instant at) {
    refusals.addFirst(new Refusal(at, source, origin(source), errors));
    while (refusals.size() > KEPT) {
      refusals.removeLast();
    }
  }

  /** {@code PUT /config} wrote this etcd revision: the version it becomes is the admin API's. */
  public synchronized void writtenByAdmin(long revision, String by) {
    adminWrites.put(revision, by);
    while (adminWrites.size() > KEPT) {
      adminWrites.remove(adminWrites.keySet().iterator().next());
    }
  }

  /** The versions kept, newest first. */
  public synchronized List<Version> versions() {
    return List.copyOf(versions);
  }

  /** The refusals kept, newest first. */
  public synchronized List<Refusal> refusals() {
    return List.copyOf(refusals);
  }

  /** A version kept, by its version string. */
  public synchronized Optional<Version> version(String version) {
    return versions.stream().filter(v -> v.version().equals(version)).findFirst();
  }

  /** What changed from one intent to another, field by field, in the intent's order. */
  public static List<Change> diff(Map<String, Object> before, Map<String, Object> after) {
    Map<String, Object> a = new LinkedHashMap<>();
    Map<String, Object> b = new LinkedHashMap<>();
    flatten("", before, a);
    flatten("", after, b);
    Set<String> paths = new LinkedHashSet<>(a.keySet());
    paths.addAll(b.keySet());
    List<Change> changes = new ArrayList<>();
    for (String p : paths) {
      Object x = a.get(p);
      Object y = b.get(p);
      if (!Objects.equals(x, y)) {
        changes.add(new Change(p, x, y));
      }
    }
    return changes;
  }

  private static void flatten(String path, Object value, Map<String, Object> out) {
    if (value instanceof Map<?, ?> m) {
      if (m.isEmpty()) {
        out.put(path, "{}");
      }
      m.forEach((k, v) -> flatten(path.isEmpty() ? String.valueOf(k) : path + "." + k, v, out));
    } else if (value instanceof List<?> l) {
      if (l.isEmpty()) {
        out.put(path, "[]");
      }
      for (int i = 0; i < l.size(); i++) {
        flatten(path + "[" + i + "]", l.get(i), out);
      }
    } else if (value instanceof Optional<?> o) {
      flatten(path, o.orElse(null), out);
    } else {
      out.put(path, value);
    }
  }
}
