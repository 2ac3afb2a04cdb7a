package io.meshlet.okhttp;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.meshlet.MeshClient;
import io.meshlet.MeshListener;
import io.meshlet.controlplane.ControlServer;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.nio.file.Path;
import java.time.Duration;
import okhttp3.Headers;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * What the OkHttp integration tests start: WireMock upstreams on 127.0.0.1 and free ports, control
 * servers, mesh clients and OkHttp clients. {@link #close()} stops all of them in reverse order,
 * carrying on past failures, so an {@code @AfterAll} that calls it leaves nothing running.
 */
final class TestMesh implements AutoCloseable {

  private final Deque<AutoCloseable> open = new ArrayDeque<>();

  /** Registers something to stop; returns it. */
  <T> T closeLater(T thing, AutoCloseable stop) {
    synchronized (open) {
      open.push(stop);
    }
    return thing;
  }

  <T extends AutoCloseable> T closeLater(T thing) {
    return closeLater(thing, thing);
  }

  /**
   * A started WireMock server that answers every request with 200 and its name, unless a stub
   * with a higher priority (a lower number than 10) says otherwise. Delays are served
   * asynchronously, so slow stubs do not tie up the server's threads.
   */
  WireMockServer upstream(String name) {
    WireMockServer server = new WireMockServer(options()
        .dynamicPort()
        .bindAddress("127.0.0.1")
        .containerThreads(40)
        .asynchronousResponseEnabled(true)
        .asynchronousResponseThreads(20));
    closeLater(server, server::stop);
    server.start();
    server.stubFor(any(anyUrl()).atPriority(10).willReturn(aResponse().withStatus(200).withBody(name)));
    return server;
  }

  /** A started control server following {@code file}, on free ports, polling the file every 100 ms. */
  ControlServer controlServer(Path file) throws Exception {
    return controlServer(file, 0);
  }

  /** A started control server with its xDS port fixed (0: a free one). */
  ControlServer controlServer(Path file, int xdsPort) throws Exception {
    ControlServer server = ControlServer.builder().xdsPlaintext(true).allowPlaintextRegistration(true).configFile(file).xdsPort(xdsPort).adminPort(0)
        .pollInterval(Duration.ofMillis(100)).build();
    closeLater(server);
    return server.start();
  }

  /** A started mesh client of service 'frontend' with its first config in force. */
  MeshClient meshClient(int xdsPort, MeshListener listener) throws InterruptedException {
    MeshClient mesh = closeLater(MeshClient.builder().xdsPlaintext()
        .serviceName("frontend")
        .controlServers("127.0.0.1:" + xdsPort)
        .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(250))
        .listener(listener)
        .build());
    mesh.start();
    if (!mesh.awaitConfig(Duration.ofSeconds(10))) {
      throw new AssertionError("no config from the control server on port " + xdsPort + " within 10 s");
    }
    return mesh;
  }

  MeshClient meshClient(int xdsPort) throws InterruptedException {
    return meshClient(xdsPort, new MeshListener() {});
  }

  /** An OkHttp client through the mesh; its pool and dispatcher are shut down on close. */
  OkHttpClient http(MeshClient mesh) {
    return http(MeshOkHttp.client(mesh));
  }

  /** Shuts down an OkHttp client's pool and dispatcher on close; returns it. */
  OkHttpClient http(OkHttpClient http) {
    return closeLater(http, () -> {
      http.dispatcher().executorService().shutdownNow();
      http.connectionPool().evictAll();
    });
  }

  /** How many requests with this path an upstream received for a service (the Host header). */
  static int count(WireMockServer upstream, String service, String path) {
    return upstream.countRequestsMatching(getRequestedFor(urlPathEqualTo(path))
        .withHeader("Host", equalTo(service)).build()).getCount();
  }

  /** A response, read whole. */
  record Reply(int code, String body, Headers headers) {
    String header(String name) {
      return headers.get(name);
    }
  }

  /** Sends a GET and reads the whole response. */
  static Reply get(OkHttpClient http, String url, String... headerNamesAndValues) throws IOException {
    Request.Builder b = new Request.Builder().url(url);
    for (int i = 0; i < headerNamesAndValues.length; i += 2) {
      b.header(headerNamesAndValues[i], headerNamesAndValues[i + 1]);
    }
    try (Response r = http.newCall(b.build()).execute()) {
      return new Reply(r.code(), r.body().string(), r.headers());
    }
  }

  @Override
  public void close() throws Exception {
    Exception failure = null;
    while (true) {
      AutoCloseable next;
      synchronized (open) {
        next = open.poll();
      }
      if (next == null) {
        break;
      }
      try {
        next.close();
      } catch (Exception e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

}
