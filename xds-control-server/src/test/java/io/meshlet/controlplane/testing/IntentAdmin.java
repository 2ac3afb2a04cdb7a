package io.meshlet.controlplane.testing;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Reads and writes the intent through a replica's admin API ({@code GET}/{@code PUT /config} as YAML). */
public final class IntentAdmin {

  /** The intent's text and the revision to name in {@code If-Match}. */
  public record Intent(String text, String etag) {}

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final String base;

  public IntentAdmin(int adminPort) {
    this.base = "http://127.0.0.1:" + adminPort;
  }

  public Intent read() {
    HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(base + "/config"))
        .header("Accept", "application/yaml").GET());
    if (r.statusCode() != 200) {
      throw new AssertionError("GET /config as YAML: " + r.statusCode() + " " + r.body());
    }
    return new Intent(r.body(), r.headers().firstValue("ETag").orElseThrow());
  }

  public HttpResponse<String> write(String yaml, String ifMatch) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/config"))
        .PUT(HttpRequest.BodyPublishers.ofString(yaml));
    if (ifMatch != null) {
      b.header("If-Match", ifMatch);
    }
    return send(b);
  }

  private HttpResponse<String> send(HttpRequest.Builder b) {
    try {
      return http.send(b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
