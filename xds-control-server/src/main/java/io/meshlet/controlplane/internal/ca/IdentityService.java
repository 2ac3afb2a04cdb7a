package io.meshlet.controlplane.internal.ca;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.meshlet.identity.v1.IdentityServiceGrpc;
import io.meshlet.identity.v1.SignRequest;
import io.meshlet.identity.v1.SignResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gRPC face of the CA: a workload sends its service name, its join token and a CSR; it gets
 * back a certificate for its service's SPIFFE ID and the trust bundle.
 *
 * <p>Join tokens are the embedded default authentication: one secret per service, compared in
 * constant time, never logged. A stronger attestation (Kubernetes service account tokens, cloud
 * instance identity) would replace {@link #authenticate} and keep the rest.
 */
public final class IdentityService extends IdentityServiceGrpc.IdentityServiceImplBase {

  private static final Logger log = LoggerFactory.getLogger(IdentityService.class);
  /** Larger CSRs are refused before parsing. */
  static final int MAX_CSR_BYTES = 16 * 1024;

  private final CertificateAuthority ca;
  private final Map<String, String> joinTokens;
  private final Supplier<Duration> certTtl;
  private final LongAdder signed = new LongAdder();
  private final LongAdder refused = new LongAdder();

  public IdentityService(CertificateAuthority ca, Map<String, String> joinTokens, Supplier<Duration> certTtl) {
    this.ca = ca;
    this.joinTokens = Map.copyOf(joinTokens);
    this.certTtl = certTtl;
  }

  public long signed() {
    return signed.sum();
  }

  public long refused() {
    return refused.sum();
  }

  @Override
  public void sign(SignRequest request, StreamObserver<SignResponse> response) {
    String service = request.getService();
    if (!io.meshlet.controlplane.internal.serving.Peer.current().tls()) {
      // The token would have crossed the network in the clear: refuse it, even if it is right.
      refuse(response, Status.FAILED_PRECONDITION, "join tokens are accepted only over TLS (expected: a "
          + "control server without --xds-plaintext, and a client given its trust bundle)");
      return;
    }
    if (service.isEmpty()) {
      refuse(response, Status.INVALID_ARGUMENT, "service: '' (expected: the name of the service asking)");
      return;
    }
    if (!authenticate(service, request.getJoinToken())) {
      refuse(response, Status.PERMISSION_DENIED, "service '" + service + "': join_token: not valid "
          + "(expected: the join token configured for this service)");
      return;
    }
    if (request.getCsrDer().size() > MAX_CSR_BYTES) {
      refuse(response, Status.INVALID_ARGUMENT, "service '" + service + "': csr: " + request.getCsrDer().size()
          + " bytes (expected: at most " + MAX_CSR_BYTES + ")");
      return;
    }
    Optional<String> suspended = ca.suspended();
    if (suspended.isPresent()) {
      refuse(response, Status.UNAVAILABLE, "the CA of this control server does not sign now: " + suspended.get()
          + " (expected: another control server)");
      return;
    }
    try {
      X509Certificate cert = ca.sign(service, request.getCsrDer().toByteArray(), certTtl.get());
      signed.increment();
      SignResponse.Builder b = SignResponse.newBuilder()
          .addCertificateChainDer(ByteString.copyFrom(cert.getEncoded()))
          .setSpiffeId(ca.spiffeId(service));
      for (X509Certificate root : ca.trustBundle()) {
        b.addTrustBundleDer(ByteString.copyFrom(root.getEncoded()));
      }
      response.onNext(b.build());
      response.onCompleted();
    } catch (CertificateAuthority.RefusedException e) {
      refuse(response, Status.INVALID_ARGUMENT, "service '" + service + "': " + e.getMessage());
    } catch (CertificateAuthority.SuspendedException e) {
      refuse(response, Status.UNAVAILABLE, "the CA of this control server does not sign now: " + e.getMessage()
          + " (expected: another control server)");
    } catch (CertificateEncodingException e) {
      response.onError(Status.INTERNAL.withDescription("cannot encode the certificate").asRuntimeException());
    }
  }

  private boolean authenticate(String service, String token) {
    String expected = joinTokens.get(service);
    return expected != null && MessageDigest.isEqual(
        expected.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8));
  }

  private void refuse(StreamObserver<SignResponse> response, Status status, String message) {
    refused.increment();
    log.warn("refused a certificate request: {}", message);
    response.onError(status.withDescription(message).asRuntimeException());
  }
}
