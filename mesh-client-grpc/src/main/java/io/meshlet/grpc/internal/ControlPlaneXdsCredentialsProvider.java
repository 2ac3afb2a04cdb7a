package io.meshlet.grpc.internal;

import io.grpc.ChannelCredentials;
import io.grpc.xds.XdsCredentialsProvider;
import io.meshlet.identity.ControlPlaneTls;
import io.meshlet.identity.FileIdentitySource;
import io.meshlet.identity.WorkloadIdentity;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The channel credentials grpc-java's xDS client reaches the Meshlet control server with, named
 * {@value #NAME} in the bootstrap's {@code channel_creds}: TLS checked against the trust bundle in
 * {@code ca_certificate_file} and the control server's SPIFFE ID, presenting the workload SVID in
 * {@code certificate_file} and {@code private_key_file} once they exist; the same checks as
 * {@link ControlPlaneTls} for the Meshlet client's own xDS stream. The files are read at each
 * handshake, so a rotation reaches the next connection.
 *
 * <p>Why our own: grpc-java's {@code tls} channel credentials (gRFC A65) ignore their config up to
 * at least 1.85 ({@code TlsXdsCredentialsProvider} returns {@code TlsChannelCredentials.create()}),
 * so they trust the JDK's public roots and never the control server's CA, and present no client
 * certificate. {@link XdsCredentialsProvider} is grpc-xds's {@code @Internal} service-loader SPI;
 * {@code MeshletGrpcIT} and {@code MeshletGrpcServerIT} (spring-boot-starter) fail loudly if a
 * grpc-java upgrade changes it.
 */
public final class ControlPlaneXdsCredentialsProvider extends XdsCredentialsProvider {

  /** The {@code channel_creds} type in the bootstrap. */
  public static final String NAME = "meshlet_control_plane_tls";

  @Override
  protected ChannelCredentials newChannelCredentials(Map<String, ?> config) {
    Object ca = config == null ? null : config.get("ca_certificate_file");
    if (!(ca instanceof String bundle)) {
      return null;    // grpc-java then refuses the bootstrap: no usable channel_creds
    }
    Object cert = config.get("certificate_file");
    Object key = config.get("private_key_file");
    Supplier<WorkloadIdentity> identity = cert instanceof String c && key instanceof String k
        ? new IdentityFiles(Path.of(c), Path.of(k), Path.of(bundle)) : null;
    return ControlPlaneTls.channelCredentials(Path.of(bundle), identity);
  }

  @Override
  protected String getName() {
    return NAME;
  }

  @Override
  public boolean isAvailable() {
    return true;
  }

  @Override
  public int priority() {
    return 5;
  }

  /** The workload SVID in certificate files, read again when they change; null until they exist. */
  private static final class IdentityFiles implements Supplier<WorkloadIdentity> {
    private final Path certificate;
    private final FileIdentitySource files;

    IdentityFiles(Path certificate, Path key, Path bundle) {
      this.certificate = certificate;
      // Never started: reload() below reads the files when a handshake asks for the identity.
      this.files = new FileIdentitySource(certificate, key, bundle, Clock.systemUTC());
    }

    @Override
    public WorkloadIdentity get() {
      if (Files.exists(certificate)) {    // not written yet: no certificate to present, and no warning
        files.reload();
      }
      return files.current();
    }
  }
}
