package io.meshlet.controlplane.internal.ca;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import io.meshlet.internal.spiffe.SpiffeIds;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control server's certificate authority: one EC P-256 signing key and its self-signed root
 * for the trust domain, which signs workload certificates carrying exactly one SPIFFE ID.
 *
 * <p>The key is created on first start and, with a directory given, kept there ({@code ca.key}
 * readable by the owner only, {@code ca.crt}) so that a restart keeps the same root. Without a
 * directory it lives in memory, and every restart makes a new root.
 *
 * <p>Thread-safe. Never logs key material.
 *
 * <p>About 600 lines: signing and root rotation share one lock and one state, so they stay
 * together; what a CSR may ask is in {@link CsrPolicy}, PEM in {@link Pem}.
 */
public final class CertificateAuthority {

  private static final Logger log = LoggerFactory.getLogger(CertificateAuthority.class);
  public static final Duration ROOT_LIFETIME = Duration.ofDays(365);
  private static final Duration BACKDATE = Duration.ofMinutes(1);
  private static final SecureRandom RANDOM = new SecureRandom();

  private final String trustDomain;
  private final Clock clock;
  private final Path dir;
  /** The key that signs now and its root. */
  private Signer active;
  /** A key rotation under way: its root is trusted at once, it signs from {@code switchAt}. */
  private Signer next;
  private Instant switchAt;
  /** The root before the last rotation, trusted until {@code previousUntil}. */
  private X509Certificate previous;
  private Instant previousUntil;

  /** Called with the CA's state as it would be after a rotation, before the rotation takes effect. */
  private RotationPublisher publisher;
  /** Why this CA must not sign now (its root is not the mesh's), or null. */
  private volatile String suspended;
  private volatile Runnable onRootsChanged = () -> {};

  private record Signer(PrivateKey key, X509Certificate root) {}

  /**
   * The whole of a CA: the key that signs and its root, a rotation under way (the next key and
   * root, and when it signs), and the root before the last rotation with the end of its overlap.
   * Fields of a part not there are null. Holds private keys: never log it.
   */
  public record State(PrivateKey key, X509Certificate root, PrivateKey nextKey, X509Certificate nextRoot,
      Instant switchAt, X509Certificate previousRoot, Instant previousUntil) {
    public State {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(root, "root");
      if ((nextKey == null) != (nextRoot == null) || (nextKey != null && switchAt == null)) {
        throw new IllegalArgumentException("a next key needs its root and switchAt");
      }
      if ((nextRoot != null || previousRoot != null) && previousUntil == null) {
        throw new IllegalArgumentException("a rotation needs previousUntil");
      }
    }

    /** Every root the state holds: the signing one, the next, the previous (even past its overlap). */
    public List<X509Certificate> roots() {
      List<X509Certificate> out = new ArrayList<>(List.of(root));
      if (nextRoot != null) {
        out.add(nextRoot);
      }
      if (previousRoot != null) {
        out.add(previousRoot);
      }
      return out;
    }

    @Override
    public String toString() {
      return "CertificateAuthority.State[root " + root.getSerialNumber().toString(16) + ", keys redacted]";
    }
  }

  /**
   * Makes a rotation durable where other replicas see it, before it takes effect.
   */
  public interface RotationPublisher {
    /**
     * @param after the CA's state once the rotation has started
     * @throws IOException when it could not be written: the rotation does not start
     * @throws IllegalStateException when someone else changed the CA meanwhile: the rotation does not start
     * @throws RotationNotShared when the other replicas could not follow: the rotation does not start
     */
    void publish(State after) throws IOException;
  }

  /**
   * A rotation refused because replicas share the CA's roots but not its key (a shared
   * {@code --ca-dir} without {@code --ca-key-encryption-key}): the others could not follow it.
   * The admin API answers 409 with the message.
   */
  public static final class RotationNotShared extends RuntimeException {
    public RotationNotShared(String message) {
      super(message);
    }
  }

  /** The state of a key rotation, for the admin API. */
  public record Rotation(String newRootSerial, Instant switchAt, Instant oldRootTrustedUntil) {}

  private CertificateAuthority(String trustDomain, PrivateKey key, X509Certificate root, Clock clock, Path dir) {
    this.trustDomain = trustDomain;
    this.active = new Signer(key, root);
    this.clock = clock;
    this.dir = dir;
  }

  private CertificateAuthority(String trustDomain, State state, Clock clock) {
    this(trustDomain, state.key(), state.root(), clock, null);
    apply(state);
  }

