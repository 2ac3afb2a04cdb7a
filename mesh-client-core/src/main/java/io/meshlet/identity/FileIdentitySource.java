package io.meshlet.identity;

import io.meshlet.internal.spiffe.SvidRules;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The workload's identity from PEM files that an outside issuer keeps fresh (SPIRE's helper,
 * cert-manager's csi-driver): a certificate chain, its private key and the trust bundle. The files
 * are polled; a new set is used once it is complete and consistent (the key matches the
 * certificate, not expired, and the chain is a well-formed SVID: at most 5 certificates, the
 * first one not a CA, allowed to sign but not to sign certificates, with exactly one SPIFFE ID),
 * and a set that is not is refused with the file and the reason while the last good identity
 * stays in use.
 *
 * <p>Thread-safe: {@link #current()} is a volatile read.
 */
public final class FileIdentitySource implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(FileIdentitySource.class);

  private final Path certificateFile;
  private final Path keyFile;
  private final Path bundleFile;
  private final Clock clock;
  private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "meshlet-identity-files");
    t.setDaemon(true);
    return t;
  });
  private final List<Consumer<WorkloadIdentity>> listeners = new CopyOnWriteArrayList<>();
  private volatile WorkloadIdentity current;
  private byte[] lastContent = new byte[0];
  private String lastProblem = "";

  public FileIdentitySource(Path certificateFile, Path keyFile, Path bundleFile, Clock clock) {
    this.certificateFile = certificateFile;
    this.keyFile = keyFile;
    this.bundleFile = bundleFile;
    this.clock = clock;
  }

  /** Reads the files now, then every {@code interval}. */
  public FileIdentitySource start(Duration interval) {
    reload();
    executor.scheduleWithFixedDelay(this::reload, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    return this;
  }

  /** The identity in force, or null if the files never held a valid one. */
  public WorkloadIdentity current() {
    return current;
  }

  /** Calls {@code listener} with every new identity, from the polling thread. */
  public void addListener(Consumer<WorkloadIdentity> listener) {
    listeners.add(listener);
  }

  /** Checks the files once; uses them if they changed and are valid. */
  public synchronized void reload() {
    byte[] content;
    try {
      content = concat(Files.readAllBytes(certificateFile), Files.readAllBytes(keyFile), Files.readAllBytes(bundleFile));
    } catch (IOException e) {
      problem("cannot read the identity files (" + e + ")");
      return;
    }
    if (Arrays.equals(content, lastContent)) {
      return;
    }
    try {
      WorkloadIdentity identity = parse();
      lastContent = content;
      lastProblem = "";
      current = identity;
      log.info("identity from files: {}", identity);
      for (Consumer<WorkloadIdentity> l : listeners) {
        try {
          l.accept(identity);
        } catch (RuntimeException e) {
          log.warn("identity listener threw; ignored", e);
        }
      }
    } catch (CertificateException | IOException e) {
      // Keep lastContent as it was: files written one after another are read again next time.
      problem(e.getMessage());
    }
  }

  private void problem(String message) {
    if (!message.equals(lastProblem)) {
      lastProblem = message;
      WorkloadIdentity now = current;
      log.warn("refused identity files: {}; {}", message,
          now == null ? "no identity yet" : "keeping " + now);
    }
  }

  private WorkloadIdentity parse() throws IOException, CertificateException {
    List<X509Certificate> chain = certificates(certificateFile);
    List<X509Certificate> bundle = certificates(bundleFile);
    if (chain.isEmpty()) {
      throw new CertificateException(certificateFile + ": no certificate (expected: the workload certificate in PEM)");
    }
    if (bundle.isEmpty()) {
      throw new CertificateException(bundleFile + ": no certificate (expected: the trust bundle in PEM)");
    }
    PrivateKey key = key(keyFile);
    X509Certificate leaf = chain.get(0);
    String id;
    try {
      id = SvidRules.check(chain);
    } catch (CertificateException e) {
      throw new CertificateException(certificateFile + ": " + e.getMessage());
    }
    if (!matches(key, leaf)) {
      throw new CertificateException(keyFile + ": key does not belong to the certificate in " + certificateFile
          + " (expected: the private key of " + id + ")");
    }
    if (leaf.getNotAfter().toInstant().isBefore(clock.instant())) {
      throw new CertificateException(certificateFile + ": certificate for " + id + " expired at "
          + leaf.getNotAfter().toInstant() + " (expected: a current certificate)");
    }
    return new WorkloadIdentity(id, chain, key, bundle);
  }

  private static boolean matches(PrivateKey key, X509Certificate cert) {
    try {
      String algorithm = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
      byte[] probe = "meshlet-key-check".getBytes(StandardCharsets.UTF_8);
      Signature s = Signature.getInstance(algorithm);
      s.initSign(key);
      s.update(probe);
      byte[] signature = s.sign();
      Signature v = Signature.getInstance(algorithm);
      v.initVerify(cert.getPublicKey());
      v.update(probe);
      return v.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static List<X509Certificate> certificates(Path file) throws IOException, CertificateException {
    List<X509Certificate> out = new ArrayList<>();
    try (PEMParser p = new PEMParser(new StringReader(Files.readString(file, StandardCharsets.US_ASCII)))) {
      for (Object o = p.readObject(); o != null; o = p.readObject()) {
        if (o instanceof X509CertificateHolder h) {
          out.add(new JcaX509CertificateConverter().getCertificate(h));
        }
      }
    }
    return out;
  }

  private static PrivateKey key(Path file) throws IOException, CertificateException {
    try (PEMParser p = new PEMParser(new StringReader(Files.readString(file, StandardCharsets.US_ASCII)))) {
      Object o = p.readObject();
      JcaPEMKeyConverter c = new JcaPEMKeyConverter();
      if (o instanceof PEMKeyPair kp) {
        return c.getPrivateKey(kp.getPrivateKeyInfo());
      } else if (o instanceof PrivateKeyInfo info) {
        return c.getPrivateKey(info);
      }
      throw new CertificateException(file + ": no private key (expected: an unencrypted PEM private key)");
    }
  }

  private static byte[] concat(byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) {
      n += p.length + 1;
    }
    byte[] out = new byte[n];
    int i = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, out, i, p.length);
      i += p.length + 1;
    }
    return out;
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
