package io.meshlet.spring.autoconfigure;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import okhttp3.Call;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.client.AbstractClientHttpRequest;
import org.springframework.http.client.ClientHttpRequest;
import org.springframework.http.client.ClientHttpRequestFactory;
import org.springframework.http.client.ClientHttpResponse;

/**
 * A Spring {@link ClientHttpRequestFactory} over an {@link OkHttpClient}, so that {@code RestClient}
 * and {@code RestTemplate} calls go through the mesh-aware client: {@code http://catalog/items} is
 * routed, retried and timed out by the mesh. Spring's own {@code OkHttp3ClientHttpRequestFactory}
 * is deprecated for removal since Spring Framework 6.1, hence this one.
 *
 * <p>Request bodies are buffered, then sent with their length; responses stream. Timeouts are the
 * client's and the mesh's. Thread-safe.
 */
public final class OkHttpRequestFactory implements ClientHttpRequestFactory {

  private final OkHttpClient client;

  public OkHttpRequestFactory(OkHttpClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  @Override
  public ClientHttpRequest createRequest(URI uri, org.springframework.http.HttpMethod method) {
    return new OkHttpRequest(client, uri, method);
  }

  private static final class OkHttpRequest extends AbstractClientHttpRequest {
    private final OkHttpClient client;
    private final URI uri;
    private final org.springframework.http.HttpMethod method;
    private final ByteArrayOutputStream body = new ByteArrayOutputStream(256);

    OkHttpRequest(OkHttpClient client, URI uri, org.springframework.http.HttpMethod method) {
      this.client = client;
      this.uri = uri;
      this.method = method;
    }

    @Override
    public org.springframework.http.HttpMethod getMethod() {
      return method;
    }

    @Override
    public URI getURI() {
      return uri;
    }

    @Override
    protected OutputStream getBodyInternal(HttpHeaders headers) {
      return body;
    }

    @Override
    protected ClientHttpResponse executeInternal(HttpHeaders headers) throws IOException {
      byte[] bytes = body.toByteArray();
      String name = method.name();
      RequestBody requestBody = null;
      if (bytes.length > 0 || requiresBody(name)) {
        String type = headers.getFirst(HttpHeaders.CONTENT_TYPE);
        requestBody = RequestBody.create(bytes, type == null ? null : MediaType.parse(type));
      }
      Request.Builder request = new Request.Builder().url(uri.toString()).method(name, requestBody);
      boolean hasBody = requestBody != null;
      // forEach, not entrySet(): HttpHeaders is a Map in Spring 6 (Boot 3.5) and no longer in Spring 7 (Boot 4).
      headers.forEach((key, values) -> {
        // OkHttp sets these from the body.
        if (key.equalsIgnoreCase(HttpHeaders.CONTENT_LENGTH)
            || (hasBody && key.equalsIgnoreCase(HttpHeaders.CONTENT_TYPE))) {
          return;
        }
        for (String value : values) {
          request.addHeader(key, value);
        }
      });
      Call call = client.newCall(request.build());
      return new OkHttpResponse(call.execute());
    }
  }

  private static boolean requiresBody(String method) {
    return switch (method) {
      case "POST", "PUT", "PATCH", "PROPPATCH", "REPORT" -> true;
      default -> false;
    };
  }

  private static final class OkHttpResponse implements ClientHttpResponse {
    private final Response response;
    private HttpHeaders headers;

    OkHttpResponse(Response response) {
      this.response = response;
    }

    @Override
    public HttpStatusCode getStatusCode() {
      return HttpStatusCode.valueOf(response.code());
    }

    @Override
    public String getStatusText() {
      return response.message();
    }

    @Override
    public HttpHeaders getHeaders() {
      if (headers == null) {
        HttpHeaders h = new HttpHeaders();
        for (String name : response.headers().names()) {
          h.put(name, response.headers(name));
        }
        headers = HttpHeaders.readOnlyHttpHeaders(h);
      }
      return headers;
    }

    @Override
    public InputStream getBody() {
      ResponseBody body = response.body();
      return body.byteStream();
    }

    @Override
    public void close() {
      response.close();
    }
  }
}
