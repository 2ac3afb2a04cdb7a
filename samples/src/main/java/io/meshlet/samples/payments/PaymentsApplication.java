package io.meshlet.samples.payments;

import io.meshlet.samples.SampleApps;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.web.embedded.netty.NettyReactiveWebServerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.publisher.Mono;

/**
 * A WebFlux service on Reactor Netty that is in the mesh (it has its own identity,
 * {@code spiffe://example.org/service/payments}) but is not allowed to call the catalog:
 * {@code GET /peek} tries {@code http://catalog/items} with a {@link WebClient} from the starter's
 * {@code WebClient.Builder} (the mesh's routing and mTLS, no blocking on the event loop) and reports
 * what came back, which mesh.yaml's {@code authorization} on the catalog makes a 403.
 */
@SpringBootApplication
public class PaymentsApplication {

  public static void main(String[] args) {
    SampleApps.run(PaymentsApplication.class, "payments", args);
  }

  /** Reactor Netty: the samples' jar has Jetty too, which Boot would otherwise pick for WebFlux. */
  @Bean
  NettyReactiveWebServerFactory nettyReactiveWebServerFactory() {
    return new NettyReactiveWebServerFactory();
  }

  @RestController
  static class Peek {

    private final WebClient catalog;

    Peek(WebClient.Builder web) {
      this.catalog = web.baseUrl("http://catalog").build();
    }

    @GetMapping("/peek")
    Mono<Map<String, Object>> peek() {
      return catalog.get().uri("/items").exchangeToMono(response -> response.bodyToMono(String.class)
              .defaultIfEmpty("")
              .map(body -> {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("status", response.statusCode().value());
                result.put("denied", response.headers().asHttpHeaders().getFirst("x-meshlet-denied"));
                result.put("body", body);
                return result;
              }))
          .onErrorResume(e -> Mono.just(Map.of("error", String.valueOf(e.getMessage()))));
    }
  }
}
