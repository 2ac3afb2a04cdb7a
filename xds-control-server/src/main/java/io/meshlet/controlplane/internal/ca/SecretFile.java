package io.meshlet.controlplane.internal.ca;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Reads a small file holding a secret (the admin token, the CA's key-encryption key): refused,
 * with a message that starts with {@code where} and never quotes the content, when it is
 * missing, unreadable, larger than it may be, or readable by every user.
 */
public final class SecretFile {

  private SecretFile() {}

  /**
   * @param where how messages name the file, e.g. {@code "--admin-token-file /etc/t: "}
   * @param tooLarge what follows {@code where} when the file has more than {@code maxBytes}
   * @throws IllegalStateException naming what is wrong and what is expected
   */
  public static byte[] read(Path file, String where, long maxBytes, String tooLarge) {
    try {
      if (Files.size(file) > maxBytes) {
        throw new IllegalStateException(where + tooLarge);
      }
      Set<PosixFilePermission> permissions = permissions(file);
      if (permissions != null && permissions.contains(PosixFilePermission.OTHERS_READ)) {
        throw new IllegalStateException(where + "readable by every user (mode "
            + PosixFilePermissions.toString(permissions) + "; expected: chmod 600 or 640, or in Kubernetes a "
            + "secret volume with defaultMode: 0440 and the pod's fsGroup)");
      }
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new IllegalStateException(where + "no such file");
    } catch (AccessDeniedException e) {
      throw new IllegalStateException(where + "cannot read: permission denied");
    } catch (IOException e) {
      throw new IllegalStateException(where + "cannot read: " + e.getMessage());
    }
  }

  /** The file's POSIX permissions; null on a file system without them. */
  private static Set<PosixFilePermission> permissions(Path file) throws IOException {
    try {
      return Files.getPosixFilePermissions(file);
    } catch (UnsupportedOperationException e) {
      return null;
    }
  }
}
