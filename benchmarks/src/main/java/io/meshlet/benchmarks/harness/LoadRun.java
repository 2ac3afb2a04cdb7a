package io.meshlet.benchmarks.harness;

import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCalls;
import io.meshlet.MeshClient;
import io.meshlet.grpc.MeshGrpc;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.okhttp.MeshOkHttp;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.AggregationTemporality;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.export.MetricExporter;
import io.opentelemetry.sdk.metrics.export.PeriodicMetricReader;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import javax.net.ssl.SSLContext;
import javax.net.ssl.X509TrustManager;
import okhttp3.ConnectionPool;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * One load case in its own JVM: builds the client the case names, warms it up, measures its peak
 * throughput (closed loop, {@code concurrency} threads), then its latency at a fixed rate (open
 * loop: requests are due at fixed times and latency counts from the time a request was due, so a
 * stall delays every request behind it in the figures too), its CPU per request and its memory.
 * Prints {@code RESULT <json>}.
 */
final class LoadRun {

  /** The cases, in the order they are reported. */
  enum Case {
    DIRECT("direct", "plain OkHttp, direct to the upstream"),
    MESHLET("meshlet", "Meshlet OkHttp (routing, retries, breaker, outlier detection, telemetry)"),
    /** Telemetry on as in {@code meshlet}, with the SDK's sampler off: metrics and propagation, no span recorded. */
    MESHLET_UNSAMPLED("meshlet-unsampled", "Meshlet OkHttp, telemetry on with traces unsampled (metrics, W3C propagation)"),
    /** Not run unless asked for ({@code --cases}): what telemetry costs. */
    MESHLET_NO_TELEMETRY("meshlet-notel", "Meshlet OkHttp without an OpenTelemetry SDK (the no-op default)"),
    /** Async ({@code enqueue}) calls: OkHttp's dispatcher runs them, at most maxRequestsPerHost per host. */
    DIRECT_ASYNC("direct-async", "plain OkHttp enqueue(), direct, per-host cap raised to 64 (as the mesh does)"),
    MESHLET_ASYNC("meshlet-async", "Meshlet OkHttp enqueue() to one mesh service (telemetry on, traces unsampled)"),
    DIRECT_MTLS("direct-mtls", "plain OkHttp with an SVID, mTLS direct to the upstream"),
    MESHLET_MTLS("meshlet-mtls", "Meshlet OkHttp with mTLS (SPIFFE checks)"),
    SIDECARS("sidecars", "plain OkHttp through two HAProxy sidecars, mTLS between them"),
    GRPC_DIRECT("grpc-direct", "plain gRPC channel to 127.0.0.1"),
    GRPC_XDS("grpc-xds", "xds:/// channel through Meshlet's control server"),
    /** grpc-xds's baseline in fairness: the same retry policy and timeout, in the channel's own service config. */
    GRPC_DIRECT_POLICY("grpc-direct-policy", "plain gRPC channel with grpc-xds's timeout and retry policy in its service config"),
    /** A service with no policy (no timeout, retries, breaker): xds:/// against a bare channel. */
    GRPC_XDS_PLAIN("grpc-xds-plain", "xds:/// channel to a service with no policies");

    final String id;
    final String description;

    Case(String id, String description) {
      this.id = id;
      this.description = description;
    }

    static Case of(String id) {
      for (Case c : values()) {
        if (c.id.equals(id)) {
          return c;
        }
      }
      throw new IllegalArgumentException("case: " + id);
    }
  }

  /** One call; true when it succeeded. */
  interface Caller {
    boolean call() throws Exception;
  }

  private LoadRun() {}

