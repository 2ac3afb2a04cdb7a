package io.meshlet.inbound;

import io.meshlet.internal.wire.WireNames;
import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsExchange;
import io.meshlet.MeshClient;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.inbound.internal.InboundAuthorization;
import io.meshlet.inbound.internal.RewrittenExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Inbound authorization for a service served by the JDK's {@code HttpsServer} with a Meshlet
 * SVID ({@link SpiffeTls#context}): the caller's SPIFFE ID is read from its client certificate and
 * checked against the service's allow list in the mesh config. Allowed calls go on with the
 * caller's ID in the exchange attribute {@value #CALLER_ATTRIBUTE}; others get 403 with the header
 * {@code x-meshlet-denied: true}.
 *
 * <p>Rules match the request's path normalized as Envoy does (dot segments resolved, slashes
 * merged, unreserved characters decoded); a path that cannot be normalized safely (an encoded
 * slash, a {@code ..} above the root, a bad percent-encoding, a {@code ;}, a backslash) gets 400.
 * When the normalized path differs from the one sent, the handler is given an exchange whose
 * {@link HttpExchange#getRequestURI()} is the normalized one. Add the filter to every context.
 *
 * <pre>{@code
 * HttpsServer server = HttpsServer.create(address, 0);
 * server.setHttpsConfigurator(...SpiffeTls.context(identity::current, SpiffeTls.allowAny())...);
 * server.createContext("/", handler).getFilters().add(new MeshHttpsServerFilter(mesh));
 * }</pre>
 */
public final class MeshHttpsServerFilter extends Filter {

  /** The exchange attribute holding the caller's SPIFFE ID, when it has one. */
  public static final String CALLER_ATTRIBUTE = "meshlet.caller";

  private final MeshClient mesh;

  public MeshHttpsServerFilter(MeshClient mesh) {
    this.mesh = mesh;
  }

  @Override
  public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
    Optional<String> caller = exchange instanceof HttpsExchange https
        ? SpiffeTls.peerSpiffeId(https.getSSLSession())
        : Optional.empty();
    URI uri = exchange.getRequestURI();
    // The raw path: URI.getPath() decodes %2F into a separator and leaves ".." in place.
    InboundAuthorization.Decision decision =
        InboundAuthorization.check(mesh, caller, uri.getRawPath(), exchange.getRequestMethod());
    if (decision instanceof InboundAuthorization.Refused refused) {
      byte[] body = refused.message().getBytes(StandardCharsets.UTF_8);
      if (refused.status() == 403) {
        exchange.getResponseHeaders().set(WireNames.DENIED_HEADER, "true");
      }
      exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
      exchange.sendResponseHeaders(refused.status(), body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
      return;
    }
    InboundAuthorization.Allowed allowed = (InboundAuthorization.Allowed) decision;
    caller.ifPresent(id -> exchange.setAttribute(CALLER_ATTRIBUTE, id));
    if (allowed.rewritten()) {
      // The application sees the path the rules saw, as Envoy forwards the normalized path.
      String query = uri.getRawQuery();
      chain.doFilter(RewrittenExchange.of(exchange,
          URI.create(allowed.rawPath() + (query == null ? "" : "?" + query))));
      return;
    }
    chain.doFilter(exchange);
  }

  @Override
  public String description() {
    return "Meshlet inbound authorization for service '" + mesh.serviceName() + "'";
  }
}
