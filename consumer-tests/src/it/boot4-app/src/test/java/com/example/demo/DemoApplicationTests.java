package com.example.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.net.httpserver.HttpServer;
import io.meshlet.controlplane.ControlServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.web.client.RestClient;

/** The app on Tomcat, calling http://catalog/... through the mesh, against an in-process control server. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class DemoApplicationTests {

  static HttpServer catalog;
  static ControlServer server;

  @DynamicPropertySource
  static void mesh(DynamicPropertyRegistry registry) throws IOException {
    catalog = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    catalog.createContext("/", exchange -> {
      byte[] body = ("catalog saw host " + exchange.getRequestHeaders().getFirst("Host"))
          .getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    catalog.start();
    Path dir = Files.createTempDirectory("mesh");
    Path file = Files.writeString(dir.resolve("mesh.yaml"), """
        services:
          catalog:
            endpoints: [ { address: 127.0.0.1:%d } ]
        """.formatted(catalog.getAddress().getPort()));
    try {
      server = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build().start();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    registry.add("meshlet.control-servers", () -> "127.0.0.1:" + server.xdsPort());
    registry.add("meshlet.xds-plaintext", () -> "true");
    registry.add("meshlet.await-config-on-startup", () -> "true");
    registry.add("server.address", () -> "127.0.0.1");
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
    if (catalog != null) {
      catalog.stop(0);
    }
  }

  @LocalServerPort int port;

  @Test
  void theAppCallsCatalogThroughTheMesh() {
    String answer = RestClient.create().get().uri("http://127.0.0.1:" + port + "/front").retrieve()
        .body(String.class);
    assertEquals("catalog saw host catalog | catalog saw host catalog", answer);
  }
}