  /**
   * Mode {@code load}: args are {@code key=value}: case, xdsPort, httpPort, httpsPort, grpcPort,
   * sidecarPort, sidecarPids (comma separated), upstreamPid, concurrency, warmup, peak, rate,
   * latency (seconds).
   */
  static void main(String[] args) throws Exception {
    Proc.exitWhenStdinCloses();
    Map<String, String> a = new LinkedHashMap<>();
    for (String arg : args) {
      int eq = arg.indexOf('=');
      a.put(arg.substring(0, eq), arg.substring(eq + 1));
    }
    Case c = Case.of(a.get("case"));
    String controlServer = "127.0.0.1:" + a.get("xdsPort");
    trustBundle = Path.of(a.get("trustBundle"));
    int concurrency = Integer.parseInt(a.get("concurrency"));
    double warmup = Double.parseDouble(a.get("warmup"));
    double peak = Double.parseDouble(a.get("peak"));
    double latency = Double.parseDouble(a.get("latency"));
    int rate = Integer.parseInt(a.get("rate"));
    List<Long> sidecarPids = new ArrayList<>();
    for (String p : a.getOrDefault("sidecarPids", "").split(",")) {
      if (!p.isBlank()) {
        sidecarPids.add(Long.parseLong(p));
      }
    }
    long upstreamPid = Long.parseLong(a.get("upstreamPid"));

    List<AutoCloseable> closeables = new ArrayList<>();
    OkHttpClient.Builder base = new OkHttpClient.Builder()
        // Enough idle connections for every thread: none is closed and reopened under load.
        .connectionPool(new ConnectionPool(128, 5, TimeUnit.MINUTES))
        .readTimeout(Duration.ofSeconds(10));
    Caller caller;
    switch (c) {
      case DIRECT -> caller = okHttp(base.build(), "http://127.0.0.1:" + a.get("httpPort") + "/items");
      case SIDECARS -> caller = okHttp(base.build(), "http://127.0.0.1:" + a.get("sidecarPort") + "/items");
      case MESHLET -> {
        OpenTelemetrySdk otel = telemetry();
        closeables.add(otel);
        MeshClient mesh = mesh(controlServer, otel);
        closeables.add(mesh);
        caller = okHttp(MeshOkHttp.decorate(base, mesh).build(), "http://echo/items");
      }
      case MESHLET_UNSAMPLED -> {
        OpenTelemetrySdk otel = telemetry(Sampler.alwaysOff());
        closeables.add(otel);
        MeshClient mesh = mesh(controlServer, otel);
        closeables.add(mesh);
        caller = okHttp(MeshOkHttp.decorate(base, mesh).build(), "http://echo/items");
      }
      case DIRECT_ASYNC -> {
        OkHttpClient http = base.build();
        // The same concurrency as the mesh's client gets: OkHttp's default would hold it to 5.
        http.dispatcher().setMaxRequestsPerHost(http.dispatcher().getMaxRequests());
        caller = okHttpAsync(http, "http://127.0.0.1:" + a.get("httpPort") + "/items");
      }
      case MESHLET_ASYNC -> {
        OpenTelemetrySdk otel = telemetry(Sampler.alwaysOff());
        closeables.add(otel);
        MeshClient mesh = mesh(controlServer, otel);
        closeables.add(mesh);
        caller = okHttpAsync(MeshOkHttp.decorate(base, mesh).build(), "http://echo/items");
      }
      case MESHLET_NO_TELEMETRY -> {
        MeshClient mesh = mesh(controlServer, io.opentelemetry.api.OpenTelemetry.noop());
        closeables.add(mesh);
        caller = okHttp(MeshOkHttp.decorate(base, mesh).build(), "http://echo/items");
      }
      case DIRECT_MTLS -> {
        CaIdentitySource identity = identity(controlServer);
        closeables.add(identity);
        SSLContext tls = SpiffeTls.context(identity::current, SpiffeTls.allowAny());
        X509TrustManager trust = SpiffeTls.trustManager(identity::current, SpiffeTls.allowAny());
        caller = okHttp(base.sslSocketFactory(tls.getSocketFactory(), trust)
            // SVIDs name a SPIFFE ID, no host: the trust manager has checked the chain.
            .hostnameVerifier((host, session) -> true).build(),
            "https://127.0.0.1:" + a.get("httpsPort") + "/items");
      }
      case MESHLET_MTLS -> {
        OpenTelemetrySdk otel = telemetry();
        closeables.add(otel);
        CaIdentitySource identity = identity(controlServer);
        closeables.add(identity);
        MeshClient mesh = mesh(controlServer, otel);
        closeables.add(mesh);
        caller = okHttp(MeshOkHttp.decorate(base, mesh, identity::current).build(), "http://echo-tls/items");
      }
      case GRPC_DIRECT -> {
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("127.0.0.1",
            Integer.parseInt(a.get("grpcPort")), InsecureChannelCredentials.create()).build();
        closeables.add(channel::shutdownNow);
        caller = grpc(channel);
      }
      case GRPC_DIRECT_POLICY -> {
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("127.0.0.1",
            Integer.parseInt(a.get("grpcPort")), InsecureChannelCredentials.create())
            .defaultServiceConfig(GRPC_ECHO_POLICY).enableRetry().build();
        closeables.add(channel::shutdownNow);
        // Connected before the first call: the policy's 2 s timeout bounds that call, connection
        // included, and on a busy machine connecting took longer (the run then stopped).
        awaitReady(channel, Duration.ofSeconds(30));
        caller = grpc(channel);
      }
      case GRPC_XDS, GRPC_XDS_PLAIN -> {
        MeshGrpc.bootstrap("bench-client", List.of(controlServer)).controlServerTrust(trustBundle).install();
        ManagedChannel channel = MeshGrpc.channel(c == Case.GRPC_XDS ? "grpc-echo" : "grpc-plain");
        closeables.add(channel::shutdownNow);
        // The first call waits for the four xDS resources.
        ClientCalls.blockingUnaryCall(channel, Upstream.ECHO,
            CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(30, TimeUnit.SECONDS), "hi");
        caller = grpc(channel);
      }
      default -> throw new IllegalStateException();
    }
    if (!caller.call()) {
      throw new IllegalStateException(c.id + ": the first call failed");
    }

    Map<String, Object> result = new LinkedHashMap<>();
    result.put("case", c.id);
    // Warm-up, discarded: at least `warmup` seconds and, up to three times that, 20,000 calls, so
    // that the JIT has compiled the hot paths (gRPC's take the longest on a busy machine).
    long warmupEnd = System.nanoTime() + (long) (3 * warmup * 1e9);
    double calls = 0;
    do {
      Map<String, Object> w = closedLoop(caller, concurrency, warmup, sidecarPids, upstreamPid);
      calls += Harness.num(w, "peakRps") * warmup;
    } while (calls < 20_000 && System.nanoTime() < warmupEnd);
    Map<String, Object> peakResult = closedLoop(caller, concurrency, peak, sidecarPids, upstreamPid);
    result.putAll(peakResult);
    result.putAll(openLoop(caller, rate, latency, concurrency));
    long heap = Proc.heapAfterGc();
    long rss = Proc.rssBytes(ProcessHandle.current().pid());
    long sidecarRss = 0;
    for (long pid : sidecarPids) {
      sidecarRss += Proc.rssBytes(pid);
    }
    result.put("heapAfterGcBytes", heap);
    result.put("clientRssBytes", rss);
    result.put("sidecarRssBytes", sidecarRss);
    result.put("rssBytes", rss + sidecarRss);
    Proc.say("RESULT", result);
    for (int i = closeables.size() - 1; i >= 0; i--) {
      try {
        closeables.get(i).close();
      } catch (Exception e) {
        // closing anyway
      }
    }
    System.exit(0);
  }

