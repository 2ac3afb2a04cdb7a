package io.meshlet.controlplane.internal.ca;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meshlet.controlplane.internal.source.EtcdStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One CA for every replica over etcd, kept under {@code <prefix>ca} as JSON:
 *
 * <pre>{@code
 * {"format": "meshlet-ca/1", "trustDomain": "example.org",
 *  "roots": ["-----BEGIN CERTIFICATE-----..."],        // every root of the CA, public
 *  "rootsSha256": ["9f86d0..."], "formerRootsSha256": [...],
 *  "sealed": {"algorithm": "AES-256-GCM", "keyId": "3a7bd3e2360a3d29",
 *             "nonce": "...", "ciphertext": "..."}}    // only with a key-encryption key
 * }</pre>
 *
 * <p>Two ways to run, the same on every replica:
 *
 * <ul>
 *   <li><b>With a {@link KeyEncryptionKey}</b> ({@code --ca-key-encryption-key FILE}): the CA's
 *       private keys and rotation state are in etcd, sealed with AES-256-GCM under that key (bound
 *       to the etcd key they are stored under). The first replica publishes its CA (from
 *       {@code --ca-dir} if that holds one, else a new one) with a create-only transaction;
 *       every other replica loads it from there. A rotation on one replica is written to etcd
 *       before it takes effect, and every replica follows it from its watch.
 *   <li><b>Without</b>: the keys never leave {@code --ca-dir}, which must hold the same CA on
 *       every replica. The first replica publishes the roots alone; every replica compares its
 *       roots with them at start-up and on every change, and stops signing when they differ.
 *       Rotations are refused: the other replicas could not follow them.
 * </ul>
 *
 * <p>A replica that does not agree refuses to start ({@link IllegalStateException} naming what to
 * change) and writes nothing. Thread-safe.
 */
public final class EtcdCa {

