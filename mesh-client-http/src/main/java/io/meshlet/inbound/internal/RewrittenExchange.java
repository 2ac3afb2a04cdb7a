package io.meshlet.inbound.internal;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsExchange;
import java.net.URI;
import javax.net.ssl.SSLSession;

/**
 * A JDK {@code HttpServer} exchange with another request URI and everything else its original's:
 * how {@code MeshHttpsServerFilter} hands the application the normalized path the rules saw. An
 * {@link HttpsExchange} stays one, so the application still reads the caller's TLS session.
 */
public final class RewrittenExchange {

  private RewrittenExchange() {}

  /** {@code exchange}, answering {@code uri} to {@link HttpExchange#getRequestURI()}. */
  public static HttpExchange of(HttpExchange exchange, URI uri) {
    return exchange instanceof HttpsExchange https ? new Https(https, uri) : new Plain(exchange, uri);
  }

  private static final class Plain extends HttpExchange {
    private final HttpExchange delegate;
    private final URI uri;

    Plain(HttpExchange delegate, URI uri) {
      this.delegate = delegate;
      this.uri = uri;
    }

    @Override
    public URI getRequestURI() {
      return uri;
    }

    @Override
    public com.sun.net.httpserver.Headers getRequestHeaders() {
      return delegate.getRequestHeaders();
    }

    @Override
    public com.sun.net.httpserver.Headers getResponseHeaders() {
      return delegate.getResponseHeaders();
    }

    @Override
    public String getRequestMethod() {
      return delegate.getRequestMethod();
    }

    @Override
    public com.sun.net.httpserver.HttpContext getHttpContext() {
      return delegate.getHttpContext();
    }

    @Override
    public void close() {
      delegate.close();
    }

    @Override
    public java.io.InputStream getRequestBody() {
      return delegate.getRequestBody();
    }

    @Override
    public java.io.OutputStream getResponseBody() {
      return delegate.getResponseBody();
    }

    @Override
    public void sendResponseHeaders(int rCode, long responseLength) throws java.io.IOException {
      delegate.sendResponseHeaders(rCode, responseLength);
    }

    @Override
    public java.net.InetSocketAddress getRemoteAddress() {
      return delegate.getRemoteAddress();
    }

    @Override
    public int getResponseCode() {
      return delegate.getResponseCode();
    }

    @Override
    public java.net.InetSocketAddress getLocalAddress() {
      return delegate.getLocalAddress();
    }

    @Override
    public String getProtocol() {
      return delegate.getProtocol();
    }

    @Override
    public Object getAttribute(String name) {
      return delegate.getAttribute(name);
    }

    @Override
    public void setAttribute(String name, Object value) {
      delegate.setAttribute(name, value);
    }

    @Override
    public void setStreams(java.io.InputStream i, java.io.OutputStream o) {
      delegate.setStreams(i, o);
    }

    @Override
    public com.sun.net.httpserver.HttpPrincipal getPrincipal() {
      return delegate.getPrincipal();
    }
  }

  private static final class Https extends HttpsExchange {
    private final HttpsExchange delegate;
    private final URI uri;

    Https(HttpsExchange delegate, URI uri) {
      this.delegate = delegate;
      this.uri = uri;
    }

    @Override
    public URI getRequestURI() {
      return uri;
    }

    @Override
    public SSLSession getSSLSession() {
      return delegate.getSSLSession();
    }

    @Override
    public com.sun.net.httpserver.Headers getRequestHeaders() {
      return delegate.getRequestHeaders();
    }

    @Override
    public com.sun.net.httpserver.Headers getResponseHeaders() {
      return delegate.getResponseHeaders();
    }

    @Override
    public String getRequestMethod() {
      return delegate.getRequestMethod();
    }

    @Override
    public com.sun.net.httpserver.HttpContext getHttpContext() {
      return delegate.getHttpContext();
    }

    @Override
    public void close() {
      delegate.close();
    }

    @Override
    public java.io.InputStream getRequestBody() {
      return delegate.getRequestBody();
    }

    @Override
    public java.io.OutputStream getResponseBody() {
      return delegate.getResponseBody();
    }

    @Override
    public void sendResponseHeaders(int rCode, long responseLength) throws java.io.IOException {
      delegate.sendResponseHeaders(rCode, responseLength);
    }

    @Override
    public java.net.InetSocketAddress getRemoteAddress() {
      return delegate.getRemoteAddress();
    }

    @Override
    public int getResponseCode() {
      return delegate.getResponseCode();
    }

    @Override
    public java.net.InetSocketAddress getLocalAddress() {
      return delegate.getLocalAddress();
    }

    @Override
    public String getProtocol() {
      return delegate.getProtocol();
    }

    @Override
    public Object getAttribute(String name) {
      return delegate.getAttribute(name);
    }

    @Override
    public void setAttribute(String name, Object value) {
      delegate.setAttribute(name, value);
    }

    @Override
    public void setStreams(java.io.InputStream i, java.io.OutputStream o) {
      delegate.setStreams(i, o);
    }

    @Override
    public com.sun.net.httpserver.HttpPrincipal getPrincipal() {
      return delegate.getPrincipal();
    }
  }
}
