package io.meshlet.okhttp;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsExchange;
import io.meshlet.MeshClient;
import io.meshlet.identity.SpiffeTls;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Inbound authorization for a service served by the JDK's {@code HttpsServer} with a Meshlet
 * SVID ({@link SpiffeTls#context}): the caller's SPIFFE ID is read from its client certificate and
 * checked against the service's allow list in the mesh config. Allowed calls go on with the
 * caller's ID in the exchange attribute {@value #CALLER_ATTRIBUTE}; others get 403 with the header
 * {@code x-meshlet-denied: true}.
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
    if (!mesh.authorize(caller, exchange.getRequestURI().getPath(), exchange.getRequestMethod())) {
      byte[] body = ("caller " + caller.orElse("without a client certificate") + " may not call "
          + exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath() + " on service '"
          + mesh.serviceName() + "'\n").getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("x-meshlet-denied", "true");
      exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
      exchange.sendResponseHeaders(403, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
      return;
    }
    caller.ifPresent(id -> exchange.setAttribute(CALLER_ATTRIBUTE, id));
    chain.doFilter(exchange);
  }

  @Override
  public String description() {
    return "Meshlet inbound authorization for service '" + mesh.serviceName() + "'";
  }
}