  private static final Logger log = LoggerFactory.getLogger(EtcdCa.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String FORMAT = "meshlet-ca/1";

  private final EtcdStore store;
  private final KeyEncryptionKey kek;
  private final Path kekFile;
  private final Path caDir;
  private final String trustDomain;
  private CertificateAuthority ca;
  // Guarded by this.
  private long modRevision;
  private final Set<String> formerRoots = new LinkedHashSet<>();

  private EtcdCa(EtcdStore store, KeyEncryptionKey kek, Path kekFile, Path caDir, String trustDomain) {
    this.store = store;
    this.kek = kek;
    this.kekFile = kekFile;
    this.caDir = caDir;
    this.trustDomain = trustDomain;
  }

  /**
   * Sets up this replica's CA so that it agrees with the one in etcd, publishing it first when
   * etcd holds none.
   *
   * @param kek the key-encryption key, or null to keep the keys in {@code caDir} only
   * @param caDir the CA directory; required without a key-encryption key
   * @throws IllegalStateException when this replica's CA would differ from the mesh's, naming
   *     what to change; nothing was written then
   * @throws IOException when etcd cannot be reached or the CA directory cannot be read
   */
  public static EtcdCa establish(EtcdStore store, KeyEncryptionKey kek, Path kekFile, Path caDir,
      String trustDomain, Clock clock) throws IOException {
    if (kek == null && caDir == null) {
      throw new IllegalStateException(NEEDS_SHARED_CA);
    }
    EtcdCa shared = new EtcdCa(store, kek, kekFile, caDir, trustDomain);
    shared.start(clock);
    return shared;
  }

  /** Why a replica over etcd needs one of the two flags. */
  public static final String NEEDS_SHARED_CA = "replicas over etcd must share one CA, and this one has none to "
      + "share (expected: --ca-key-encryption-key FILE, the same on every replica, to keep the CA in etcd "
      + "sealed; or --ca-dir DIR holding the same ca.key and ca.crt on every replica)";

  private synchronized void start(Clock clock) throws IOException {
    Optional<EtcdStore.Stored> stored = store.readCa();
    if (kek == null && stored.isPresent() && !CertificateAuthority.existsIn(caDir)) {
      Decoded d = decode(stored.get());
      throw new IllegalStateException("--ca-dir " + caDir + " holds no CA, and etcd " + store.caKey() + " lists "
          + describeAll(d.roots()) + ", the roots the other replicas sign with (expected: the same CA on every "
          + "replica: copy ca.key and ca.crt from a replica that serves into " + caDir + ", or start every "
          + "replica with the same --ca-key-encryption-key FILE to share the CA through etcd)");
    }
    CertificateAuthority local = null;
    if (kek == null || CertificateAuthority.existsIn(caDir)) {
      // Without a key-encryption key the directory is the CA (created there if missing); with one it
      // only seeds etcd, and is never written to.
      local = kek == null ? CertificateAuthority.loadOrCreate(trustDomain, caDir, clock)
          : CertificateAuthority.of(trustDomain, CertificateAuthority.loadOrCreate(trustDomain, caDir, clock)
              .state(), clock);
    }
    if (stored.isEmpty()) {
      CertificateAuthority mine = local != null ? local : CertificateAuthority.create(trustDomain, clock);
      OptionalLong written = store.writeCa(encode(mine.state()), 0);
      if (written.isPresent()) {
        modRevision = written.getAsLong();
        ca = mine;
        formerRoots.addAll(fingerprints(mine.state().roots()));
        log.info("published this replica's CA to etcd {} ({}): roots {}", store.caKey(),
            kek == null ? "roots only; the keys stay in " + caDir : "keys sealed with key-encryption key " + kek.id(),
            CertificateAuthority.serials(mine.state().roots()));
        wire();
        return;
      }
      // Another replica published first: agree with it.
      stored = store.readCa();
      if (stored.isEmpty()) {
        throw new IOException("etcd " + store.caKey() + " was written and deleted while this replica started; "
            + "start it again");
      }
    }
    Decoded d = decode(stored.get());
    modRevision = stored.get().modRevision();
    formerRoots.addAll(d.formerRoots());
    if (kek != null) {
      if (local != null && !d.knownRoots().contains(CertificateAuthority.fingerprint(local.root()))) {
        throw new IllegalStateException("--ca-dir " + caDir + " holds a CA with root " + describe(local.root())
            + ", which is not the mesh's: etcd " + store.caKey() + " holds the CA every replica signs with, roots "
            + CertificateAuthority.serials(d.roots()) + " (expected: the same CA on every replica; remove ca.key, "
            + "ca.crt, next.key, next.crt, previous.crt and rotation.properties from " + caDir
            + " to take the CA from etcd)");
      }
      ca = CertificateAuthority.of(trustDomain, d.state(), clock);
      log.info("CA loaded from etcd {} (keys sealed with key-encryption key {}): roots {}", store.caKey(), kek.id(),
          CertificateAuthority.serials(d.roots()));
    } else {
      Optional<String> differs = differs(local, d);
      if (differs.isPresent()) {
        throw new IllegalStateException(differs.get());
      }
      ca = local;
      log.info("CA in {} agrees with the roots in etcd {}: {}", caDir, store.caKey(),
          CertificateAuthority.serials(d.roots()));
    }
    wire();
  }

  private void wire() {
    if (kek != null) {
      ca.rotationPublisher(this::publish);
    } else {
      ca.rotationPublisher(after -> {
        throw new CertificateAuthority.RotationNotShared("a CA rotation over etcd needs --ca-key-encryption-key: this "
            + "replica's key is in --ca-dir only, and the other replicas could not follow it (expected: start "
            + "every replica with the same --ca-key-encryption-key FILE, which shares the CA through etcd)");
      });
    }
  }

  /** The CA this replica signs with. */
  public CertificateAuthority ca() {
    return ca;
  }

  /** How the CA is shared, for {@code /healthz}. */
  public String describe() {
    Optional<String> suspended = ca.suspended();
    if (suspended.isPresent()) {
      return "NOT SIGNING: " + suspended.get();
    }
    return kek != null
        ? "shared through etcd " + store.caKey() + " (keys sealed with key-encryption key " + kek.id() + ")"
        : "from --ca-dir " + caDir + ", roots checked against etcd " + store.caKey();
  }

  /**
   * Follows a change of the CA key in etcd (called from the watch, in order): with a key-encryption
   * key, takes on the new state (a rotation on another replica); without, checks the roots again.
   * A value this replica cannot agree with stops it signing, with an ERROR saying why.
   */
  public void changed(Optional<EtcdStore.Stored> stored) {
    CertificateAuthority.State follow = null;
    synchronized (this) {
      if (stored.isEmpty()) {
        republish();
        return;
      }
      if (stored.get().modRevision() <= modRevision) {
        return;
      }
      modRevision = stored.get().modRevision();
      Decoded d;
      try {
        d = decode(stored.get());
      } catch (IllegalStateException | IOException e) {
        ca.suspend(e.getMessage());
        return;
      }
      formerRoots.addAll(d.formerRoots());
      if (kek == null) {
        Optional<String> differs = differs(ca, d);
        if (differs.isPresent()) {
          ca.suspend(differs.get());
        } else {
          ca.resume();
        }
        return;
      }
      follow = d.state();
    }
    // Outside this lock: the CA's rotate() holds the CA's lock while it calls publish().
    try {
      ca.follow(follow);
      ca.resume();
    } catch (IllegalArgumentException e) {
      ca.suspend("etcd " + store.caKey() + ": " + e.getMessage());
    }
  }

  /** Writes this replica's CA again after the key was deleted, unless another replica did. */
  private void republish() {
    try {
      OptionalLong written = store.writeCa(encode(ca.state()), 0);
      if (written.isPresent()) {
        modRevision = written.getAsLong();
        log.warn("etcd {} was deleted; wrote this replica's CA there again (roots {})", store.caKey(),
            CertificateAuthority.serials(ca.state().roots()));
      }
    } catch (IOException e) {
      log.warn("etcd {} was deleted and could not be written again: {}", store.caKey(), e.getMessage());
    }
  }

  /** Writes a rotation to etcd before it takes effect; fails if the CA moved on meanwhile. */
  private synchronized void publish(CertificateAuthority.State after) throws IOException {
    OptionalLong written = store.writeCa(encode(after), modRevision);
    if (written.isEmpty()) {
      throw new IllegalStateException("the CA in etcd " + store.caKey() + " changed meanwhile (a rotation "
          + "through another replica?); this replica follows it within moments");
    }
    modRevision = written.getAsLong();
    formerRoots.addAll(fingerprints(after.roots()));
    log.info("CA rotation written to etcd {} at revision {}: every replica follows it", store.caKey(), modRevision);
  }

  /** The clear part and, with a key-encryption key, the sealed state. */
  private String encode(CertificateAuthority.State state) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("format", FORMAT);
    root.put("trustDomain", trustDomain);
    ArrayNode roots = root.putArray("roots");
    for (X509Certificate r : state.roots()) {
      roots.add(Pem.pem(r));
    }
    ArrayNode hashes = root.putArray("rootsSha256");
    List<String> current = fingerprints(state.roots());
    current.forEach(hashes::add);
    ArrayNode former = root.putArray("formerRootsSha256");
    formerRoots.stream().filter(f -> !current.contains(f)).forEach(former::add);
    if (kek != null) {
      ObjectNode plain = JSON.createObjectNode();
      plain.put("key", Pem.pemKey(state.key()));
      plain.put("root", Pem.pem(state.root()));
      if (state.nextKey() != null) {
        plain.put("nextKey", Pem.pemKey(state.nextKey()));
        plain.put("nextRoot", Pem.pem(state.nextRoot()));
        plain.put("switchAt", state.switchAt().toString());
      }
      if (state.previousRoot() != null) {
        plain.put("previousRoot", Pem.pem(state.previousRoot()));
      }
      if (state.previousUntil() != null) {
        plain.put("previousUntil", state.previousUntil().toString());
      }
      byte[] bytes = JSON.writeValueAsBytes(plain);
      KeyEncryptionKey.Sealed sealed = kek.seal(bytes, associatedData());
      java.util.Arrays.fill(bytes, (byte) 0);
      ObjectNode s = root.putObject("sealed");
      s.put("algorithm", KeyEncryptionKey.ALGORITHM);
      s.put("keyId", kek.id());
      s.put("nonce", Base64.getEncoder().encodeToString(sealed.nonce()));
      s.put("ciphertext", Base64.getEncoder().encodeToString(sealed.ciphertext()));
    }
    return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
  }

