package io.meshlet.controlplane.intent;

import java.util.List;
import java.util.Objects;

/**
 * Which requests a route takes: a path condition and header conditions, all of which must hold.
 *
 * @param path the path condition
 * @param headers header conditions
 */
public record MatchSpec(PathMatch path, List<HeaderMatch> headers) {

  public MatchSpec {
    Objects.requireNonNull(path, "path");
    headers = List.copyOf(headers);
  }

  /** Matches every request. */
  public static MatchSpec any() {
    return new MatchSpec(new PathMatch(PathMatch.Kind.PREFIX, "/"), List.of());
  }

  /**
   * A condition on the request path (for gRPC, {@code /package.Service/Method}).
   *
   * @param kind how {@code value} is compared
   * @param value the prefix, exact path or regular expression (RE2 syntax)
   */
  public record PathMatch(Kind kind, String value) {
    /** How a path is compared. */
    public enum Kind {
      PREFIX,
      EXACT,
      REGEX
    }

    public PathMatch {
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(value, "value");
    }
  }

  /**
   * A condition on one request header.
   *
   * @param name the header name, lower case
   * @param kind how the header is compared
   * @param value the exact value or regular expression; empty for {@link Kind#PRESENT}
   */
  public record HeaderMatch(String name, Kind kind, String value) {
    /** How a header is compared. */
    public enum Kind {
      EXACT,
      REGEX,
      PRESENT
    }

    public HeaderMatch {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(value, "value");
    }
  }
}
