package io.meshlet.okhttp;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A tiny HTTP/1.1 upstream on a free loopback port, for what WireMock does not let a test see:
 * it answers every request with 200 {@code ok} (bodies with a Content-Length only) and closes a
 * keep-alive connection that stays idle for {@code idle} and counts it, so a test
 * can wait for the server side to have closed a pooled connection instead of sleeping; or, told
 * to, it resets every connection on its first request without answering. It counts the requests
 * it read whole, so a request written into a dead connection is not counted.
 */
final class KeepAliveBackend implements AutoCloseable {

  private final ServerSocket server;
  private final int idleMillis;
  private final boolean resetAll;
  private final ExecutorService threads = Executors.newCachedThreadPool();
  private final AtomicInteger connections = new AtomicInteger();
  private final AtomicInteger requests = new AtomicInteger();
  private final AtomicInteger idleClosed = new AtomicInteger();

  private KeepAliveBackend(Duration idle, boolean resetAll) {
    this.idleMillis = (int) idle.toMillis();
    this.resetAll = resetAll;
    try {
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    threads.execute(this::accept);
  }

  /** Answers 200 "ok" and closes a connection idle for {@code idle}. */
  static KeepAliveBackend closingIdleAfter(Duration idle) {
    return new KeepAliveBackend(idle, false);
  }

  /** Reads the first request of every connection, then resets the connection without answering. */
  static KeepAliveBackend resettingEveryConnection() {
    return new KeepAliveBackend(Duration.ofMinutes(1), true);
  }

  int port() {
    return server.getLocalPort();
  }

  /** Connections accepted. */
  int connections() {
    return connections.get();
  }

  /** Requests read whole (answered or, when resetting, not). */
  int requests() {
    return requests.get();
  }

  /** Connections this server closed because they stayed idle; counted once closed. */
  int idleClosed() {
    return idleClosed.get();
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        connections.incrementAndGet();
        threads.execute(() -> serve(s));
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      socket.setSoTimeout(idleMillis);
      InputStream in = new BufferedInputStream(socket.getInputStream());
      OutputStream out = socket.getOutputStream();
      while (true) {
        String requestLine;
        try {
          requestLine = line(in);
        } catch (SocketTimeoutException e) {
          socket.close();
          idleClosed.incrementAndGet();
          return;
        }
        if (requestLine == null) {
          return;
        }
        long length = 0;
        for (String header = line(in); header != null && !header.isEmpty(); header = line(in)) {
          if (header.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
            length = Long.parseLong(header.substring("content-length:".length()).trim());
          }
        }
        in.readNBytes((int) length);
        requests.incrementAndGet();
        if (resetAll) {
          socket.setSoLinger(true, 0);
          return;
        }
        out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
            .getBytes(StandardCharsets.US_ASCII));
        out.flush();
      }
    } catch (IOException e) {
      // the client went away
    }
  }

  /** One CRLF-ended line without its end; null at the end of the stream before any byte. */
  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c == -1) {
        return b.size() == 0 ? null : b.toString(StandardCharsets.US_ASCII);
      }
      if (c != '\r') {
        b.write(c);
      }
    }
    return b.toString(StandardCharsets.US_ASCII);
  }

  @Override
  public void close() throws IOException {
    server.close();
    threads.shutdownNow();
  }
}