  /** What is sealed is bound to where it is stored: a value copied under another prefix does not open. */
  private byte[] associatedData() {
    return (FORMAT + "\n" + store.caKey() + "\n" + trustDomain).getBytes(StandardCharsets.UTF_8);
  }

  private record Decoded(List<X509Certificate> roots, Set<String> knownRoots, Set<String> formerRoots,
      CertificateAuthority.State state) {}

  private Decoded decode(EtcdStore.Stored stored) throws IOException {
    String key = "etcd " + store.caKey();
    JsonNode root;
    try {
      root = JSON.readTree(stored.value());
    } catch (IOException e) {
      throw new IllegalStateException(key + ": not JSON (expected: the CA as a Meshlet replica writes it; delete "
          + "the key to let the first replica publish its CA again)");
    }
    if (root == null || !FORMAT.equals(root.path("format").asText())) {
      throw new IllegalStateException(key + ": format " + (root == null ? "none" : root.path("format"))
          + " (expected: \"" + FORMAT + "\", as a Meshlet replica writes it)");
    }
    String domain = root.path("trustDomain").asText();
    if (!trustDomain.equals(domain)) {
      throw new IllegalStateException(key + " holds the CA of trust domain '" + domain + "' (expected: '"
          + trustDomain + "', the intent's trustDomain; a new trust domain needs a new CA: stop every replica and "
          + "delete " + store.caKey() + ")");
    }
    List<X509Certificate> roots = new ArrayList<>();
    for (JsonNode r : root.path("roots")) {
      roots.add(Pem.parseCertificate(r.asText(), key + ": roots"));
    }
    Set<String> known = new LinkedHashSet<>(fingerprints(roots));
    Set<String> former = new LinkedHashSet<>();
    root.path("formerRootsSha256").forEach(f -> former.add(f.asText()));
    known.addAll(former);
    JsonNode sealed = root.path("sealed");
    if (kek == null) {
      if (!sealed.isMissingNode()) {
        throw new IllegalStateException(key + " holds the CA's keys sealed by replicas started with "
            + "--ca-key-encryption-key (key " + sealed.path("keyId").asText() + "), and this replica has none "
            + "(expected: start it with the same --ca-key-encryption-key FILE as the others)");
      }
      return new Decoded(roots, known, former, null);
    }
    if (sealed.isMissingNode()) {
      throw new IllegalStateException(key + " holds the CA's roots only, published by replicas started without "
          + "--ca-key-encryption-key, so their key is in their --ca-dir and cannot be shared (expected: every "
          + "replica started the same way; to share the key through etcd, stop every replica, delete "
          + store.caKey() + " (etcdctl del " + store.caKey() + ") and start them all with --ca-key-encryption-key "
          + kekFile + " and the --ca-dir holding the current CA: the first one publishes it sealed)");
    }
    String keyId = sealed.path("keyId").asText();
    if (!keyId.equals(kek.id())) {
      throw new IllegalStateException(key + " holds the CA's keys sealed with key-encryption key " + keyId
          + ", but --ca-key-encryption-key " + kekFile + " is key " + kek.id() + " (expected: the same key file "
          + "on every replica: the one the replicas serving now were started with)");
    }
    byte[] plain;
    try {
      plain = kek.open(new KeyEncryptionKey.Sealed(Base64.getDecoder().decode(sealed.path("nonce").asText()),
          Base64.getDecoder().decode(sealed.path("ciphertext").asText())), associatedData());
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IllegalStateException(key + ": the sealed keys do not decrypt with --ca-key-encryption-key "
          + kekFile + " (key " + kek.id() + "): the value was changed or copied from another prefix (expected: "
          + "the value a Meshlet replica wrote there)");
    }
    CertificateAuthority.State state;
    try {
      JsonNode s = JSON.readTree(plain);
      state = new CertificateAuthority.State(
          Pem.parseKey(s.path("key").asText(), key + ": key"),
          Pem.parseCertificate(s.path("root").asText(), key + ": root"),
          s.has("nextKey") ? Pem.parseKey(s.path("nextKey").asText(), key + ": nextKey") : null,
          s.has("nextRoot") ? Pem.parseCertificate(s.path("nextRoot").asText(), key + ": nextRoot")
              : null,
          s.has("switchAt") ? Instant.parse(s.path("switchAt").asText()) : null,
          s.has("previousRoot")
              ? Pem.parseCertificate(s.path("previousRoot").asText(), key + ": previousRoot") : null,
          s.has("previousUntil") ? Instant.parse(s.path("previousUntil").asText()) : null);
    } catch (RuntimeException e) {
      throw new IllegalStateException(key + ": the sealed CA state is malformed (" + e.getMessage() + ")");
    } finally {
      java.util.Arrays.fill(plain, (byte) 0);
    }
    if (!fingerprints(state.roots()).equals(fingerprints(roots))) {
      throw new IllegalStateException(key + ": the roots in the clear are not the sealed CA's (expected: the "
          + "value a Meshlet replica wrote there)");
    }
    return new Decoded(roots, known, former, state);
  }