  /** The upstream control server's trust bundle (xDS and the CA are TLS). */
  static Path trustBundle;

  static MeshClient mesh(String controlServer, io.opentelemetry.api.OpenTelemetry otel) throws InterruptedException {
    MeshClient mesh = MeshClient.builder().controlServerTrust(trustBundle).serviceName("frontend")
        .controlServers(controlServer)
        .openTelemetry(otel).build().start();
    if (!mesh.awaitConfig(Duration.ofSeconds(30))) {
      throw new IllegalStateException("no mesh config within 30 s");
    }
    return mesh;
  }

  static CaIdentitySource identity(String controlServer) throws InterruptedException {
    CaIdentitySource identity = CaIdentitySource.builder().service("frontend")
        .joinToken(Upstream.TOKENS.get("frontend")).controlServers(controlServer).controlServerTrust(trustBundle)
        .build().start();
    identity.awaitIdentity(Duration.ofSeconds(30));
    return identity;
  }

  /**
   * "Telemetry on": an OpenTelemetry SDK recording every metric and span Meshlet makes, exported
   * to nowhere (metrics collected every 10 s, spans batched), with W3C trace context propagation.
   */
  static OpenTelemetrySdk telemetry() {
    return telemetry(Sampler.alwaysOn());
  }

  /** {@link #telemetry()} with the given sampler: {@link Sampler#alwaysOff()} records metrics and propagates, no span. */
  static OpenTelemetrySdk telemetry(Sampler sampler) {
    MetricExporter metrics = new MetricExporter() {
      @Override
      public CompletableResultCode export(Collection<MetricData> data) {
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode flush() {
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode shutdown() {
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public AggregationTemporality getAggregationTemporality(InstrumentType type) {
        return AggregationTemporality.CUMULATIVE;
      }
    };
    SpanExporter spans = new SpanExporter() {
      @Override
      public CompletableResultCode export(Collection<SpanData> data) {
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode flush() {
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode shutdown() {
        return CompletableResultCode.ofSuccess();
      }
    };
    return OpenTelemetrySdk.builder()
        .setMeterProvider(SdkMeterProvider.builder()
            .registerMetricReader(PeriodicMetricReader.builder(metrics).setInterval(Duration.ofSeconds(10)).build())
            .build())
        .setTracerProvider(SdkTracerProvider.builder().setSampler(sampler)
            .addSpanProcessor(BatchSpanProcessor.builder(spans).build()).build())
        .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
        .build();
  }

  static Caller okHttp(OkHttpClient http, String url) {
    Request request = new Request.Builder().url(url).build();
    return () -> {
      try (Response r = http.newCall(request).execute()) {
        r.body().bytes();
        return r.isSuccessful();
      }
    };
  }

  /**
   * {@code enqueue()}: the call runs on OkHttp's dispatcher threads; the load thread waits for it,
   * so {@code concurrency} calls are in flight to one host, more than OkHttp's default 5 per host.
   */
  static Caller okHttpAsync(OkHttpClient http, String url) {
    Request request = new Request.Builder().url(url).build();
    return () -> {
      java.util.concurrent.CompletableFuture<Boolean> done = new java.util.concurrent.CompletableFuture<>();
      http.newCall(request).enqueue(new okhttp3.Callback() {
        @Override
        public void onResponse(okhttp3.Call call, Response r) {
          try (r) {
            r.body().bytes();
            done.complete(r.isSuccessful());
          } catch (java.io.IOException e) {
            done.completeExceptionally(e);
          }
        }

        @Override
        public void onFailure(okhttp3.Call call, java.io.IOException e) {
          done.completeExceptionally(e);
        }
      });
      return done.get(30, TimeUnit.SECONDS);
    };
  }

  /**
   * grpc-echo's route as a service config (Upstream's mesh.yaml: timeout 2 s, 2 retries on
   * UNAVAILABLE), with the backoff the xDS route gets (Envoy's defaults: 25 ms base, 250 ms max).
   */
  static final Map<String, ?> GRPC_ECHO_POLICY = Map.of("methodConfig", List.of(Map.of(
      "name", List.of(Map.of()),
      "timeout", "2s",
      "retryPolicy", Map.of(
          "maxAttempts", 3.0,
          "initialBackoff", "0.025s",
          "maxBackoff", "0.25s",
          "backoffMultiplier", 2.0,
          "retryableStatusCodes", List.of("UNAVAILABLE")))));

  /** Waits until the channel is READY, asking it to connect. */
  static void awaitReady(ManagedChannel channel, Duration limit) throws InterruptedException {
    long end = System.nanoTime() + limit.toNanos();
    io.grpc.ConnectivityState state;
    while ((state = channel.getState(true)) != io.grpc.ConnectivityState.READY) {
      if (System.nanoTime() > end) {
        throw new IllegalStateException("gRPC channel not READY within " + limit + " (" + state + ")");
      }
      CountDownLatch changed = new CountDownLatch(1);
      channel.notifyWhenStateChanged(state, changed::countDown);
      changed.await(1, TimeUnit.SECONDS);
    }
  }

  static Caller grpc(ManagedChannel channel) {
    return () -> "ok".equals(ClientCalls.blockingUnaryCall(channel, Upstream.ECHO,
        CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), "hi"));
  }

  /** {@code threads} callers back to back for {@code seconds}: throughput and CPU per call. */
  static Map<String, Object> closedLoop(Caller caller, int threads, double seconds, List<Long> sidecarPids,
      long upstreamPid) throws InterruptedException {
    LongAdder ok = new LongAdder();
    LongAdder failed = new LongAdder();
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(threads);
    long durationNanos = (long) (seconds * 1e9);
    long[] window = new long[2];
    List<Thread> workers = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      Thread t = new Thread(() -> {
        try {
          go.await();
          long end = window[0] + durationNanos;
          while (System.nanoTime() < end) {
            try {
              if (caller.call()) {
                ok.increment();
              } else {
                failed.increment();
              }
            } catch (Exception e) {
              failed.increment();
            }
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          done.countDown();
        }
      }, "load-" + i);
      workers.add(t);
      t.start();
    }
    long cpu0 = Proc.selfCpuNanos();
    long side0 = sidecarCpu(sidecarPids);
    long up0 = Proc.cpuNanos(upstreamPid);
    window[0] = System.nanoTime();
    go.countDown();
    done.await();
    long elapsed = System.nanoTime() - window[0];
    long cpu = Proc.selfCpuNanos() - cpu0;
    long side = sidecarCpu(sidecarPids) - side0;
    long up = Proc.cpuNanos(upstreamPid) - up0;
    long n = Math.max(1, ok.sum());
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("peakRps", ok.sum() / (elapsed / 1e9));
    r.put("peakErrors", failed.sum());
    r.put("clientCpuUsPerReq", cpu / 1e3 / n);
    r.put("sidecarCpuUsPerReq", side / 1e3 / n);
    r.put("cpuUsPerReq", (cpu + side) / 1e3 / n);
    r.put("upstreamCpuUsPerReq", up / 1e3 / n);
    return r;
  }

  private static long sidecarCpu(List<Long> pids) {
    long sum = 0;
    for (long pid : pids) {
      sum += Proc.cpuNanos(pid);
    }
    return sum;
  }

  /**
   * Requests due every {@code 1/rate} s for {@code seconds}, each handed to a pool of
   * {@code threads} threads (as many as the closed loop used, so no connection is opened now);
   * latency counts from when the request was due, queueing in the pool included.
   */
  static Map<String, Object> openLoop(Caller caller, int rate, double seconds, int threads)
      throws InterruptedException {
    Recorder recorder = new Recorder(3);
    LongAdder failed = new LongAdder();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    long period = 1_000_000_000L / rate;
    long count = (long) (seconds * rate);
    long start = System.nanoTime() + 10_000_000;
    for (long i = 0; i < count; i++) {
      long due = start + i * period;
      long now;
      while ((now = System.nanoTime()) < due) {
        LockSupport.parkNanos(due - now);
      }
      pool.execute(() -> {
        boolean success;
        try {
          success = caller.call();
        } catch (Exception e) {
          success = false;
        }
        if (!success) {
          failed.increment();
        }
        recorder.recordValue(Math.max(1, System.nanoTime() - due));
      });
    }
    pool.shutdown();
    if (!pool.awaitTermination(60, TimeUnit.SECONDS)) {
      pool.shutdownNow();
    }
    Histogram h = recorder.getIntervalHistogram();
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("rate", rate);
    r.put("sent", count);
    r.put("latencyErrors", failed.sum());
    r.put("p50Us", h.getValueAtPercentile(50) / 1e3);
    r.put("p90Us", h.getValueAtPercentile(90) / 1e3);
    r.put("p99Us", h.getValueAtPercentile(99) / 1e3);
    r.put("p999Us", h.getValueAtPercentile(99.9) / 1e3);
    r.put("maxUs", h.getMaxValue() / 1e3);
    return r;
  }
}
