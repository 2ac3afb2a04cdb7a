package io.meshlet.internal.spiffe;

import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.identity.WorkloadIdentity;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * TLS between workloads and the Meshlet control server (xDS and the CA's identity API).
 *
 * <p>The control server presents a certificate from its own CA with the SPIFFE ID
 * {@code spiffe://<trust domain>/meshlet/control-server} (and the DNS names and addresses it is
 * reached by, for clients such as grpc-java that check host names). A workload checks it against
 * a trust bundle file (the CA's roots, PEM, written by the control server, see
 * {@code serve --ca-dir}) and that SPIFFE ID: a server with a certificate from another CA, or
 * another workload's certificate from the same CA, is refused. Once the workload holds an SVID it
 * presents it, so the stream is mTLS and the server knows which service it speaks to.
 *
 * <p>The file is read again whenever it changes, so a CA rotation reaches clients without a
 * restart.
 */
public final class ControlPlaneTls {

  /** The path of the control server's SPIFFE ID in every trust domain. */
  public static final String CONTROL_SERVER_PATH = "/meshlet/control-server";

  private ControlPlaneTls() {}

  /** The control server's SPIFFE ID in a trust domain. */
  public static String controlServerId(String trustDomain) {
    return SpiffeIds.SCHEME + trustDomain + CONTROL_SERVER_PATH;
  }

  /** Whether a SPIFFE ID names a Meshlet control server (of any trust domain). */
  public static boolean isControlServer(String spiffeId) {
    return spiffeId.startsWith(SpiffeIds.SCHEME)
        && spiffeId.equals(controlServerId(SpiffeIds.trustDomainOf(spiffeId)));
  }

  /**
   * Credentials for channels to control servers: TLS, the server checked against the roots in
   * {@code trustBundle} and required to be a control server; {@code identity}'s SVID presented
   * when it has one (it may return null until the workload has its first certificate).
   */
  public static ChannelCredentials channelCredentials(Path trustBundle, Supplier<WorkloadIdentity> identity) {
    TrustBundleFile bundle = new TrustBundleFile(trustBundle);
    return TlsChannelCredentials.newBuilder()
        .keyManager(SpiffeTls.keyManager(identity == null ? () -> null : identity))
        .trustManager(SvidTrust.trustManager(bundle::roots, ControlPlaneTls::isControlServer))
        .build();
  }

  /**
   * Reads the certificates of a PEM trust bundle.
   *
   * @throws IOException when the file cannot be read
   * @throws CertificateException when it holds no certificate or one that does not parse
   */
  public static List<X509Certificate> readTrustBundle(Path file) throws IOException, CertificateException {
    byte[] pem = Files.readAllBytes(file);
    List<X509Certificate> out = new ArrayList<>();
    for (var c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem))) {
      out.add((X509Certificate) c);
    }
    if (out.isEmpty()) {
      throw new CertificateException(file + ": no certificate (expected: the control server's trust bundle, PEM)");
    }
    return List.copyOf(out);
  }

  /** A trust bundle file, read again when its modification time or size changes. */
  static final class TrustBundleFile {
    private final Path file;
    private FileTime readAt;
    private long size = -1;
    private SvidTrust.Roots roots;

    TrustBundleFile(Path file) {
      this.file = Objects.requireNonNull(file, "trustBundle");
    }

    synchronized SvidTrust.Roots roots() throws CertificateException {
      try {
        FileTime modified = Files.getLastModifiedTime(file);
        long length = Files.size(file);
        if (roots == null || !modified.equals(readAt) || length != size) {
          roots = new SvidTrust.Roots(readTrustBundle(file), "the control server trust bundle " + file);
          readAt = modified;
          size = length;
        }
        return roots;
      } catch (NoSuchFileException e) {
        throw new CertificateException("trust bundle " + file + " does not exist (expected: the control "
            + "server's trust-bundle.pem, see serve --ca-dir)");
      } catch (IOException e) {
        if (roots != null) {
          return roots;    // a rewrite under way: the last good bundle stands
        }
        throw new CertificateException("trust bundle " + file + ": " + e.getMessage(), e);
      }
    }
  }
}
