package io.meshlet.controlplane.internal.admin;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * One admin HTTP request and its answer on Jetty, with the few operations the admin API uses
 * (named as the JDK's {@code HttpExchange} names them, which the API was first written on).
 *
 * <p>The answer is buffered and written at once, with its length, when the handler returns:
 * admin answers are small. Not thread-safe: one request, one thread.
 */
public final class Exchange implements AutoCloseable {

  /** Header names to values, case-insensitive by name, in the order they came. */
  public static final class Headers extends TreeMap<String, List<String>> {
    Headers() {
      super(String.CASE_INSENSITIVE_ORDER);
    }

    /** The first value of a header, or null. */
    public String getFirst(String name) {
      List<String> values = get(name);
      return values == null || values.isEmpty() ? null : values.get(0);
    }

    /** Replaces a header's values with one. */
    public void set(String name, String value) {
      List<String> values = new ArrayList<>(1);
      values.add(value);
      put(name, values);
    }

    void add(String name, String value) {
      computeIfAbsent(name, n -> new ArrayList<>(1)).add(value);
    }
  }

  private final Request request;
  private final Response response;
  private final URI uri;
  private final Headers requestHeaders = new Headers();
  private final Headers responseHeaders = new Headers();
  private int status = -1;
  private ByteArrayOutputStream body;
  private boolean bodyRead;

  Exchange(Request request, Response response) {
    this.request = request;
    this.response = response;
    this.uri = URI.create(request.getHttpURI().getPathQuery());
    for (HttpField f : request.getHeaders()) {
      requestHeaders.add(f.getName(), f.getValue());
    }
  }

  public String getRequestMethod() {
    return request.getMethod();
  }

  /** The request target: path and query, as sent (decoded by {@link URI#getPath()}). */
  public URI getRequestURI() {
    return uri;
  }

  public Headers getRequestHeaders() {
    return requestHeaders;
  }

  public Headers getResponseHeaders() {
    return responseHeaders;
  }

  public InetSocketAddress getRemoteAddress() {
    SocketAddress a = request.getConnectionMetaData().getRemoteSocketAddress();
    return a instanceof InetSocketAddress i ? i : null;
  }

  /** The request body, read as it arrives. */
  public InputStream getRequestBody() {
    bodyRead = true;
    return Content.Source.asInputStream(request);
  }

  /**
   * Sets the status; {@code length} -1 for no body (the HTTP server's convention this API kept).
   */
  public void sendResponseHeaders(int status, long length) {
    if (this.status != -1) {
      throw new IllegalStateException("response already started with " + this.status);
    }
    this.status = status;
    if (length >= 0) {
      body = new ByteArrayOutputStream((int) Math.min(length, 1 << 20));
    }
  }

  /** Where the body goes; buffered until the handler returns. */
  public OutputStream getResponseBody() {
    if (body == null) {
      body = new ByteArrayOutputStream();
    }
    return body;
  }

  /** The status sent, or -1 before {@link #sendResponseHeaders}. */
  public int getResponseCode() {
    return status;
  }

  /** Nothing to do: the answer is written when the handler returns. */
  @Override
  public void close() {}

  /** Writes the answer: status, headers, body with its length. */
  void finish(Callback callback) {
    response.setStatus(status == -1 ? 500 : status);
    responseHeaders.forEach((name, values) -> values.forEach(v -> response.getHeaders().add(name, v)));
    if (!bodyRead && (request.getLength() > 0 || request.getHeaders().contains("Transfer-Encoding"))) {
      // Refused before its body was read: the connection cannot carry another request.
      response.getHeaders().put("Connection", "close");
    }
    byte[] bytes = body == null ? new byte[0] : body.toByteArray();
    if (!request.getMethod().equals("HEAD") || body != null) {
      response.getHeaders().put("Content-Length", bytes.length);
    }
    response.write(true, bytes.length == 0 ? null : ByteBuffer.wrap(bytes), callback);
  }
}