  /**
   * A CA in memory with the given state, e.g. one shared through etcd; it writes no files.
   *
   * @throws IllegalArgumentException when the signing root is not for {@code trustDomain}
   */
  public static CertificateAuthority of(String trustDomain, State state, Clock clock) {
    checkTrustDomain(trustDomain, state.root(), "the CA's root");
    return new CertificateAuthority(trustDomain, state, clock);
  }

  private static void checkTrustDomain(String trustDomain, X509Certificate root, String what) {
    String expected = SpiffeIds.trustDomain(trustDomain);
    List<String> ids;
    try {
      ids = SpiffeIds.all(root);
    } catch (CertificateException e) {
      throw new IllegalArgumentException(what + ": " + e.getMessage() + " (expected: " + expected + ")", e);
    }
    if (!ids.contains(expected)) {
      throw new IllegalArgumentException(what + " is for " + ids + " (expected: " + expected + ")");
    }
  }

  /** The CA's whole state now, for sharing it; holds private keys. */
  public synchronized State state() {
    advance(clock.instant());
    return new State(active.key(), active.root(), next == null ? null : next.key(),
        next == null ? null : next.root(), next == null ? null : switchAt, previous,
        next != null || previous != null ? previousUntil : null);
  }

  /**
   * Takes on a state written by another replica (a rotation it started), if it differs.
   *
   * @return whether the trust bundle changed
   */
  public boolean follow(State state) {
    checkTrustDomain(trustDomain, state.root(), "the CA's root");
    List<X509Certificate> before;
    List<X509Certificate> after;
    synchronized (this) {
      before = trustBundle();
      apply(state);
      after = trustBundle();
    }
    if (!before.equals(after)) {
      log.info("CA follows a change made by another replica: roots now {}", serials(after));
      onRootsChanged.run();
      return true;
    }
    return false;
  }

  private synchronized void apply(State state) {
    active = new Signer(state.key(), state.root());
    next = state.nextKey() == null ? null : new Signer(state.nextKey(), state.nextRoot());
    switchAt = state.switchAt();
    previous = state.previousRoot();
    previousUntil = state.previousUntil();
    advance(clock.instant());
  }

  /**
   * Where rotations are made durable for other replicas before they take effect; none unless
   * set. Set before the CA is used.
   */
  public void rotationPublisher(RotationPublisher publisher) {
    synchronized (this) {
      this.publisher = publisher;
    }
  }

  /** Called (on the caller's thread, holding no lock) after a rotation or a followed change altered the roots. */
  public void onRootsChanged(Runnable listener) {
    this.onRootsChanged = Objects.requireNonNull(listener);
  }

  /**
   * Stops signing, with the reason given to every caller, until {@link #resume()}: this CA's roots
   * are no longer the mesh's. Logged at ERROR once per reason.
   */
  public void suspend(String reason) {
    if (!reason.equals(suspended)) {
      log.error("the CA stops signing: {}", reason);
    }
    suspended = reason;
  }

  /** Signs again after {@link #suspend}. */
  public void resume() {
    if (suspended != null) {
      log.info("the CA signs again: its roots agree with the mesh's");
    }
    suspended = null;
  }

  /** Why the CA does not sign now, or empty when it does. */
  public java.util.Optional<String> suspended() {
    return java.util.Optional.ofNullable(suspended);
  }

  /** The SHA-256 of a certificate's DER encoding, as hex: how roots are compared and named. */
  public static String fingerprint(X509Certificate cert) {
    try {
      return java.util.HexFormat.of().formatHex(
          java.security.MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot hash a certificate: " + e.getMessage(), e);
    }
  }

  static List<String> serials(List<X509Certificate> roots) {
    return roots.stream().map(r -> r.getSerialNumber().toString(16)).toList();
  }

  /** A CSR the CA refuses, with the reason; the text is sent to the caller. */
  public static final class RefusedException extends Exception {
    private static final long serialVersionUID = 1L;

    RefusedException(String message) {
      super(message);
    }
  }

  /** Thrown instead of signing while the CA is {@link #suspend suspended}; the message says why. */
  public static final class SuspendedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    SuspendedException(String message) {
      super(message);
    }
  }

  /** Whether {@code dir} holds a CA ({@code ca.key} and {@code ca.crt}). */
  public static boolean existsIn(Path dir) {
    return dir != null && Files.exists(dir.resolve("ca.key")) && Files.exists(dir.resolve("ca.crt"));
  }

  /** A CA in memory with a new key and root. */
  public static CertificateAuthority create(String trustDomain, Clock clock) throws IOException {
    try {
      KeyPair pair = newKeyPair();
      return new CertificateAuthority(trustDomain, pair.getPrivate(), selfSigned(trustDomain, pair, clock.instant()),
          clock, null);
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IOException("cannot set up the CA: " + e.getMessage(), e);
    }
  }

