package io.meshlet.spring.autoconfigure;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.okhttp.MeshOkHttp;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.publisher.Mono;

/**
 * {@code WebClient} through the mesh: a client from the auto-configured {@code WebClient.Builder}
 * sends {@code http://catalog/...} through the mesh-aware OkHttp client with {@code enqueue}, so a
 * header picks subset v2, a 503 from v1 is retried after the route's backoff and a slow answer
 * times out by the route's timeout, against a real control server and WireMock instances. Every try
 * runs on OkHttp's dispatcher threads: none on the thread that subscribed, which stands for a
 * Reactor Netty event loop ({@code reactor-http-nio-...}), and that thread is free again before the
 * retried call ends.
 */
class MeshletWebClientIT {

  @TempDir static Path dir;
  static WireMockServer v1;
  static WireMockServer v2;
  static WireMockServer slow;
  static ControlServer server;
  /** The thread of every try, recorded by a network interceptor (which runs inside the mesh's interceptor). */
  static final List<String> tryThreads = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    v1 = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    v2 = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    slow = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    for (WireMockServer w : new WireMockServer[] {v1, v2, slow}) {
      w.start();
    }
    v2.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("v2")));
    slow.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("late").withFixedDelay(3_000)));
    MeshFile file = new MeshFile(dir).write("""
        trustDomain: example.org
        services:
          catalog:
            endpoints:
              - { address: 127.0.0.1:%d, labels: { version: v1 } }
              - { address: 127.0.0.1:%d, labels: { version: v2 } }
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            routes:
              - match: { pathPrefix: /, headers: { x-canary: "true" } }
                to: [ { subset: v2, weight: 100 } ]
              - match: { pathPrefix: / }
                to: [ { subset: v1, weight: 100 } ]
                retries: { attempts: 3, on: [5xx], backoff: { base: 300ms, max: 300ms } }
          timed:
            endpoints: [ { address: 127.0.0.1:%d } ]
            routes: [ { to: [ {} ], timeout: 300ms } ]
        """.formatted(v1.port(), v2.port(), slow.port()));
    server = ControlServer.builder().configFile(file.path()).xdsPort(0).adminPort(0).xdsPlaintext(true)
        .pollInterval(Duration.ofMillis(100)).build().start();
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
    for (WireMockServer w : new WireMockServer[] {v1, v2, slow}) {
      if (w != null) {
        w.stop();
      }
    }
  }

  /** The application's OkHttp client (the starter's backs off): the mesh's, with a network interceptor recording each try's thread. */
  @org.springframework.context.annotation.Configuration(proxyBeanMethods = false)
  static class Recording {
    @org.springframework.context.annotation.Bean
    OkHttpClient okHttpClient(MeshClient mesh) {
      return MeshOkHttp.client(mesh).newBuilder().addNetworkInterceptor(chain -> {
        tryThreads.add(Thread.currentThread().getName());
        return chain.proceed(chain.request());
      }).build();
    }
  }

  ApplicationContextRunner runner() {
    return new ApplicationContextRunner()
        // With Boot's own connector, as in an application: its customizer (order 0) must not undo the mesh's.
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class,
            BootTestLine.WEB_CLIENT_AUTO_CONFIGURATION, BootTestLine.CLIENT_HTTP_CONNECTOR_AUTO_CONFIGURATION))
        .withUserConfiguration(Recording.class)
        .withPropertyValues("spring.application.name=frontend", "meshlet.control-servers=127.0.0.1:" + server.xdsPort(),
            "meshlet.xds-plaintext=true", "meshlet.await-config-on-startup=true", "meshlet.grpc.enabled=false");
  }

  /** Subscribes on a thread named as Reactor Netty names its event loops; the future completes when subscribe returns. */
  static <T> CompletableFuture<T> subscribeOnAnEventLoopThread(Mono<T> mono, CompletableFuture<Long> subscribeReturned) {
    CompletableFuture<T> result = new CompletableFuture<>();
    new Thread(() -> {
      mono.subscribe(result::complete, result::completeExceptionally);
      subscribeReturned.complete(System.nanoTime());
    }, "reactor-http-nio-7").start();
    return result;
  }

  @Test
  void aWebClientFromTheBuilderIsRoutedRetriedAndTimedOutByTheMeshOffTheEventLoop() {
    v1.stubFor(any(anyUrl()).inScenario("flaky").whenScenarioStateIs(Scenario.STARTED)
        .willReturn(aResponse().withStatus(503)).willSetStateTo("up"));
    v1.stubFor(any(anyUrl()).inScenario("flaky").whenScenarioStateIs("up")
        .willReturn(aResponse().withStatus(200).withBody("v1")));
    runner().run(context -> {
      assertThat(context).hasNotFailed().hasSingleBean(MeshletWebClientCustomizer.class);
      WebClient web = context.getBean(WebClient.Builder.class).build();
      tryThreads.clear();

      // Retried: the 503 from v1, then v1's answer after the route's 300 ms backoff.
      CompletableFuture<Long> subscribed = new CompletableFuture<>();
      long begin = System.nanoTime();
      CompletableFuture<String> retried = subscribeOnAnEventLoopThread(
          web.get().uri("http://catalog/items").retrieve().bodyToMono(String.class), subscribed);
      assertThat(retried.get(10, TimeUnit.SECONDS)).isEqualTo("v1");
      long answered = System.nanoTime();
      assertThat(Duration.ofNanos(answered - begin)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
      // Had a policy step (the try, or the backoff's wait) run on the subscribing thread, subscribe would
      // have returned only after the answer.
      assertThat(subscribed.get(1, TimeUnit.SECONDS)).as("when subscribe returned on the event loop thread")
          .isLessThan(answered - Duration.ofMillis(250).toNanos());
      v1.verify(2, getRequestedFor(urlEqualTo("/items")).withHeader("Host", equalTo("catalog")));

      // Routed: the header picks subset v2.
      assertThat(web.get().uri("http://catalog/items").header("x-canary", "true").retrieve()
          .bodyToMono(String.class).block(Duration.ofSeconds(10))).isEqualTo("v2");
      v2.verify(1, getRequestedFor(urlEqualTo("/items")).withHeader("x-canary", equalTo("true")));

      // Timed out: the route's 300 ms, long before the upstream's 3 s answer.
      long t0 = System.nanoTime();
      CompletableFuture<String> timed = subscribeOnAnEventLoopThread(
          web.get().uri("http://timed/slow").retrieve().bodyToMono(String.class), new CompletableFuture<>());
      assertThat(timed).failsWithin(Duration.ofSeconds(10)).withThrowableThat()
          .satisfies(e -> assertThat(causes(e)).hasAtLeastOneElementOfType(InterruptedIOException.class));
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(2_500));

      assertThat(tryThreads).hasSizeGreaterThanOrEqualTo(4)
          .allSatisfy(t -> assertThat(t).startsWith("OkHttp").doesNotContain("reactor-http-nio"));
    });
  }

  static List<Throwable> causes(Throwable e) {
    List<Throwable> out = new java.util.ArrayList<>();
    for (Throwable t = e; t != null && !out.contains(t); t = t.getCause()) {
      out.add(t);
    }
    return out;
  }
}
