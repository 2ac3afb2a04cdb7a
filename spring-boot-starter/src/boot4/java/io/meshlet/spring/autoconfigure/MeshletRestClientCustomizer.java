package io.meshlet.spring.autoconfigure;

import okhttp3.OkHttpClient;
import org.springframework.boot.restclient.RestClientCustomizer;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.web.client.RestClient;

/**
 * Sets the {@code RestClient.Builder}'s request factory to an {@link OkHttpRequestFactory} over the
 * mesh-aware {@link OkHttpClient}, so that {@code http://<service>/...} goes through the mesh. Ordered
 * first, so that customizers of the application run after it and may change the request factory again.
 */
@Order(Ordered.HIGHEST_PRECEDENCE)
public final class MeshletRestClientCustomizer implements RestClientCustomizer {
  private final OkHttpRequestFactory factory;

  public MeshletRestClientCustomizer(OkHttpClient okHttp) {
    this.factory = new OkHttpRequestFactory(okHttp);
  }

  @Override
  public void customize(RestClient.Builder builder) {
    builder.requestFactory(factory);
  }
}
