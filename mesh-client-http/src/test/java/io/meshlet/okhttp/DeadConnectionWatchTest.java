package io.meshlet.okhttp;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import java.util.ArrayList;
import java.util.List;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link DeadConnectionWatch} sees the exchanges of the send its thread is watching, for that
 * send's call only: a call made on the same thread inside the watched send's chain is not
 * counted as the watched send's exchange.
 */
class DeadConnectionWatchTest {

  private final WireMockServer server = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
  private final List<DeadConnectionWatch.Send> sends = new ArrayList<>();
  private OkHttpClient client;
  private OkHttpClient outside;

  @BeforeEach
  void start() {
    server.start();
    server.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("ok")));
    // An application interceptor that watches its sends as MeshOkHttpInterceptor does, and on
    // request makes another call on the same thread inside the watched send (after watch, before
    // proceed).
    client = new OkHttpClient.Builder()
        .addInterceptor(chain -> {
          DeadConnectionWatch.Send send = DeadConnectionWatch.watch(chain.call());
          try {
            String nested = chain.request().header("x-nested");
            if (nested != null) {
              // "watched": through this client, so watched too; "outside": a client without this
              // interceptor (a call outside the mesh) that shares the network interceptor.
              OkHttpClient via = nested.equals("watched") ? client : outside;
              try (Response r = via.newCall(new Request.Builder().url(url("/nested")).build()).execute()) {
                assertThat(r.code()).isEqualTo(200);
              }
            }
            return chain.proceed(chain.request());
          } finally {
            send.end();
            sends.add(send);
          }
        })
        .addNetworkInterceptor(new DeadConnectionWatch())
        .build();
    OkHttpClient.Builder b = client.newBuilder();
    b.interceptors().clear();
    outside = b.build();
  }

  @AfterEach
  void stop() {
    client.connectionPool().evictAll();
    server.stop();
  }

  private String url(String path) {
    return "http://127.0.0.1:" + server.port() + path;
  }

  private void call(Request request) throws Exception {
    try (Response r = client.newCall(request).execute()) {
      assertThat(r.body().string()).isEqualTo("ok");
    }
  }

  @Test
  void aSendOnAPooledConnectionIsSeenAsReused() throws Exception {
    call(new Request.Builder().url(url("/a")).build());
    call(new Request.Builder().url(url("/b")).build());
    assertThat(sends).hasSize(2);
    assertThat(sends.get(0).exchanges()).isEqualTo(1);
    assertThat(sends.get(0).reused()).isFalse();
    assertThat(sends.get(1).exchanges()).isEqualTo(1);
    assertThat(sends.get(1).reused()).isTrue();
  }

  @Test
  void aWatchedNestedCallIsWatchedOnItsOwnThenTheOuterSendAgain() throws Exception {
    call(new Request.Builder().url(url("/outer")).header("x-nested", "watched").build());
    // The nested call's send ended first, then the outer one: one exchange each.
    assertThat(sends).hasSize(2);
    assertThat(sends).allSatisfy(s -> assertThat(s.exchanges()).isEqualTo(1));
  }

  @Test
  void anUnwatchedNestedCallIsNotTheWatchedSendsExchange() throws Exception {
    call(new Request.Builder().url(url("/outer")).header("x-nested", "outside").build());
    assertThat(sends).hasSize(1);
    assertThat(sends.get(0).exchanges()).isEqualTo(1);
    assertThat(server.getAllServeEvents()).hasSize(2);
  }
}
