package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;
import io.meshlet.inbound.MeshServletFilter;
import io.meshlet.inbound.internal.InboundAuthorization;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;
import org.springframework.core.Ordered;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.http.server.reactive.SslInfo;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * Inbound authorization for a WebFlux service, the reactive twin of {@link MeshServletFilter}: the
 * caller's SPIFFE ID is read from its TLS client certificate ({@link ServerHttpRequest#getSslInfo()})
 * and checked against the service's authorization in the mesh config, on the request's path
 * normalized as Envoy does, by the same {@link InboundAuthorization} check every other server makes.
 *
 * <ul>
 *   <li>Allowed calls go on with the caller's ID in the exchange attribute {@value #CALLER_ATTRIBUTE}
 *       (absent for a caller without a client certificate), and the normalized path when it differs
 *       from the one sent.
 *   <li>Callers the authorization does not allow get 403 with {@code x-meshlet-denied: true}, and are
 *       logged and counted ({@code meshlet.server.denied}); a path that cannot be normalized safely
 *       gets 400.
 * </ul>
 *
 * <p>Right after {@link MeshletInboundGate}, ahead of every filter of the application and of Spring.
 * Nothing here blocks: the check reads the mesh client's current snapshot. Thread-safe.
 */
final class MeshletAuthorizationWebFilter implements WebFilter, Ordered {

  /** The exchange attribute holding the caller's SPIFFE ID: the servlet side's request attribute, by the same name. */
  static final String CALLER_ATTRIBUTE = MeshServletFilter.CALLER_ATTRIBUTE;

  /** Right after the gate. */
  static final int ORDER = Ordered.HIGHEST_PRECEDENCE + 1;

  private final MeshClient mesh;

  MeshletAuthorizationWebFilter(MeshClient mesh) {
    this.mesh = Objects.requireNonNull(mesh, "mesh");
  }

  /** The SPIFFE ID of a request's caller, when it presented a client certificate with one. */
  static Optional<String> caller(ServerHttpRequest request) {
    SslInfo tls = request.getSslInfo();
    return InboundAuthorization.caller(tls == null ? null : tls.getPeerCertificates());
  }

  @Override
  public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
    ServerHttpRequest request = exchange.getRequest();
    Optional<String> caller = caller(request);
    // The raw path, still percent-encoded, without the query: the one reading the shared check normalizes.
    InboundAuthorization.Decision decision = InboundAuthorization.check(mesh, caller,
        request.getURI().getRawPath(), request.getMethod().name());
    if (decision instanceof InboundAuthorization.Refused refused) {
      ServerHttpResponse response = exchange.getResponse();
      response.setStatusCode(HttpStatusCode.valueOf(refused.status()));
      if (refused.status() == 403) {
        response.getHeaders().set("x-meshlet-denied", "true");
      }
      response.getHeaders().setContentType(new MediaType(MediaType.TEXT_PLAIN, StandardCharsets.UTF_8));
      DataBuffer body = response.bufferFactory().wrap(refused.message().getBytes(StandardCharsets.UTF_8));
      return response.writeWith(Mono.just(body));
    }
    InboundAuthorization.Allowed allowed = (InboundAuthorization.Allowed) decision;
    caller.ifPresent(id -> exchange.getAttributes().put(CALLER_ATTRIBUTE, id));
    if (allowed.rewritten()) {
      // The application sees the path the rules saw, as Envoy forwards the normalized path.
      return chain.filter(exchange.mutate().request(r -> r.path(allowed.rawPath())).build());
    }
    return chain.filter(exchange);
  }

  @Override
  public int getOrder() {
    return ORDER;
  }
}
