package io.meshlet.grpc;

import io.meshlet.identity.WorkloadIdentity;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

/**
 * The workload identity as the PEM files grpc-java's {@code file_watcher} certificate provider
 * reads: {@code cert.pem} (the chain), {@code key.pem} (PKCS#8, owner-only) and {@code ca.pem}
 * (the trust bundle). Each file is replaced atomically; the key is written before the
 * certificate so that a reader never pairs a new certificate with an old key for long.
 */
public final class CertificateFiles {

  private final Path dir;

  public CertificateFiles(Path dir) {
    this.dir = dir;
  }

  public Path certificateFile() {
    return dir.resolve("cert.pem");
  }

  public Path keyFile() {
    return dir.resolve("key.pem");
  }

  public Path caFile() {
    return dir.resolve("ca.pem");
  }

  /** Writes an identity; call it again on every rotation. */
  public synchronized void write(WorkloadIdentity identity) {
    try {
      Files.createDirectories(dir);
      StringWriter key = new StringWriter();
      try (JcaPEMWriter w = new JcaPEMWriter(key)) {
        w.writeObject(new JcaPKCS8Generator(identity.privateKey(), null));
      }
      replace(keyFile(), key.toString(), true);
      replace(caFile(), pem(identity.trustBundle().toArray(new X509Certificate[0])), false);
      replace(certificateFile(), pem(identity.chain().toArray(new X509Certificate[0])), false);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the certificate files in " + dir, e);
    }
  }

  private static String pem(X509Certificate... certs) throws IOException {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      for (X509Certificate c : certs) {
        w.writeObject(c);
      }
    }
    return out.toString();
  }

  private void replace(Path file, String content, boolean secret) throws IOException {
    Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
    try {
      if (secret) {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
      }
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system
    }
    Files.writeString(tmp, content, StandardCharsets.US_ASCII);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
