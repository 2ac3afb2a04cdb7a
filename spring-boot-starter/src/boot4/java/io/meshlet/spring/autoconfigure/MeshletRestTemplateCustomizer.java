package io.meshlet.spring.autoconfigure;

import okhttp3.OkHttpClient;
import org.springframework.boot.restclient.RestTemplateCustomizer;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.web.client.RestTemplate;

/**
 * Sets the request factory of every {@code RestTemplate} built by the auto-configured
 * {@code RestTemplateBuilder} to an {@link OkHttpRequestFactory} over the mesh-aware
 * {@link OkHttpClient}, so that {@code http://<service>/...} goes through the mesh: routing, retries,
 * timeouts, breaker, ejection and mTLS. The mesh's timeouts apply; the builder's connect and read
 * timeouts were for the factory this replaces. Ordered first, so that customizers of the application
 * run after it and may change the request factory again. A {@code RestTemplate} made with
 * {@code new RestTemplate()} is the application's own and is not meshed.
 */
@Order(Ordered.HIGHEST_PRECEDENCE)
public final class MeshletRestTemplateCustomizer implements RestTemplateCustomizer {
  private final OkHttpRequestFactory factory;

  public MeshletRestTemplateCustomizer(OkHttpClient okHttp) {
    this.factory = new OkHttpRequestFactory(okHttp);
  }

  @Override
  public void customize(RestTemplate restTemplate) {
    restTemplate.setRequestFactory(factory);
  }
}
