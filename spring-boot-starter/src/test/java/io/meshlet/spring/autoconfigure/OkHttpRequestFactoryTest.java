package io.meshlet.spring.autoconfigure;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.client.RestClient;

/** Spring's RestClient over OkHttp through {@link OkHttpRequestFactory}: methods, bodies, headers, statuses. */
class OkHttpRequestFactoryTest {

  static WireMockServer server;
  static OkHttpClient okHttp;
  static RestClient rest;

  @BeforeAll
  static void start() {
    server = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    server.start();
    okHttp = new OkHttpClient();
    rest = RestClient.builder().requestFactory(new OkHttpRequestFactory(okHttp))
        .baseUrl("http://127.0.0.1:" + server.port()).build();
  }

  @AfterAll
  static void stop() {
    okHttp.dispatcher().executorService().shutdownNow();
    okHttp.connectionPool().evictAll();
    server.stop();
  }

  @Test
  void postsABodyWithItsTypeAndReadsStatusHeadersAndBody() {
    server.stubFor(post(urlEqualTo("/items?x=1")).willReturn(aResponse().withStatus(201)
        .withHeader("x-reply", "a").withHeader("Content-Type", "application/json").withBody("{\"id\":7}")));

    ResponseEntity<String> r = rest.post().uri("/items?x=1").contentType(MediaType.APPLICATION_JSON)
        .header("x-one", "1").body("{\"name\":\"pen\"}").retrieve().toEntity(String.class);

    assertThat(r.getStatusCode()).isEqualTo(HttpStatus.CREATED);
    assertThat(r.getHeaders().getFirst("x-reply")).isEqualTo("a");
    assertThat(r.getBody()).isEqualTo("{\"id\":7}");
    server.verify(postRequestedFor(urlEqualTo("/items?x=1"))
        .withHeader("Content-Type", equalTo("application/json"))
        .withHeader("Content-Length", equalTo("14"))
        .withHeader("x-one", equalTo("1"))
        .withRequestBody(equalTo("{\"name\":\"pen\"}")));
  }

  @Test
  void errorStatusesReachSpringsErrorHandling() {
    server.stubFor(get(urlEqualTo("/missing")).willReturn(aResponse().withStatus(404).withBody("no such item")));

    ResponseEntity<String> r = rest.get().uri("/missing").retrieve()
        .onStatus(s -> true, (req, resp) -> { })
        .toEntity(String.class);

    assertThat(r.getStatusCode()).isEqualTo(HttpStatus.NOT_FOUND);
    assertThat(r.getBody()).isEqualTo("no such item");
  }

  @Test
  void anEmptyPostStillSendsABody() {
    server.stubFor(post(urlEqualTo("/ping")).willReturn(aResponse().withStatus(204)));

    ResponseEntity<Void> r = rest.post().uri("/ping").retrieve().toBodilessEntity();

    assertThat(r.getStatusCode()).isEqualTo(HttpStatus.NO_CONTENT);
    server.verify(postRequestedFor(urlEqualTo("/ping")).withHeader("Content-Length", equalTo("0")));
  }
}
