package com.example.plain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.okhttp.MeshOkHttp;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** http://catalog/... through the mesh, from a project that adds only mesh-client-http. */
class MeshedCallTest {

  @TempDir Path dir;

  @Test
  void aCallToALogicalServiceNameReachesItsInstance() throws Exception {
    HttpServer catalog = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    catalog.createContext("/", exchange -> {
      byte[] body = ("catalog saw host " + exchange.getRequestHeaders().getFirst("Host"))
          .getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    catalog.start();
    Path mesh = Files.writeString(dir.resolve("mesh.yaml"), """
        services:
          catalog:
            endpoints: [ { address: 127.0.0.1:%d } ]
        """.formatted(catalog.getAddress().getPort()));
    try (ControlServer server = ControlServer.builder().xdsPlaintext(true).configFile(mesh).xdsPort(0).adminPort(0)
            .build().start();
        MeshClient client = MeshClient.builder().xdsPlaintext().serviceName("plain-java")
            .controlServers("127.0.0.1:" + server.xdsPort()).build().start()) {
      assertTrue(client.awaitConfig(Duration.ofSeconds(30)), "first config");
      OkHttpClient http = MeshOkHttp.client(client);
      try (Response r = http.newCall(new Request.Builder().url("http://catalog/items").build()).execute()) {
        assertEquals(200, r.code());
        assertEquals("catalog saw host catalog", r.body().string());
      }
    } finally {
      catalog.stop(0);
    }
  }
}
