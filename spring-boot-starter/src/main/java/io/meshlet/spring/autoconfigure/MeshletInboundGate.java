package io.meshlet.spring.autoconfigure;

import java.nio.charset.StandardCharsets;
import org.springframework.core.Ordered;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * The WebFlux filter that answers 503, with what to change, while {@link MeshletInboundGuard} does
 * not let requests through: before the first config, and while the mesh asks a reactive service for
 * an inbound policy the starter cannot enforce there. First of every filter; never blocks.
 */
final class MeshletInboundGate implements WebFilter, Ordered {

  private final MeshletInboundGuard guard;

  MeshletInboundGate(MeshletInboundGuard guard) {
    this.guard = guard;
  }

  @Override
  public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
    MeshletInboundGuard.Verdict v = guard.verdict();
    if (v.serving()) {
      return chain.filter(exchange);
    }
    ServerHttpResponse response = exchange.getResponse();
    response.setStatusCode(HttpStatus.SERVICE_UNAVAILABLE);
    response.getHeaders().setContentType(MediaType.TEXT_PLAIN);
    DataBuffer body = response.bufferFactory()
        .wrap((v.problem() + ": " + v.action() + "\n").getBytes(StandardCharsets.UTF_8));
    return response.writeWith(Mono.just(body));
  }

  @Override
  public int getOrder() {
    return Ordered.HIGHEST_PRECEDENCE;
  }
}
