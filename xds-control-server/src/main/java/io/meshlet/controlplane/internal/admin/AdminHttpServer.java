package io.meshlet.controlplane.internal.admin;

import java.io.IOException;
import java.net.InetSocketAddress;
import org.eclipse.jetty.http.HttpCompliance;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin port's HTTP server: Jetty, a small daemon thread pool, one handler for every path.
 * Plain HTTP/1.1; the admin API binds to loopback unless a token protects it.
 */
public final class AdminHttpServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AdminHttpServer.class);

  /** Handles one exchange; a RuntimeException it throws becomes a 500. */
  @FunctionalInterface
  public interface ExchangeHandler {
    void handle(Exchange exchange) throws IOException;
  }

  private final Server server;
  private final ServerConnector connector;

  public AdminHttpServer(InetSocketAddress address, ExchangeHandler handler) {
    QueuedThreadPool threads = new QueuedThreadPool(8, 2);
    threads.setName("meshlet-admin");
    threads.setDaemon(true);
    server = new Server(threads);
    HttpConfiguration config = new HttpConfiguration();
    config.setSendServerVersion(false);
    config.setSendDateHeader(true);
    config.setHttpCompliance(HttpCompliance.RFC7230);
    // A long path is answered (404, echoed shortened) rather than cut off with a bare 414.
    config.setRequestHeaderSize(128 * 1024);
    connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(config));
    connector.setHost(address.getHostString());
    connector.setPort(address.getPort());
    // A client that sends half a request and stalls holds a thread no longer than this.
    connector.setIdleTimeout(30_000);
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        Exchange exchange;
        try {
          exchange = new Exchange(request, response);
        } catch (IllegalArgumentException e) {
          Response.writeError(request, response, callback, 400, "malformed request target");
          return true;
        }
        try {
          handler.handle(exchange);
        } catch (IOException e) {
          log.debug("admin: {} {}: {}", request.getMethod(), request.getHttpURI().getPath(), e.toString());
          callback.failed(e);
          return true;
        }
        exchange.finish(callback);
        return true;
      }
    });
    server.setStopTimeout(0);
  }

  public void start() throws IOException {
    try {
      server.start();
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException("could not start the admin HTTP server on " + connector.getHost() + ":"
          + connector.getPort() + ": " + e.getMessage(), e);
    }
  }

  /** The bound port. */
  public int port() {
    return connector.getLocalPort();
  }

  @Override
  public void close() {
    try {
      server.stop();
    } catch (Exception e) {
      log.debug("admin HTTP server stop: {}", e.toString());
    }
  }
}
