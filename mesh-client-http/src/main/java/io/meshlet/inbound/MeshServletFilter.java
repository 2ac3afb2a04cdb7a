package io.meshlet.inbound;

import io.meshlet.internal.wire.WireNames;
import io.meshlet.MeshClient;
import io.meshlet.inbound.internal.InboundAuthorization;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.Objects;
import java.util.Optional;

/**
 * Inbound authorization for an HTTP service on any servlet container (Tomcat, Undertow, Jetty's
 * servlet layer): the caller's SPIFFE ID is read from its TLS client certificate (the request
 * attribute {@value #CERTIFICATES_ATTRIBUTE} the container sets) and checked against the service's
 * authorization in the mesh config, on the request's path normalized as Envoy does, by the same
 * check {@link MeshJetty#inbound} and {@link MeshHttpsServerFilter} make.
 *
 * <ul>
 *   <li>Allowed calls go on with the caller's ID in the request attribute {@value #CALLER_ATTRIBUTE}
 *       (absent for a caller without a client certificate). When the normalized path differs from
 *       the one sent, the rest of the chain sees the normalized one as {@code getRequestURI()}.
 *   <li>Callers the authorization does not allow get 403, the header {@code x-meshlet-denied: true},
 *       and are logged and counted ({@code meshlet.server.denied}). A caller without a client
 *       certificate (plaintext, or TLS without client authentication) has no SPIFFE ID: a service
 *       with an allow list refuses it.
 *   <li>A path that cannot be normalized safely gets 400.
 * </ul>
 *
 * <p>This filter authorizes; it does not make the container take mTLS. The container's own TLS
 * settings decide whether callers present certificates (the Spring Boot starter refuses to start a
 * container it cannot put under the mesh's mTLS while the mesh asks for it). Register it first, on
 * every request ({@code /*}), ahead of any filter that reads the path. Thread-safe.
 *
 * <pre>{@code
 * FilterRegistration.Dynamic inbound = servletContext.addFilter("meshlet", new MeshServletFilter(mesh));
 * inbound.addMappingForUrlPatterns(EnumSet.allOf(DispatcherType.class), false, "/*");
 * }</pre>
 */
public final class MeshServletFilter implements Filter {

  /** The request attribute holding the caller's SPIFFE ID, when it called with a client certificate. */
  public static final String CALLER_ATTRIBUTE = MeshHttpsServerFilter.CALLER_ATTRIBUTE;

  /** The request attribute a servlet container sets to the TLS client's certificate chain (Servlet spec 3.9). */
  public static final String CERTIFICATES_ATTRIBUTE = "jakarta.servlet.request.X509Certificate";

  private final MeshClient mesh;

  public MeshServletFilter(MeshClient mesh) {
    this.mesh = Objects.requireNonNull(mesh, "mesh");
  }

  /** The SPIFFE ID of a request's caller, when it presented a client certificate with one. */
  public static Optional<String> caller(ServletRequest request) {
    return InboundAuthorization.caller(request.getAttribute(CERTIFICATES_ATTRIBUTE) instanceof X509Certificate[] chain
        ? chain : null);
  }

  @Override
  public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    if (!(req instanceof HttpServletRequest request) || !(res instanceof HttpServletResponse response)) {
      chain.doFilter(req, res);
      return;
    }
    Optional<String> caller = caller(request);
    // getRequestURI() is the path as sent, still percent-encoded, without the query: the raw path the
    // shared check normalizes once. The container's own decoded reading (servlet path, path info) would
    // be yet another one (Tomcat cuts ";" parameters and resolves "/..;/").
    String rawPath = request.getRequestURI();
    InboundAuthorization.Decision decision =
        InboundAuthorization.check(mesh, caller, rawPath, request.getMethod());
    if (decision instanceof InboundAuthorization.Refused refused) {
      response.resetBuffer();
      response.setStatus(refused.status());
      if (refused.status() == 403) {
        response.setHeader(WireNames.DENIED_HEADER, "true");
      }
      byte[] body = refused.message().getBytes(StandardCharsets.UTF_8);
      response.setContentType("text/plain; charset=utf-8");
      response.setContentLength(body.length);
      response.getOutputStream().write(body);
      response.flushBuffer();
      return;
    }
    InboundAuthorization.Allowed allowed = (InboundAuthorization.Allowed) decision;
    caller.ifPresent(id -> request.setAttribute(CALLER_ATTRIBUTE, id));
    if (allowed.rewritten()) {
      // The application sees the path the rules saw, as Envoy forwards the normalized path. The
      // container has mapped the request already, on its own normalization, which agrees with this
      // one for every path the check lets through (it refuses ";", "%2F", "\" and ".." above the root).
      chain.doFilter(new NormalizedRequest(request, allowed.rawPath()), response);
      return;
    }
    chain.doFilter(request, response);
  }

  /** A request whose {@code getRequestURI()} is the normalized path. */
  private static final class NormalizedRequest extends HttpServletRequestWrapper {
    private final String uri;

    NormalizedRequest(HttpServletRequest request, String uri) {
      super(request);
      this.uri = uri;
    }

    @Override
    public String getRequestURI() {
      return uri;
    }

    @Override
    public StringBuffer getRequestURL() {
      StringBuffer url = new StringBuffer();
      url.append(getScheme()).append("://").append(getServerName());
      int port = getServerPort();
      if (port > 0 && !(("http".equals(getScheme()) && port == 80) || ("https".equals(getScheme()) && port == 443))) {
        url.append(':').append(port);
      }
      return url.append(uri);
    }
  }
}
