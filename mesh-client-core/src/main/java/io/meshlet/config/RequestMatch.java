package io.meshlet.config;

import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import com.google.re2j.Pattern;

/**
 * Which requests a route takes: a path condition and header conditions that must all hold
 * (Envoy's {@code RouteMatch}). Regular expressions are RE2 (as in Envoy and grpc-java) and must
 * match the whole value, as Envoy's do.
 *
 * @param pathKind how the path is compared
 * @param path the prefix, exact path or regular expression
 * @param headers header conditions
 */
public record RequestMatch(PathKind pathKind, String path, List<HeaderCondition> headers) {

  /** How a path is compared. */
  public enum PathKind {
    PREFIX,
    EXACT,
    REGEX
  }

  private static final Pattern NEVER = Pattern.compile("[^\\x00-\\x{10FFFF}]");

  public RequestMatch {
    Objects.requireNonNull(pathKind, "pathKind");
    Objects.requireNonNull(path, "path");
    headers = List.copyOf(headers);
  }

  /** Matches everything. */
  public static RequestMatch any() {
    return new RequestMatch(PathKind.PREFIX, "/", List.of());
  }

  /**
   * Whether a request matches.
   *
   * @param requestPath the request path, without the query
   * @param header the value of a header by lower-case name, or null when absent
   */
  public boolean matches(String requestPath, Function<String, String> header) {
    boolean pathOk = switch (pathKind) {
      case PREFIX -> requestPath.startsWith(path);
      case EXACT -> requestPath.equals(path);
      case REGEX -> compiledPath().matcher(requestPath).matches();
    };
    if (!pathOk) {
      return false;
    }
    for (int i = 0; i < headers.size(); i++) {
      HeaderCondition h = headers.get(i);
      if (!h.matches(header.apply(h.name()))) {
        return false;
      }
    }
    return true;
  }

  private Pattern compiledPath() {
    return PatternCache.get(path);
  }

  /**
   * A condition on one header.
   *
   * @param name lower-case header name
   * @param kind how the value is compared
   * @param value the exact value or regular expression; empty for {@link Kind#PRESENT}
   * @param invert whether the condition is negated (Envoy's {@code invert_match})
   */
  public record HeaderCondition(String name, Kind kind, String value, boolean invert) {
    /** How a header is compared. */
    public enum Kind {
      EXACT,
      REGEX,
      PRESENT
    }

    public HeaderCondition {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(value, "value");
    }

    /** Whether a header value (null when absent) satisfies this condition. */
    public boolean matches(String actual) {
      boolean result = switch (kind) {
        case PRESENT -> actual != null;
        case EXACT -> value.equals(actual);
        case REGEX -> actual != null && PatternCache.get(value).matcher(actual).matches();
      };
      return result != invert;
    }
  }

  /** Compiled patterns, shared; a bounded cache so hostile configs cannot grow it forever. */
  static final class PatternCache {
    private static final com.github.benmanes.caffeine.cache.LoadingCache<String, Pattern> CACHE =
        com.github.benmanes.caffeine.cache.Caffeine.newBuilder()
            .maximumSize(10_000)
            .build(PatternCache::compile);

    private PatternCache() {}

    static Pattern get(String regex) {
      return CACHE.get(regex);
    }

    private static Pattern compile(String regex) {
      try {
        return Pattern.compile(regex);
      } catch (RuntimeException e) {
        return NEVER;
      }
    }
  }
}
