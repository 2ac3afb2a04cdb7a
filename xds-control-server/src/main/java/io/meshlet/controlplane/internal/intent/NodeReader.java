package io.meshlet.controlplane.internal.intent;

import io.meshlet.controlplane.intent.MtlsSpec;
import io.meshlet.controlplane.intent.Violation;
import io.meshlet.internal.wire.Durations;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * The generic half of reading mesh.yaml: typed values out of YAML nodes (mappings with known keys,
 * lists, strings matching a pattern, integers, percentages, durations, enums, {@code mode: off}
 * read as YAML 1.1's {@code false}), each reporting what it cannot read as a {@link Violation}
 * with file, line, field, value and what was expected, and returning a fallback so that reading
 * goes on and every violation of a file is found in one pass.
 *
 * <p>Not thread-safe: one per file read.
 */
final class NodeReader {

  /** A header name as HTTP/2 writes it: lower case. */
  static final Pattern HEADER_NAME = Pattern.compile("[a-z0-9!#$%&'*+.^_`|~-]+");

  private final String source;
  final List<Violation> violations = new ArrayList<>();

  NodeReader(String source) {
    this.source = source;
  }


  /** Where a field sits: the subject it belongs to and its path within that subject. */
  record Ctx(String subject, String path) {
    Ctx field(String name) {
      return new Ctx(subject, path.isEmpty() ? name : path + "." + name);
    }

    Ctx index(int i) {
      return new Ctx(subject, path + "[" + i + "]");
    }
  }

  void fail(Node node, Ctx ctx, String value, String expected) {
    int line = node == null ? 0 : node.getStartMark().getLine() + 1;
    violations.add(new Violation(source, line, ctx.subject(), ctx.path(), value, expected));
  }

  MtlsSpec.Mode mtlsMode(Node node, Ctx ctx) {
    String raw = scalar(node, ctx);
    if (raw == null) {
      return MtlsSpec.Mode.OFF;
    }
    // YAML 1.1 reads an unquoted 'off' as false; both spellings mean the same here.
    String v = raw.toLowerCase(Locale.ROOT);
    if (v.equals("off") || v.equals("false")) {
      return MtlsSpec.Mode.OFF;
    } else if (v.equals("permissive")) {
      return MtlsSpec.Mode.PERMISSIVE;
    } else if (v.equals("strict")) {
      return MtlsSpec.Mode.STRICT;
    }
    fail(node, ctx, raw, "one of off, permissive, strict");
    return MtlsSpec.Mode.OFF;
  }

  /** Checks a regular expression in RE2 syntax, the one Envoy and grpc-java use. */
  boolean regex(String value, Node node, Ctx ctx) {
    try {
      com.google.re2j.Pattern.compile(value);
      return true;
    } catch (com.google.re2j.PatternSyntaxException e) {
      fail(node, ctx, "'" + value + "'", "a valid RE2 regular expression (" + e.getDescription() + ")");
      return false;
    }
  }

  /** A node as written, in YAML flow style: {@code 500ms}, {@code { requestsPerSecond: 5 }}. */
  static String flow(Node node) {
    if (node instanceof ScalarNode s) {
      return s.getValue().isEmpty() ? "''" : s.getValue();
    } else if (node instanceof SequenceNode s) {
      return "[ " + String.join(", ", s.getValue().stream().map(NodeReader::flow).toList()) + " ]";
    } else if (node instanceof MappingNode m) {
      if (m.getValue().isEmpty()) {
        return "{}";
      }
      return "{ " + String.join(", ", m.getValue().stream()
          .map(t -> flow(t.getKeyNode()) + ": " + flow(t.getValueNode())).toList()) + " }";
    }
    return "nothing";
  }

  /** The entries of a mapping by key, refusing keys its schema section does not define. */
  Map<String, Node> mapping(Node node, Ctx ctx, MeshSchema.Section section) {
    return entries(node, ctx, section.names());
  }

  /** The entries of a mapping whose keys are names (services, labels, headers): any key. */
  Map<String, Node> mapping(Node node, Ctx ctx) {
    return entries(node, ctx);
  }

  /** The entries of a mapping by key, refusing keys outside {@code allowed} (none: any key). */
  private Map<String, Node> entries(Node node, Ctx ctx, String... allowed) {
    if (!(node instanceof MappingNode m)) {
      fail(node, ctx, describe(node),
          allowed.length == 0 ? "a mapping" : "a mapping with " + String.join(", ", allowed));
      return null;
    }
    Map<String, Node> out = new LinkedHashMap<>();
    Map<String, Node> keys = new HashMap<>();
    for (NodeTuple t : m.getValue()) {
      if (!(t.getKeyNode() instanceof ScalarNode k)) {
        fail(t.getKeyNode(), ctx, describe(t.getKeyNode()), "a plain key");
        continue;
      }
      String key = k.getValue();
      if (allowed.length > 0 && !List.of(allowed).contains(key)) {
        fail(k, ctx.field(key), "unknown field", "one of " + String.join(", ", allowed));
      } else if (keys.containsKey(key)) {
        fail(k, ctx.field(key), "duplicate key, also on line " + (keys.get(key).getStartMark().getLine() + 1),
            "each key once");
      } else {
        keys.put(key, k);
        out.put(key, t.getValueNode());
      }
    }
    return out;
  }

  Map<String, Node> keyNodes(Node node) {
    Map<String, Node> out = new LinkedHashMap<>();
    if (node instanceof MappingNode m) {
      for (NodeTuple t : m.getValue()) {
        if (t.getKeyNode() instanceof ScalarNode k) {
          out.putIfAbsent(k.getValue(), k);
        }
      }
    }
    return out;
  }

  List<Node> sequence(Node node, Ctx ctx) {
    if (node instanceof SequenceNode s) {
      return s.getValue();
    }
    fail(node, ctx, describe(node), "a list");
    return List.of();
  }

  String scalar(Node node, Ctx ctx) {
    if (node instanceof ScalarNode s) {
      return s.getValue();
    }
    fail(node, ctx, describe(node), "a single value");
    return null;
  }

  String string(Node node, Ctx ctx, Pattern pattern, String expected, String fallback) {
    String s = scalar(node, ctx);
    if (s == null) {
      return fallback;
    }
    if (!pattern.matcher(s).matches()) {
      fail(node, ctx, s.isEmpty() ? "''" : s, expected);
      return fallback;
    }
    return s;
  }

  /** {@code true} or {@code false}; else a violation and the fallback. */
  boolean bool(Node node, Ctx ctx, boolean fallback) {
    String s = scalar(node, ctx);
    if (s == null) {
      return fallback;
    }
    return switch (s.strip()) {
      case "true" -> true;
      case "false" -> false;
      default -> {
        fail(node, ctx, s.isEmpty() ? "''" : s, "true or false");
        yield fallback;
      }
    };
  }

  int intField(Map<String, Node> f, String name, Ctx ctx, int min, int max, int fallback) {
    Node node = f.get(name);
    if (node == null) {
      return fallback;
    }
    String s = scalar(node, ctx.field(name));
    if (s == null) {
      return fallback;
    }
    String expected = max == Integer.MAX_VALUE ? "an integer >= " + min : min + ".." + max;
    try {
      long v = Long.parseLong(s.strip());
      if (v < min || v > max) {
        fail(node, ctx.field(name), s, expected);
        return fallback;
      }
      return (int) v;
    } catch (NumberFormatException e) {
      fail(node, ctx.field(name), s.isEmpty() ? "''" : s, "an integer in " + expected);
      return fallback;
    }
  }

  double percentField(Map<String, Node> f, String name, Node parent, Ctx ctx) {
    Node node = f.get(name);
    if (node == null) {
      fail(parent, ctx.field(name), "missing", "a percentage in 0..100");
      return 0;
    }
    String s = scalar(node, ctx.field(name));
    if (s == null) {
      return 0;
    }
    try {
      double v = Double.parseDouble(s.strip().replace("%", ""));
      if (!(v >= 0 && v <= 100)) {
        fail(node, ctx.field(name), s, "0..100");
        return 0;
      }
      return v;
    } catch (NumberFormatException e) {
      fail(node, ctx.field(name), s, "a percentage in 0..100");
      return 0;
    }
  }

  Duration durationField(Map<String, Node> f, String name, Ctx ctx, Duration min, Duration max,
      Duration fallback) {
    Node node = f.get(name);
    return node == null ? fallback : duration(node, ctx.field(name), min, max, fallback);
  }

  Duration duration(Node node, Ctx ctx, Duration min, Duration max, Duration fallback) {
    String s = scalar(node, ctx);
    if (s == null) {
      return fallback;
    }
    Optional<Duration> d = Durations.parse(s);
    if (d.isEmpty()) {
      fail(node, ctx, s.isEmpty() ? "''" : s, Durations.EXPECTED);
      return fallback;
    }
    if (d.get().compareTo(min) < 0 || d.get().compareTo(max) > 0) {
      fail(node, ctx, s, Durations.format(min) + ".." + Durations.format(max));
      return fallback;
    }
    return d.get();
  }

  <E extends Enum<E>> E enumValue(Node node, Ctx ctx, Class<E> type, E fallback) {
    String s = scalar(node, ctx);
    if (s == null) {
      return fallback;
    }
    for (E e : type.getEnumConstants()) {
      if (e.name().equalsIgnoreCase(s.strip())) {
        return e;
      }
    }
    Function<E, String> spell = e -> e.name().toLowerCase(Locale.ROOT);
    fail(node, ctx, s.isEmpty() ? "''" : s, "one of "
        + String.join(", ", java.util.Arrays.stream(type.getEnumConstants()).map(spell).toList()));
    return fallback;
  }

  private static String describe(Node node) {
    if (node == null) {
      return "nothing";
    } else if (node instanceof MappingNode) {
      return "a mapping";
    } else if (node instanceof SequenceNode) {
      return "a list";
    }
    String v = ((ScalarNode) node).getValue();
    return v.isEmpty() ? "an empty value" : v;
  }
}
