package io.meshlet.inbound.internal;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * A request's path normalized as Envoy's HTTP connection manager does with {@code normalize_path},
 * {@code merge_slashes} and {@code path_with_escaped_slashes_action: REJECT_REQUEST}, before any
 * authorization rule sees it.
 *
 * <ol>
 *   <li>Only the characters RFC 3986 allows in a path are taken ({@code pchar} and {@code /});
 *       anything else, such as a backslash, a space, a control character, {@code "<>^`{|}} or a
 *       character beyond ASCII, is refused. So is {@code ;}: Envoy takes it as an ordinary
 *       character, servlet containers cut the path parameters it starts (and Tomcat then resolves
 *       {@code /..;/}), so no one reading is right for every application behind the adapter.
 *   <li>Percent-encodings must be {@code %} and two hex digits. Those of unreserved characters
 *       ({@code A-Z a-z 0-9 - . _ ~}) are decoded, as RFC 3986 section 6.2.2.2 says; the rest stay
 *       encoded, in upper case. An encoded slash or backslash ({@code %2F}, {@code %5C}) is refused:
 *       servers disagree on whether it separates segments, and unescaping it would make a path the
 *       client did not send. An encoded control character ({@code %00}-{@code %1F}, {@code %7F}) is
 *       refused too.
 *   <li>Runs of slashes are merged ({@code //admin} is {@code /admin}).
 *   <li>{@code .} and {@code ..} segments are resolved (RFC 3986 section 5.2.4), after the decoding
 *       above, so {@code %2e%2e} is {@code ..}. A {@code ..} above the root is refused.
 * </ol>
 *
 * <p>{@link #raw()} is the normalized path still percent-encoded: what the application is handed,
 * so that it sees the path the rules saw, as Envoy forwards the normalized path upstream.
 * {@link #decoded()} is the same path with every percent-encoding decoded (UTF-8): what the rules
 * match, as applications match routes on decoded paths. Matching stays case-sensitive, as Envoy's
 * path matchers are by default: {@code /ADMIN} is another path than {@code /admin}.
 *
 * @param raw the normalized path, percent-encoded
 * @param decoded the normalized path, decoded
 */
public record RequestPath(String raw, String decoded) {

  /** A path refused because it cannot be normalized safely; the message says why. */
  public static final class InvalidPathException extends Exception {
    InvalidPathException(String message) {
      super(message, null, false, false);
    }
  }

  private static final String HEX = "0123456789ABCDEF";

  /**
   * Normalizes {@code rawPath}, the path as the request sent it (percent-encoded, without query or
   * fragment); null or empty is {@code /}.
   *
   * @throws InvalidPathException when it cannot be normalized safely
   */
  public static RequestPath normalize(String rawPath) throws InvalidPathException {
    if (rawPath == null || rawPath.isEmpty()) {
      return new RequestPath("/", "/");
    }
    if (rawPath.charAt(0) != '/') {
      throw new InvalidPathException("does not start with / (expected: an absolute path)");
    }
    // 1, 2: check every character, decode the unreserved ones.
    StringBuilder unescaped = new StringBuilder(rawPath.length());
    for (int i = 0; i < rawPath.length(); i++) {
      char c = rawPath.charAt(i);
      if (c == '%') {
        if (i + 2 >= rawPath.length() || HEX.indexOf(Character.toUpperCase(rawPath.charAt(i + 1))) < 0
            || HEX.indexOf(Character.toUpperCase(rawPath.charAt(i + 2))) < 0) {
          throw new InvalidPathException("'%' at character " + (i + 1) + " does not start a percent-encoding "
              + "(expected: % and two hex digits)");
        }
        int b = HEX.indexOf(Character.toUpperCase(rawPath.charAt(i + 1))) * 16
            + HEX.indexOf(Character.toUpperCase(rawPath.charAt(i + 2)));
        if (b == '/' || b == '\\') {
          throw new InvalidPathException("an encoded " + (b == '/' ? "slash" : "backslash") + " ("
              + rawPath.substring(i, i + 3) + ") at character " + (i + 1) + " (expected: / between segments, "
              + "never inside one)");
        }
        if (b < 0x20 || b == 0x7F) {
          throw new InvalidPathException("an encoded control character (" + rawPath.substring(i, i + 3)
              + ") at character " + (i + 1));
        }
        if (unreserved(b)) {
          unescaped.append((char) b);
        } else {
          unescaped.append('%').append(HEX.charAt(b >> 4)).append(HEX.charAt(b & 0xF));
        }
        i += 2;
      } else if (c == ';') {
        throw new InvalidPathException("a ';' at character " + (i + 1) + " (expected: no path parameters; "
            + "servers disagree on what they mean, percent-encode it as %3B when it is part of a name)");
      } else if (c == '/' || unreserved(c) || "!$&'()*+,=:@".indexOf(c) >= 0) {
        unescaped.append(c);
      } else {
        throw new InvalidPathException(describe(c) + " at character " + (i + 1)
            + " (expected: the characters RFC 3986 allows in a path; percent-encode others)");
      }
    }
    // 3, 4: merge slashes, resolve dot segments.
    String[] segments = unescaped.toString().split("/", -1);
    Deque<String> out = new ArrayDeque<>();
    boolean trailingSlash = false;
    for (int i = 1; i < segments.length; i++) {
      String s = segments[i];
      boolean last = i == segments.length - 1;
      if (s.equals("..")) {
        if (out.isEmpty()) {
          throw new InvalidPathException("a '..' segment goes above the root (expected: a path that stays "
              + "under /)");
        }
        out.removeLast();
        trailingSlash = last;
      } else if (s.equals(".") || s.isEmpty()) {
        trailingSlash = last;
      } else {
        out.addLast(s);
        trailingSlash = false;
      }
    }
    StringBuilder raw = new StringBuilder(unescaped.length());
    for (String s : out) {
      raw.append('/').append(s);
    }
    if (raw.length() == 0 || trailingSlash) {
      raw.append('/');
    }
    String normalized = raw.toString();
    return new RequestPath(normalized, decode(normalized));
  }

  /** Whether the path was sent in its normalized form already. */
  public boolean sameAs(String rawPath) {
    return raw.equals(rawPath == null || rawPath.isEmpty() ? "/" : rawPath);
  }

  private static boolean unreserved(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '-' || c == '.' || c == '_' || c == '~';
  }

  private static String describe(char c) {
    if (c == '\\') {
      return "a backslash";
    }
    if (c < 0x20 || c == 0x7F) {
      return "a control character (U+" + String.format("%04X", (int) c) + ")";
    }
    if (c == ' ') {
      return "a space";
    }
    if (c > 0x7E) {
      return "a character beyond ASCII (U+" + String.format("%04X", (int) c) + ")";
    }
    return "'" + c + "'";
  }

  /** Decodes every percent-encoding of a normalized path as UTF-8. */
  private static String decode(String normalized) throws InvalidPathException {
    if (normalized.indexOf('%') < 0) {
      return normalized;
    }
    ByteBuffer bytes = ByteBuffer.allocate(normalized.length());
    for (int i = 0; i < normalized.length(); i++) {
      char c = normalized.charAt(i);
      if (c == '%') {
        bytes.put((byte) (HEX.indexOf(normalized.charAt(i + 1)) * 16 + HEX.indexOf(normalized.charAt(i + 2))));
        i += 2;
      } else {
        bytes.put((byte) c);
      }
    }
    bytes.flip();
    try {
      CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(bytes);
      return chars.toString();
    } catch (CharacterCodingException e) {
      throw new InvalidPathException("its percent-encodings are not UTF-8 (expected: UTF-8 bytes, "
          + "percent-encoded)");
    }
  }
}
