package io.meshlet.grpc.internal;

import io.grpc.ChannelCredentials;
import io.grpc.xds.XdsCredentialsProvider;
import io.meshlet.internal.spiffe.ControlPlaneTls;
import io.meshlet.identity.FileIdentitySource;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code meshlet_tls} channel credentials of grpc-java's xDS bootstrap: TLS to the control
 * server, checked against Meshlet's trust bundle file and the control server's SPIFFE ID, with
 * the workload's SVID files presented (mTLS) when given.
 *
 * <p>Why our own, on an {@code @Internal} grpc-xds type: grpc-java 1.85.1's {@code tls}
 * bootstrap credentials ignore their config ({@code TlsXdsCredentialsProvider} returns
 * {@code TlsChannelCredentials.create()}, the JVM's default trust store), so a control server
 * with its own CA could not be trusted without changing the trust of the whole JVM. Newer
 * grpc-java reads {@code ca_certificate_file} (gRFC A65); the bootstrap lists {@code tls} second,
 * with that config, for them. Guarded by {@code GrpcMtlsIT} and {@code GrpcJavaImpostorIT}: if
 * grpc-java drops this SPI, they fail.
 */
public final class MeshletTlsXdsCredentialsProvider extends XdsCredentialsProvider {

  /** The credentials type name in the bootstrap. */
  public static final String NAME = "meshlet_tls";

  private static final Logger log = LoggerFactory.getLogger(MeshletTlsXdsCredentialsProvider.class);

  @Override
  protected ChannelCredentials newChannelCredentials(Map<String, ?> config) {
    if (config == null || !(config.get("trust_bundle_file") instanceof String trustBundle)) {
      log.error("xDS bootstrap: {} channel_creds need config.trust_bundle_file", NAME);
      return null;
    }
    FileIdentitySource identity = null;
    if (config.get("certificate_file") instanceof String cert && config.get("private_key_file") instanceof String key
        && config.get("ca_file") instanceof String ca) {
      identity = new FileIdentitySource(Path.of(cert), Path.of(key), Path.of(ca), Clock.systemUTC())
          .start(Duration.ofSeconds(1));
    }
    return ControlPlaneTls.channelCredentials(Path.of(trustBundle), identity == null ? null : identity::current);
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
}
