package io.meshlet.controlplane.internal.admin;

import io.meshlet.controlplane.internal.ca.SecretFile;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Optional;

/**
 * The bearer token the admin API asks for on writes and on reads that reveal the mesh, read from
 * {@code --admin-token-file}. Compared in constant time; its {@link #toString()} never shows it.
 *
 * <p>Only the SHA-256 of the token is kept: comparing digests with {@link MessageDigest#isEqual}
 * takes the same time whatever the presented token's length or how much of it is right.
 */
public final class AdminToken {

  /** The shortest token taken: 128 bits as hex. */
  static final int MIN_LENGTH = 32;
  /** The longest token taken, so that no header line in the admin API comes near its limit. */
  static final int MAX_LENGTH = 512;

  private final byte[] digest;

  private AdminToken(String token) {
    this.digest = sha256(token);
  }

  /**
   * Reads the token from {@code file}: its content without surrounding white space.
   *
   * @throws IllegalStateException naming the file and what is wrong when it is missing,
   *     unreadable, readable by every user, empty, too short or not one line of visible ASCII
   */
  public static AdminToken load(Path file) {
    String where = "--admin-token-file " + file + ": ";
    byte[] bytes = SecretFile.read(file, where, MAX_LENGTH + 2, "more than " + MAX_LENGTH
        + " bytes (expected: one line, the token, such as the output of: openssl rand -hex 32)");
    String token = new String(bytes, StandardCharsets.US_ASCII).strip();
    if (token.isEmpty()) {
      throw new IllegalStateException(where + "empty (expected: one line, the token, such as the output of: "
          + "openssl rand -hex 32)");
    }
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] < 0) {
        throw new IllegalStateException(where + "not ASCII at byte " + i + " (expected: one line of visible "
            + "ASCII characters, such as the output of: openssl rand -hex 32)");
      }
    }
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c <= ' ' || c > '~') {
        // The position only: the token itself is never shown.
        throw new IllegalStateException(where + "white space or a control character at character " + (i + 1)
            + " of the token (expected: one line of visible ASCII characters, such as the output of: "
            + "openssl rand -hex 32)");
      }
    }
    if (token.length() < MIN_LENGTH) {
      throw new IllegalStateException(where + "the token has " + token.length() + " characters (expected: at "
          + "least " + MIN_LENGTH + ", such as the output of: openssl rand -hex 32)");
    }
    return new AdminToken(token);
  }

  /** A token given as text, for tests. */
  static AdminToken of(String token) {
    return new AdminToken(token);
  }

  /** Whether {@code presented} is the token; in constant time. */
  public boolean matches(String presented) {
    return MessageDigest.isEqual(digest, sha256(presented));
  }

  /**
   * Refuses to serve the admin API on a network address without a token: binding it beyond
   * loopback needs {@code --admin-token-file}.
   *
   * @throws IllegalStateException naming the address and the flag
   */
  public static void checkExposure(String adminBindAddress, Optional<AdminToken> token) {
    if (token.isPresent() || isLoopback(adminBindAddress)) {
      return;
    }
    throw new IllegalStateException("--admin-bind " + adminBindAddress + " is not a loopback address and no "
        + "--admin-token-file is given: the admin API shows the whole mesh and changes its config and CA "
        + "(expected: --admin-token-file FILE with a bearer token, or --admin-bind 127.0.0.1)");
  }

  /** Whether every address {@code address} names is a loopback address. */
  static boolean isLoopback(String address) {
    try {
      InetAddress[] all = InetAddress.getAllByName(address);
      for (InetAddress a : all) {
        if (!a.isLoopbackAddress()) {
          return false;
        }
      }
      return all.length > 0;
    } catch (UnknownHostException e) {
      return false;
    }
  }

  private static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  @Override
  public String toString() {
    return "AdminToken[redacted]";
  }
}
