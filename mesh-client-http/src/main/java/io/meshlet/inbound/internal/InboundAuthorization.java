package io.meshlet.inbound.internal;

import io.meshlet.MeshClient;
import io.meshlet.identity.SpiffeTls;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inbound check every HTTP server adapter ({@code MeshJetty}, {@code MeshHttpsServerFilter},
 * and any later one) makes on a request, so that all of them read a path alike: normalize the path
 * as Envoy does ({@link RequestPath}), then match the service's authorization on it.
 *
 * <p>An adapter hands the application the {@link Allowed#rawPath() normalized path} when it
 * differs from the one sent, as Envoy forwards the normalized path: the application must see the
 * path the rules saw, or {@code /public/../admin} would pass a rule on {@code /admin} and still
 * reach the application's {@code /admin}.
 *
 * <p>Thread-safe and allocation-light: a path already in normal form is returned as it came.
 */
public final class InboundAuthorization {

  private static final Logger log = LoggerFactory.getLogger(InboundAuthorization.class);

  private InboundAuthorization() {}

  /** What to do with a request. */
  public sealed interface Decision permits Allowed, Refused {}

  /**
   * The request may go on.
   *
   * @param rawPath the normalized path, percent-encoded: what the application is handed
   * @param rewritten whether it differs from the path the request sent, so the adapter must hand it on
   */
  public record Allowed(String rawPath, boolean rewritten) implements Decision {}

  /**
   * The request is refused: 400 for a path that cannot be normalized safely, 403 for a caller the
   * authorization does not allow. Both are logged at WARN; 403s are counted as denied.
   *
   * @param status the HTTP status to answer
   * @param message the body to answer, one line ending in a newline
   */
  public record Refused(int status, String message) implements Decision {}

  /**
   * Checks one request.
   *
   * @param caller the caller's SPIFFE ID from its client certificate, if it has one
   * @param rawPath the path as the request sent it: percent-encoded, without query or fragment
   * @param method the HTTP method
   */
  /**
   * The caller's SPIFFE ID from the certificate chain it presented (the leaf's URI SAN), empty
   * without a chain or without a valid SPIFFE ID: what every server adapter reads its caller with.
   */
  public static Optional<String> caller(X509Certificate[] chain) {
    if (chain == null || chain.length == 0) {
      return Optional.empty();
    }
    try {
      return Optional.of(SpiffeTls.spiffeId(chain[0]));
    } catch (CertificateException e) {
      return Optional.empty();
    }
  }

  public static Decision check(MeshClient mesh, Optional<String> caller, String rawPath, String method) {
    RequestPath path;
    try {
      path = RequestPath.normalize(rawPath);
    } catch (RequestPath.InvalidPathException e) {
      String shown = printable(rawPath);
      log.warn("[{}] refused {} {} on '{}' from {}: bad path: {}", mesh.nodeId(), printable(method), shown,
          mesh.serviceName(), caller.orElse("(no client certificate)"), e.getMessage());
      return new Refused(400, "bad request path " + shown + ": " + e.getMessage() + "\n");
    }
    if (!mesh.authorize(caller, path.decoded(), method)) {
      return new Refused(403, "caller " + caller.orElse("without a client certificate") + " may not call "
          + method + " " + path.decoded() + " on service '" + mesh.serviceName() + "'\n");
    }
    return new Allowed(path.raw(), !path.sameAs(rawPath));
  }

  /** A value from the request as a log line or an answer shows it: printable ASCII, at most 200 characters. */
  static String printable(String value) {
    if (value == null) {
      return "(none)";
    }
    StringBuilder b = new StringBuilder(Math.min(value.length(), 200) + 16);
    for (int i = 0; i < value.length() && i < 200; i++) {
      char c = value.charAt(i);
      b.append(c >= 0x20 && c < 0x7F ? String.valueOf(c) : String.format("\\u%04x", (int) c));
    }
    if (value.length() > 200) {
      b.append("... (").append(value.length()).append(" characters)");
    }
    return b.toString();
  }
}
