package io.meshlet.okhttp;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.UnknownServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MeshOkHttpSmokeIT {

  @TempDir static Path dir;
  static WireMockServer v1;
  static WireMockServer v2;
  static ControlServer server;
  static MeshClient mesh;
  static OkHttpClient http;

  @BeforeAll
  static void start() throws Exception {
    v1 = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    v2 = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    v1.start();
    v2.start();
    v1.stubFor(get(urlPathMatching("/.*")).willReturn(aResponse().withStatus(200).withBody("v1")));
    v2.stubFor(get(urlPathMatching("/.*")).willReturn(aResponse().withStatus(200).withBody("v2")));
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, """
        services:
          catalog:
            endpoints:
              - { address: 127.0.0.1:%d, labels: { version: v1 } }
              - { address: 127.0.0.1:%d, labels: { version: v2 } }
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            routes:
              - match: { headers: { x-canary: "true" } }
                to: [ { subset: v2 } ]
              - to: [ { subset: v1, weight: 80 }, { subset: v2, weight: 20 } ]
                timeout: 2s
        """.formatted(v1.port(), v2.port()));
    server = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build().start();
    mesh = MeshClient.builder().xdsPlaintext().serviceName("frontend").controlServers("127.0.0.1:" + server.xdsPort())
        .build().start();
    http = MeshOkHttp.client(mesh);
  }

  @AfterAll
  static void stop() {
    if (mesh != null) {
      mesh.close();
    }
    if (server != null) {
      server.close();
    }
    if (v1 != null) {
      v1.stop();
    }
    if (v2 != null) {
      v2.stop();
    }
  }

  private static String call(String url, String canary) throws Exception {
    Request.Builder b = new Request.Builder().url(url);
    if (canary != null) {
      b.header("x-canary", canary);
    }
    try (Response r = http.newCall(b.build()).execute()) {
      return r.body().string();
    }
  }

  @Test
  void splitsAndRoutesByHeader() throws Exception {
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < 500; i++) {
      seen.merge(call("http://catalog/items", null), 1, Integer::sum);
    }
    assertThat(seen.getOrDefault("v2", 0)).isBetween(60, 140);
    assertThat(call("http://catalog/items", "true")).isEqualTo("v2");
  }

  @Test
  void unknownServiceFailsFast() {
    assertThatThrownBy(() -> call("http://catalgo/items", null))
        .isInstanceOf(UnknownServiceException.class)
        .hasMessage("service 'catalgo' is not in the mesh (known: catalog)");
  }
}