  /**
   * Loads the CA from {@code dir}, or creates it (and saves it there when {@code dir} is given).
   *
   * @param dir where the key and root live, or null to keep them in memory
   */
  public static CertificateAuthority loadOrCreate(String trustDomain, Path dir, Clock clock) throws IOException {
    try {
      if (dir != null && Files.exists(dir.resolve("ca.key")) && Files.exists(dir.resolve("ca.crt"))) {
        PrivateKey key = Pem.readKey(dir.resolve("ca.key"));
        X509Certificate root = Pem.readCertificate(dir.resolve("ca.crt"));
        String expected = SpiffeIds.trustDomain(trustDomain);
        List<String> ids = SpiffeIds.all(root);
        if (!ids.contains(expected)) {
          throw new IOException(dir.resolve("ca.crt") + ": root is for " + ids
              + " (expected: " + expected + "; move the CA directory away to make a new root)");
        }
        log.info("CA for {} loaded from {} (root serial {}, expires {})", trustDomain, dir,
            root.getSerialNumber().toString(16), root.getNotAfter().toInstant());
        CertificateAuthority ca = new CertificateAuthority(trustDomain, key, root, clock, dir);
        ca.restoreRotation();
        return ca;
      }
      KeyPair pair = newKeyPair();
      X509Certificate root = selfSigned(trustDomain, pair, clock.instant());
      if (dir != null) {
        Files.createDirectories(dir);
        writeKey(dir.resolve("ca.key"), pair.getPrivate());
        Files.writeString(dir.resolve("ca.crt"), Pem.pem(root), StandardCharsets.US_ASCII);
        log.info("CA for {} created in {} (root serial {})", trustDomain, dir, root.getSerialNumber().toString(16));
      } else {
        log.warn("CA for {} created in memory: a restart makes a new root and workloads must fetch new "
            + "certificates (use --ca-dir to keep it)", trustDomain);
      }
      return new CertificateAuthority(trustDomain, pair.getPrivate(), root, clock, dir);
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IOException("cannot set up the CA: " + e.getMessage(), e);
    }
  }

  /** The root of the key that signs now. */
  public synchronized X509Certificate root() {
    advance(clock.instant());
    return active.root();
  }

  /**
   * The roots workloads trust now: the signing root, a new root whose rotation is under way, and
   * the previous root while its overlap lasts.
   */
  public synchronized java.util.List<X509Certificate> trustBundle() {
    Instant now = clock.instant();
    advance(now);
    java.util.List<X509Certificate> out = new java.util.ArrayList<>();
    out.add(active.root());
    if (next != null) {
      out.add(next.root());
    }
    if (previous != null && now.isBefore(previousUntil)) {
      out.add(previous);
    }
    return out;
  }

  /**
   * Starts a key rotation with an overlap: the new root is in every trust bundle handed out from
   * now on; the new key signs from half the overlap on, when workloads renewing at least that
   * often trust it; the old root stays trusted until the overlap ends, when no certificate it
   * signed should still be in use. Choose an overlap of at least twice the certificate lifetime.
   *
   * @throws IllegalStateException while an earlier rotation's overlap lasts
   */
  public synchronized Rotation rotate(Duration overlap) throws IOException {
    if (suspended != null) {
      throw new IllegalStateException("the CA does not sign now: " + suspended);
    }
    Instant now = clock.instant();
    advance(now);
    if (next != null) {
      throw new IllegalStateException("a rotation is already under way; the new key signs from " + switchAt
          + " and the old root is trusted until " + previousUntil);
    }
    if (previous != null && now.isBefore(previousUntil)) {
      // Another rotation now would drop the old root from trust bundles at its switch, while
      // certificates it signed may still be in use.
      throw new IllegalStateException("a rotation is still under way: the old root is trusted until "
          + previousUntil);
    }
    Signer made;
    try {
      KeyPair pair = newKeyPair();
      made = new Signer(pair.getPrivate(), selfSigned(trustDomain, pair, now));
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IOException("cannot make a new CA key: " + e.getMessage(), e);
    }
    Instant madeSwitchAt = now.plus(overlap.dividedBy(2));
    Instant madeUntil = now.plus(overlap);
    if (publisher != null) {
      // Shared before it takes effect: a rotation the other replicas cannot follow does not start.
      publisher.publish(new State(active.key(), active.root(), made.key(), made.root(), madeSwitchAt, null,
          madeUntil));
    }
    if (dir != null) {
      // Saved before it takes effect: a rotation that cannot be kept across a restart does not start.
      writeKey(dir.resolve("next.key"), made.key());
      Files.writeString(dir.resolve("next.crt"), Pem.pem(made.root()), StandardCharsets.US_ASCII);
      Files.writeString(dir.resolve("rotation.properties"), "switchAt=" + madeSwitchAt + "\npreviousUntil="
          + madeUntil + "\n", StandardCharsets.US_ASCII);
    }
    next = made;
    switchAt = madeSwitchAt;
    previousUntil = madeUntil;
    log.info("CA key rotation started: new root {} trusted now, signs from {}, old root {} trusted until {}",
        next.root().getSerialNumber().toString(16), switchAt, active.root().getSerialNumber().toString(16),
        previousUntil);
    Runnable listener = onRootsChanged;
    listener.run();
    return new Rotation(next.root().getSerialNumber().toString(16), switchAt, previousUntil);
  }

