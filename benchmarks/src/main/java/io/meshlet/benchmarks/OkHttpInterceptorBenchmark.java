package io.meshlet.benchmarks;

import com.sun.net.httpserver.HttpServer;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.okhttp.MeshOkHttp;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One HTTP GET over loopback to an in-process server (the JDK's {@code HttpServer}, answering
 * {@code ok}), by plain OkHttp to {@code 127.0.0.1:port} and by Meshlet's OkHttp client to
 * {@code http://echo/} through a real control server's config (a route with a timeout and
 * retries, one endpoint). The difference is the interceptor's cost per call.
 *
 * <pre>
 * ./mvnw -B -q -DskipTests package -pl benchmarks -am
 * java -jar benchmarks/target/benchmarks.jar OkHttpInterceptorBenchmark -prof gc
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class OkHttpInterceptorBenchmark {

  private HttpServer upstream;
  private ControlServer controlServer;
  private MeshClient mesh;
  private OkHttpClient plain;
  private OkHttpClient meshlet;
  private Request direct;
  private Request viaMesh;
  private Path dir;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    // Without TCP_NODELAY the JDK server's separate header and body writes meet the client's
    // delayed ACK and every call takes 40 ms.
    System.setProperty("sun.net.httpserver.nodelay", "true");
    upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 128);
    upstream.setExecutor(Executors.newFixedThreadPool(2));
    byte[] ok = "ok".getBytes(StandardCharsets.UTF_8);
    upstream.createContext("/", exchange -> {
      exchange.getRequestBody().readAllBytes();
      exchange.sendResponseHeaders(200, ok.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(ok);
      }
    });
    upstream.start();
    int port = upstream.getAddress().getPort();
    dir = Files.createTempDirectory("meshlet-bench");
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, """
        services:
          echo:
            endpoints: [ { address: 127.0.0.1:%d } ]
            routes:
              - to: [ { weight: 100 } ]
                timeout: 2s
                retries: { attempts: 2, on: [5xx, reset, connect-failure] }
        """.formatted(port));
    controlServer = ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build().start();
    mesh = MeshClient.builder().xdsPlaintext().serviceName("bench").controlServers("127.0.0.1:" + controlServer.xdsPort())
        .build().start();
    if (!mesh.awaitConfig(Duration.ofSeconds(30))) {
      throw new IllegalStateException("no mesh config");
    }
    plain = new OkHttpClient.Builder().build();
    meshlet = MeshOkHttp.client(mesh);
    direct = new Request.Builder().url("http://127.0.0.1:" + port + "/items").build();
    viaMesh = new Request.Builder().url("http://echo/items").build();
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    mesh.close();
    controlServer.close();
    upstream.stop(0);
    ((java.util.concurrent.ExecutorService) upstream.getExecutor()).shutdownNow();
    plain.dispatcher().executorService().shutdown();
    plain.connectionPool().evictAll();
    meshlet.connectionPool().evictAll();
    Files.deleteIfExists(dir.resolve("mesh.yaml"));
    Files.deleteIfExists(dir);
  }

  @Benchmark
  public String plainOkHttp() throws IOException {
    try (Response r = plain.newCall(direct).execute()) {
      return r.body().string();
    }
  }

  @Benchmark
  public String meshletOkHttp() throws IOException {
    try (Response r = meshlet.newCall(viaMesh).execute()) {
      return r.body().string();
    }
  }
}
