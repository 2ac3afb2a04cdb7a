package io.meshlet.spring.autoconfigure;

import okhttp3.OkHttpClient;
import org.springframework.boot.web.reactive.function.client.WebClientCustomizer;
import org.springframework.core.Ordered;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * Sets the connector of every {@code WebClient} the auto-configured {@code WebClient.Builder} builds
 * to an {@link OkHttpClientHttpConnector} over the mesh-aware {@code OkHttpClient}, so that
 * {@code http://<service>/...} gets the mesh's routing, retries, timeouts, breaker, ejection and mTLS,
 * with every policy step on OkHttp's dispatcher threads. Ordered right after Spring Boot's own
 * connector customizer ({@code webClientHttpConnectorCustomizer}, order 0, there whenever a
 * {@code ClientHttpConnector} bean is: Reactor Netty's in any WebFlux application, else the JDK's),
 * which would otherwise replace the mesh's connector; the application's own customizers (default
 * order) still run after it and may set another.
 */
public final class MeshletWebClientCustomizer implements WebClientCustomizer, Ordered {

  private final OkHttpClient okHttp;

  public MeshletWebClientCustomizer(OkHttpClient okHttp) {
    this.okHttp = okHttp;
  }

  @Override
  public void customize(WebClient.Builder builder) {
    builder.clientConnector(new OkHttpClientHttpConnector(okHttp));
  }

  /** After Boot's connector customizer ({@code @Order(0)}), before the application's. */
  static final int ORDER = 1;

  @Override
  public int getOrder() {
    return ORDER;
  }
}
