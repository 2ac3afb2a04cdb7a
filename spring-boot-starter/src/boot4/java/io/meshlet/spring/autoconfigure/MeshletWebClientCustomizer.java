package io.meshlet.spring.autoconfigure;

import okhttp3.OkHttpClient;
import org.springframework.boot.webclient.WebClientCustomizer;
import org.springframework.core.Ordered;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * Sets the connector of every {@code WebClient} the auto-configured {@code WebClient.Builder} builds
 * to an {@link OkHttpClientHttpConnector} over the mesh-aware {@code OkHttpClient}, so that
 * {@code http://<service>/...} gets the mesh's routing, retries, timeouts, breaker, ejection and mTLS,
 * with every policy step on OkHttp's dispatcher threads. Ordered first: a later customizer may still
 * set another connector.
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

  @Override
  public int getOrder() {
    return Ordered.HIGHEST_PRECEDENCE;
  }
}
