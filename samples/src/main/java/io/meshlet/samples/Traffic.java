package io.meshlet.samples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * Steady traffic through the frontend ({@code GET /shop}) from a few threads, counted per catalog
 * instance that answered ({@code v1:<port>}) and failed, in windows the demo reads one at a time.
 */
final class Traffic implements AutoCloseable {

  /** What happened between two {@link #window()} calls. */
  record Window(Map<String, Long> byInstance, long failed, List<String> failures) {

    long version(String version) {
      return byInstance.entrySet().stream().filter(e -> e.getKey().startsWith(version + ":"))
          .mapToLong(Map.Entry::getValue).sum();
    }

    long ok() {
      return byInstance.values().stream().mapToLong(Long::longValue).sum();
    }

    long instance(String version, int port) {
      return byInstance.getOrDefault(version + ":" + port, 0L);
    }

    Window plus(Window other) {
      Map<String, Long> sum = new TreeMap<>(byInstance);
      other.byInstance.forEach((k, v) -> sum.merge(k, v, Long::sum));
      List<String> f = new ArrayList<>(failures);
      f.addAll(other.failures);
      return new Window(sum, failed + other.failed, f);
    }

    static Window empty() {
      return new Window(Map.of(), 0, List.of());
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final HttpRequest shop;
  private final AtomicReference<Counts> counts = new AtomicReference<>(new Counts());
  private final List<Thread> threads = new ArrayList<>();
  private volatile boolean running = true;

  private static final class Counts {
    final Map<String, LongAdder> byInstance = new ConcurrentHashMap<>();
    final LongAdder failed = new LongAdder();
    final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
  }

  Traffic(URI shop, int threadCount) {
    this.shop = HttpRequest.newBuilder(shop).timeout(Duration.ofSeconds(10)).build();
    for (int i = 0; i < threadCount; i++) {
      Thread t = new Thread(this::loop, "demo-traffic-" + i);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }
  }

  /** The counts since the previous call. */
  Window window() {
    Counts c = counts.getAndSet(new Counts());
    Map<String, Long> byInstance = new TreeMap<>();
    c.byInstance.forEach((k, v) -> byInstance.put(k, v.sum()));
    return new Window(byInstance, c.failed.sum(), List.copyOf(c.failures));
  }

  private void loop() {
    while (running) {
      Counts c = counts.get();
      try {
        HttpResponse<String> response = http.send(shop, HttpResponse.BodyHandlers.ofString());
        JsonNode catalog = JSON.readTree(response.body()).path("catalog");
        if (response.statusCode() == 200 && catalog.has("version")) {
          c.byInstance.computeIfAbsent(catalog.path("version").asText() + ":" + catalog.path("port").asText(),
              k -> new LongAdder()).increment();
        } else {
          fail(c, response.statusCode() + " " + response.body());
        }
      } catch (IOException e) {
        fail(c, e.toString());
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private static void fail(Counts c, String what) {
    c.failed.increment();
    if (c.failures.size() < 5) {
      c.failures.add(what);
    }
  }

  /** Stops the traffic, waiting (bounded) for calls in flight. */
  @Override
  public void close() {
    running = false;
    try {
      for (Thread t : threads) {
        t.join(TimeUnit.SECONDS.toMillis(15));
      }
    } catch (InterruptedException e) {
      threads.forEach(Thread::interrupt);
      Thread.currentThread().interrupt();
    }
  }
}
