package io.meshlet.controlplane.internal.ca;

import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.identity.WorkloadIdentity;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control server's own TLS identity, from its own CA: a key made here, a certificate with the
 * SPIFFE ID {@code spiffe://<trust domain>/meshlet/control-server} and the names clients reach it
 * by, renewed at half its lifetime and whenever the CA's roots change (a rotation). It also keeps
 * the trust bundle file that clients verify the server with, rewritten atomically on change.
 *
 * <p>Thread-safe: {@link #current()} is a volatile read; {@link #refresh()} is synchronized.
 */
public final class ServerIdentity {

  private static final Logger log = LoggerFactory.getLogger(ServerIdentity.class);
  static final Duration LIFETIME = Duration.ofHours(24);

  private final CertificateAuthority ca;
  private final List<String> dnsNames;
  private final List<String> ipAddresses;
  private final Path trustBundleFile;
  private final Clock clock;
  private volatile WorkloadIdentity current;
  private List<X509Certificate> bundleAtIssue = List.of();
  private Instant renewAt = Instant.MIN;

  /**
   * @param names the DNS names and IP addresses clients dial this server by, besides
   *     {@code localhost}, {@code 127.0.0.1} and {@code ::1}
   */
  public ServerIdentity(CertificateAuthority ca, List<String> names, Path trustBundleFile, Clock clock) {
    this.ca = ca;
    this.trustBundleFile = trustBundleFile;
    this.clock = clock;
    Set<String> dns = new LinkedHashSet<>(List.of("localhost"));
    Set<String> ips = new LinkedHashSet<>(List.of("127.0.0.1", "::1"));
    for (String n : names) {
      if (isIpLiteral(n)) {
        if (!n.equals("0.0.0.0") && !n.equals("::")) {
          ips.add(n);
        }
      } else {
        dns.add(n);
      }
    }
    this.dnsNames = List.copyOf(dns);
    this.ipAddresses = List.copyOf(ips);
  }

  static boolean isIpLiteral(String name) {
    return name.matches("[0-9.]+") || name.contains(":");
  }

  /** The identity presented now; null before the first {@link #refresh()}. */
  public WorkloadIdentity current() {
    return current;
  }

  /** Where clients read the trust bundle. */
  public Path trustBundleFile() {
    return trustBundleFile;
  }

  /** Issues a new certificate when the current one is half way through its life or the roots changed. */
  public synchronized void refresh() {
    List<X509Certificate> bundle = ca.trustBundle();
    Instant now = clock.instant();
    if (current != null && bundle.equals(bundleAtIssue) && now.isBefore(renewAt)) {
      return;
    }
    try {
      KeyPair pair = CertificateAuthority.newKeyPair();
      X509Certificate cert = ca.issueControlServer(pair.getPublic(), dnsNames, ipAddresses, LIFETIME);
      current = new WorkloadIdentity(ca.controlServerId(), List.of(cert), pair.getPrivate(), bundle);
      renewAt = now.plus(LIFETIME.dividedBy(2));
      if (!bundle.equals(bundleAtIssue)) {
        writeBundle(bundle);
      }
      bundleAtIssue = bundle;
      log.info("control server certificate for {} {} {} (serial {}); trust bundle {} ({} roots)",
          ca.controlServerId(), dnsNames, ipAddresses, cert.getSerialNumber().toString(16), trustBundleFile,
          bundle.size());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot make the control server's key: " + e.getMessage(), e);
    }
  }

  private void writeBundle(List<X509Certificate> bundle) {
    StringBuilder pem = new StringBuilder();
    try {
      for (X509Certificate root : bundle) {
        pem.append(Pem.pem(root));
      }
      Path dir = trustBundleFile.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, ".trust-bundle", ".tmp");
      Files.writeString(tmp, pem, StandardCharsets.US_ASCII);
      Files.move(tmp, trustBundleFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the trust bundle " + trustBundleFile + ": " + e.getMessage(), e);
    }
  }

  /**
   * TLS for the xDS port: this identity presented; a client certificate asked for but not
   * required (a workload without an SVID yet fetches one with its join token), and when given,
   * checked against the CA's roots.
   */
  public ServerCredentials credentials() {
    return TlsServerCredentials.newBuilder()
        .keyManager(SpiffeTls.keyManager(this::current))
        .trustManager(SpiffeTls.trustManager(this::current, SpiffeTls.allowAny()))
        .clientAuth(TlsServerCredentials.ClientAuth.OPTIONAL)
        .build();
  }

  /** The names of this machine, for the certificate, best effort. */
  public static List<String> localNames() {
    List<String> out = new ArrayList<>();
    try {
      out.add(InetAddress.getLocalHost().getHostName());
    } catch (IOException e) {
      // no host name: localhost and loopback addresses remain
    }
    return out;
  }
}