  /** Without a key-encryption key: why {@code local}'s roots are not etcd's, if they are not. */
  private Optional<String> differs(CertificateAuthority local, Decoded d) {
    List<X509Certificate> mine = local.state().roots();
    if (new LinkedHashSet<>(fingerprints(mine)).equals(new LinkedHashSet<>(fingerprints(d.roots())))) {
      return Optional.empty();
    }
    return Optional.of("--ca-dir " + caDir + " holds CA roots " + describeAll(mine) + ", but etcd "
        + store.caKey() + " lists " + describeAll(d.roots()) + ", the roots the other replicas sign with "
        + "(expected: the same CA on every replica: copy ca.key and ca.crt from a replica that serves into "
        + caDir + ", or start every replica with the same --ca-key-encryption-key FILE to share the CA "
        + "through etcd)");
  }

  private static String describe(X509Certificate root) {
    return "serial " + root.getSerialNumber().toString(16) + " (sha256 "
        + CertificateAuthority.fingerprint(root).substring(0, 16) + ")";
  }

  private static String describeAll(List<X509Certificate> roots) {
    return roots.stream().map(EtcdCa::describe).toList().toString();
  }

  private static List<String> fingerprints(List<X509Certificate> roots) {
    return roots.stream().map(CertificateAuthority::fingerprint).toList();
  }
}
