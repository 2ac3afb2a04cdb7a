package io.meshlet.okhttp;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP upstream on a free loopback port that answers every request with 200 and its name, and
 * can be told to hold requests until released: the HTTP twin of {@code EchoBackend.holdCalls()},
 * for cases that need calls in flight (circuit breaking, least request). WireMock can delay an
 * answer but not hold it until the test says so.
 */
final class HeldHttpBackend implements AutoCloseable {

  private final String name;
  private final HttpServer server;
  private final ExecutorService threads = Executors.newCachedThreadPool();
  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile CountDownLatch hold;

  HeldHttpBackend(String name) {
    this.name = name;
    try {
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.setExecutor(threads);
    server.createContext("/", exchange -> {
      inFlight.incrementAndGet();
      try {
        CountDownLatch latch = hold;
        if (latch != null) {
          latch.await(30, TimeUnit.SECONDS);
        }
        byte[] body = name.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (IOException e) {
        // the caller gave up while the request was held
      } finally {
        inFlight.decrementAndGet();
        exchange.close();
      }
    });
    server.start();
  }

  String name() {
    return name;
  }

  int port() {
    return server.getAddress().getPort();
  }

  /** Requests being answered now, held ones included (also those their caller gave up on). */
  int inFlight() {
    return inFlight.get();
  }

  /** Holds every request from now until {@link #release()}. */
  void hold() {
    hold = new CountDownLatch(1);
  }

  void release() {
    CountDownLatch latch = hold;
    hold = null;
    if (latch != null) {
      latch.countDown();
    }
  }

  @Override
  public void close() {
    release();
    server.stop(0);
    threads.shutdownNow();
  }
}
