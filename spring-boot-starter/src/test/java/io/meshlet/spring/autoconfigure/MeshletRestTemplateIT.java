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
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.testing.MeshFile;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.http.HttpEntity;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.web.client.RestTemplate;

/**
 * {@code RestTemplate} through the mesh: a template built by the auto-configured
 * {@code RestTemplateBuilder} sends {@code http://catalog/...} through the mesh-aware OkHttp client,
 * so the route a header picks, the subset it names and the retry of a 503 are the mesh's, against a
 * real control server and two WireMock instances of {@code catalog} (v1 and v2).
 */
class MeshletRestTemplateIT {

  @TempDir static Path dir;
  static WireMockServer v1;
  static WireMockServer v2;
  static ControlServer server;

  @BeforeAll
  static void start() throws Exception {
    v1 = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    v2 = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    v1.start();
    v2.start();
    v2.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("v2")));
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
                retries: { attempts: 3, on: [5xx], backoff: { base: 10ms, max: 20ms } }
        """.formatted(v1.port(), v2.port()));
    server = ControlServer.builder().configFile(file.path()).xdsPort(0).adminPort(0).xdsPlaintext(true)
        .pollInterval(Duration.ofMillis(100)).build().start();
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
    for (WireMockServer w : new WireMockServer[] {v1, v2}) {
      if (w != null) {
        w.stop();
      }
    }
  }

  ApplicationContextRunner runner() {
    return new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MeshletAutoConfiguration.class,
            BootTestLine.REST_TEMPLATE_AUTO_CONFIGURATION))
        .withPropertyValues("spring.application.name=frontend", "meshlet.control-servers=127.0.0.1:" + server.xdsPort(),
            "meshlet.xds-plaintext=true", "meshlet.await-config-on-startup=true", "meshlet.grpc.enabled=false");
  }

  @Test
  void aRestTemplateFromTheBuilderIsRoutedAndRetriedByTheMesh() {
    // v1 fails once, then answers: the mesh's retry on 5xx makes that one call succeed.
    v1.stubFor(any(anyUrl()).inScenario("flaky").whenScenarioStateIs(Scenario.STARTED)
        .willReturn(aResponse().withStatus(503)).willSetStateTo("up"));
    v1.stubFor(any(anyUrl()).inScenario("flaky").whenScenarioStateIs("up")
        .willReturn(aResponse().withStatus(200).withBody("v1")));
    runner().run(context -> {
      assertThat(context).hasNotFailed().hasSingleBean(MeshletRestTemplateCustomizer.class);
      RestTemplate rest = BootTestLine.restTemplate(context);

      assertThat(rest.getForObject("http://catalog/items", String.class)).isEqualTo("v1");
      v1.verify(2, getRequestedFor(urlEqualTo("/items")).withHeader("Host", equalTo("catalog")));

      HttpHeaders canary = new HttpHeaders();
      canary.add("x-canary", "true");
      assertThat(rest.exchange("http://catalog/items", HttpMethod.GET, new HttpEntity<>(canary), String.class)
          .getBody()).isEqualTo("v2");
      v2.verify(1, getRequestedFor(urlEqualTo("/items")).withHeader("x-canary", equalTo("true")));
      v1.verify(2, getRequestedFor(urlEqualTo("/items")));
    });
  }
}
