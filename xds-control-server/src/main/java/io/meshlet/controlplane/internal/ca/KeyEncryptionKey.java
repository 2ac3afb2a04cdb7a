package io.meshlet.controlplane.internal.ca;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The key that encrypts the CA's private keys before they go to etcd: 32 random bytes, written in
 * base64 in the file every replica mounts ({@code --ca-key-encryption-key FILE}, made with
 * {@code openssl rand -base64 32}). AES-256-GCM with a fresh 96-bit nonce per seal; the
 * associated data binds a sealed value to the key it is stored under, so it cannot be moved.
 *
 * <p>Only a short {@link #id()} (a hash of the key, for error messages that name which key sealed
 * what) is ever shown. Thread-safe.
 */
public final class KeyEncryptionKey {

  static final String ALGORITHM = "AES-256-GCM";
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String HOW = "expected: one line, 32 random bytes in base64, such as the output of: "
      + "openssl rand -base64 32";

  private final SecretKeySpec key;
  private final String id;

  private KeyEncryptionKey(byte[] bytes) {
    this.key = new SecretKeySpec(bytes, "AES");
    this.id = idOf(bytes);
  }

  /** A key given as bytes (32 of them), for tests. */
  static KeyEncryptionKey of(byte[] bytes) {
    if (bytes.length != 32) {
      throw new IllegalArgumentException(bytes.length + " bytes (expected: 32)");
    }
    return new KeyEncryptionKey(bytes.clone());
  }

  /**
   * Reads the key from {@code file}.
   *
   * @throws IllegalStateException naming the file and what is wrong when it is missing,
   *     unreadable, readable by every user, not one line of base64, or not 32 bytes once decoded
   */
  public static KeyEncryptionKey load(Path file) {
    String where = "--ca-key-encryption-key " + file + ": ";
    byte[] raw = SecretFile.read(file, where, 256, "more than 256 bytes (" + HOW + ")");
    String text = new String(raw, StandardCharsets.US_ASCII).strip();
    if (text.isEmpty()) {
      throw new IllegalStateException(where + "empty (" + HOW + ")");
    }
    if (text.contains("\n") || text.contains("\r")) {
      throw new IllegalStateException(where + "more than one line (" + HOW + ")");
    }
    byte[] bytes;
    try {
      bytes = Base64.getDecoder().decode(text);
    } catch (IllegalArgumentException e) {
      // The position is not shown: the text is a secret.
      throw new IllegalStateException(where + "not base64 (" + HOW + ")");
    }
    if (bytes.length != 32) {
      throw new IllegalStateException(where + bytes.length + " bytes once decoded (" + HOW + ")");
    }
    if (allSame(bytes)) {
      throw new IllegalStateException(where + "every byte is the same, not a random key (" + HOW + ")");
    }
    KeyEncryptionKey k = new KeyEncryptionKey(bytes);
    Arrays.fill(bytes, (byte) 0);
    return k;
  }

  private static boolean allSame(byte[] bytes) {
    for (byte b : bytes) {
      if (b != bytes[0]) {
        return false;
      }
    }
    return true;
  }

  /**
   * A short public name of this key (16 hex digits of a SHA-256 over it), so that an error can say
   * that a value was sealed with another key without showing either.
   */
  public String id() {
    return id;
  }

  private static String idOf(byte[] bytes) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      d.update("meshlet-ca-key-encryption-key-id".getBytes(StandardCharsets.US_ASCII));
      return HexFormat.of().formatHex(d.digest(bytes), 0, 8);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** A sealed value: the nonce and the ciphertext with its tag. */
  public record Sealed(byte[] nonce, byte[] ciphertext) {}

  /** Encrypts {@code plaintext}, bound to {@code associatedData}. */
  public Sealed seal(byte[] plaintext, byte[] associatedData) {
    byte[] nonce = new byte[NONCE_BYTES];
    RANDOM.nextBytes(nonce);
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
      c.updateAAD(associatedData);
      return new Sealed(nonce, c.doFinal(plaintext));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM failed: " + e.getMessage(), e);
    }
  }

  /**
   * Decrypts a sealed value.
   *
   * @throws GeneralSecurityException when it was not sealed with this key and associated data, or
   *     was changed since ({@link AEADBadTagException})
   */
  public byte[] open(Sealed sealed, byte[] associatedData) throws GeneralSecurityException {
    if (sealed.nonce().length != NONCE_BYTES) {
      throw new GeneralSecurityException("nonce of " + sealed.nonce().length + " bytes (expected: " + NONCE_BYTES + ")");
    }
    Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
    c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, sealed.nonce()));
    c.updateAAD(associatedData);
    return c.doFinal(sealed.ciphertext());
  }

  @Override
  public String toString() {
    return "KeyEncryptionKey[id " + id + ", redacted]";
  }
}