  /** Writes a private key readable by the owner only. */
  private static void writeKey(Path file, PrivateKey key) throws IOException {
    Files.writeString(file, Pem.pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(key, null)),
        StandardCharsets.US_ASCII);
    try {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException e) {
      log.warn("cannot restrict permissions of {} on this file system", file);
    }
  }

  /**
   * Picks up a rotation that was under way when the server stopped: the next key and root, when
   * it signs from, and the previous root while its overlap lasts.
   */
  private void restoreRotation() throws IOException {
    Path state = dir.resolve("rotation.properties");
    if (!Files.exists(state)) {
      return;
    }
    java.util.Properties p = new java.util.Properties();
    try (var in = Files.newBufferedReader(state, StandardCharsets.US_ASCII)) {
      p.load(in);
    }
    try {
      previousUntil = Instant.parse(p.getProperty("previousUntil"));
      if (Files.exists(dir.resolve("next.key")) && Files.exists(dir.resolve("next.crt"))) {
        next = new Signer(Pem.readKey(dir.resolve("next.key")), Pem.readCertificate(dir.resolve("next.crt")));
        switchAt = Instant.parse(p.getProperty("switchAt"));
        log.info("CA key rotation resumed: new root {} signs from {}, old root trusted until {}",
            next.root().getSerialNumber().toString(16), switchAt, previousUntil);
      } else if (Files.exists(dir.resolve("previous.crt")) && clock.instant().isBefore(previousUntil)) {
        previous = Pem.readCertificate(dir.resolve("previous.crt"));
        log.info("CA key rotation overlap resumed: the old root {} is trusted until {}",
            previous.getSerialNumber().toString(16), previousUntil);
      }
    } catch (RuntimeException | GeneralSecurityException e) {
      throw new IOException(state + ": " + e.getMessage() + " (expected: the rotation state this server wrote;"
          + " remove it with next.key, next.crt and previous.crt to drop the rotation)", e);
    }
  }

  /** Moves a rotation on when its time has come. */
  private void advance(Instant now) {
    if (next == null || now.isBefore(switchAt)) {
      return;
    }
    previous = active.root();
    active = next;
    next = null;
    log.info("CA now signs with root {}; the old root {} is trusted until {}",
        active.root().getSerialNumber().toString(16), previous.getSerialNumber().toString(16), previousUntil);
    if (dir != null) {
      try {
        writeKey(dir.resolve("ca.key"), active.key());
        Files.writeString(dir.resolve("ca.crt"), Pem.pem(active.root()), StandardCharsets.US_ASCII);
        Files.writeString(dir.resolve("previous.crt"), Pem.pem(previous), StandardCharsets.US_ASCII);
        Files.deleteIfExists(dir.resolve("next.key"));
        Files.deleteIfExists(dir.resolve("next.crt"));
      } catch (IOException | RuntimeException e) {
        log.error("could not save the new CA key in {}: a restart would go back to the old one", dir, e);
      }
    }
  }

  /** The SPIFFE ID of a service in this trust domain. */
  public String spiffeId(String service) {
    return SpiffeIds.service(trustDomain, service);
  }

  /**
   * Signs a CSR for a service. The certificate carries the service's SPIFFE ID as its only name
   * and lives for {@code ttl}. A CSR may leave its names to the CA (Meshlet's own clients do), or
   * ask for exactly that SPIFFE ID; a CSR asking for any other name, or for the powers of a CA, is
   * refused rather than silently given something else. Other requested extensions are ignored: the
   * CA's profile is fixed.
   *
   * @throws RefusedException when the CSR is malformed, not self-signed by its key, uses a weak
   *     key, or asks for other names or CA powers; the message starts with "csr:"
   */
  public X509Certificate sign(String service, byte[] csrDer, Duration ttl) throws RefusedException {
    JcaPKCS10CertificationRequest csr;
    PublicKey publicKey;
    try {
      csr = new JcaPKCS10CertificationRequest(csrDer);
      publicKey = csr.getPublicKey();
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      throw new RefusedException("csr: not a PKCS#10 certificate signing request (" + e.getMessage() + ")");
    }
    try {
      if (!csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(publicKey))) {
        throw new RefusedException("csr: signature does not verify with the CSR's own key "
            + "(expected: a CSR signed by the key it carries)");
      }
    } catch (OperatorCreationException | PKCSException | RuntimeException e) {
      throw new RefusedException("csr: signature cannot be checked (" + e.getMessage() + ")");
    }
    if (publicKey instanceof RSAPublicKey rsa && rsa.getModulus().bitLength() < 2048) {
      throw new RefusedException("csr: RSA key of " + rsa.getModulus().bitLength()
          + " bits (expected: EC, or RSA of 2048 bits or more)");
    } else if (!(publicKey instanceof RSAPublicKey) && !(publicKey instanceof ECPublicKey)) {
      throw new RefusedException("csr: " + publicKey.getAlgorithm() + " key (expected: EC or RSA)");
    }
    String id = spiffeId(service);
    CsrPolicy.checkRequestedExtensions(csr, id);
    return issue(publicKey, "CN=" + service,
        new GeneralName[] {new GeneralName(GeneralName.uniformResourceIdentifier, id)}, ttl);
  }

  /** The control server's own SPIFFE ID in this trust domain. */
  public String controlServerId() {
    return io.meshlet.internal.spiffe.ControlPlaneTls.controlServerId(trustDomain);
  }

  /**
   * A certificate for the control server itself, for a key it made: its SPIFFE ID
   * ({@link #controlServerId()}) and the DNS names and IP addresses clients reach it by (clients
   * such as grpc-java check those against the address they dialled).
   */
  public X509Certificate issueControlServer(PublicKey publicKey, java.util.List<String> dnsNames,
      java.util.List<String> ipAddresses, Duration ttl) {
    java.util.List<GeneralName> names = new java.util.ArrayList<>();
    names.add(new GeneralName(GeneralName.uniformResourceIdentifier, controlServerId()));
    dnsNames.forEach(n -> names.add(new GeneralName(GeneralName.dNSName, n)));
    ipAddresses.forEach(a -> names.add(new GeneralName(GeneralName.iPAddress, a)));
    return issue(publicKey, "CN=meshlet-control-server", names.toArray(new GeneralName[0]), ttl);
  }

  private X509Certificate issue(PublicKey publicKey, String cn, GeneralName[] names, Duration ttl) {
    String id = ((org.bouncycastle.asn1.DERIA5String) names[0].getName()).getString();
    Instant now = clock.instant();
    Signer signer;
    String why = suspended;
    if (why != null) {
      throw new SuspendedException(why);
    }
    synchronized (this) {
      advance(now);
      signer = active;
    }
    X509Certificate root = signer.root();
    try {
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(root,
          new BigInteger(127, RANDOM), Date.from(now.minus(BACKDATE)), Date.from(now.plus(ttl)),
          new X500Name("O=Meshlet, OU=" + trustDomain + ", " + cn), publicKey);
      JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
          new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      b.addExtension(Extension.subjectAlternativeName, true, new GeneralNames(names));
      b.addExtension(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(publicKey));
      b.addExtension(Extension.authorityKeyIdentifier, false, utils.createAuthorityKeyIdentifier(root));
      X509Certificate cert = Pem.convert(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer.key())));
      log.info("signed a certificate for {} (serial {}, expires {})", id, cert.getSerialNumber().toString(16),
          cert.getNotAfter().toInstant());
      return cert;
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException("signing failed: " + e.getMessage(), e);
    }
  }

  static KeyPair newKeyPair() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
    return g.generateKeyPair();
  }

  private static X509Certificate selfSigned(String trustDomain, KeyPair pair, Instant now)
      throws GeneralSecurityException, OperatorCreationException, IOException {
    X500Name name = new X500Name("O=Meshlet, CN=Meshlet CA " + trustDomain);
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, new BigInteger(127, RANDOM),
        Date.from(now.minus(BACKDATE)), Date.from(now.plus(ROOT_LIFETIME)), name, pair.getPublic());
    JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    b.addExtension(Extension.subjectAlternativeName, false,
        new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, SpiffeIds.trustDomain(trustDomain))));
    b.addExtension(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(pair.getPublic()));
    return Pem.convert(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate())));
  }

}
