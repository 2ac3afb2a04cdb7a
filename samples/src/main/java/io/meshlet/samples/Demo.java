package io.meshlet.samples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The Meshlet demo: starts the control server (the real jar, as its own process) on a mesh.yaml,
 * starts catalog instances v1 and v2, and calls {@code xds:///catalog} through grpc-java's own
 * xDS client while the canary moves 90/10 -> 50/50 -> 0/100 by editing the file. A bad edit is
 * refused while traffic keeps flowing. Everything it starts is stopped when it ends, also on
 * Ctrl-C.
 *
 * <pre>
 * java -jar samples/target/meshlet-demo.jar [--quick] [--server-jar PATH]
 * </pre>
 */
public final class Demo {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private final boolean quick;
  private final Path serverJar;
  private final List<AutoCloseable> resources = new ArrayList<>();
  private Process server;
  private Path meshFile;
  private Map<String, String> addresses;
  private int adminPort;
  private Path serverLog;
  private long calls;
  private long failures;

  private Demo(boolean quick, Path serverJar) {
    this.quick = quick;
    this.serverJar = serverJar;
  }

  public static void main(String[] args) throws Exception {
    boolean quick = false;
    Path jar = Path.of("xds-control-server", "target", "xds-control-server.jar");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick" -> quick = true;
        case "--server-jar" -> jar = Path.of(args[++i]);
        default -> {
          System.err.println("usage: meshlet-demo [--quick] [--server-jar PATH]");
          System.exit(2);
        }
      }
    }
    if (!Files.isRegularFile(jar)) {
      System.err.println("The control server jar is missing: " + jar.toAbsolutePath()
          + "\nBuild it first: ./mvnw -B -q -DskipTests package");
      System.exit(2);
    }
    Demo demo = new Demo(quick, jar);
    Thread cleanup = new Thread(demo::stopAll, "demo-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    int code;
    try {
      code = demo.run();
    } catch (RuntimeException e) {
      System.err.println("demo failed: " + e.getMessage());
      code = 1;
    } finally {
      demo.stopAll();
    }
    System.exit(code);
  }

  private int run() throws Exception {
    Path work = Files.createTempDirectory("meshlet-demo");
    title("1. Starting catalog instances: v1 (two) and v2 (one)");
    CatalogServer v1a = start(new CatalogServer("v1"));
    CatalogServer v1b = start(new CatalogServer("v1"));
    CatalogServer v2 = start(new CatalogServer("v2"));
    addresses = Map.of("v1a", v1a.address(), "v1b", v1b.address(), "v2", v2.address());
    say("catalog v1 on %s and %s, v2 on %s", v1a.address(), v1b.address(), v2.address());

    title("2. Starting the control server on mesh.yaml (90% v1, 10% v2)");
    meshFile = work.resolve("mesh.yaml");
    writeMesh(90, 10, false);
    int xdsPort = freePort();
    adminPort = freePort();
    Path log = work.resolve("control-server.log");
    serverLog = log;
    server = new ProcessBuilder(javaCommand(), "-jar", serverJar.toString(), "serve",
        "--config", meshFile.toString(), "--xds-port", String.valueOf(xdsPort),
        "--admin-port", String.valueOf(adminPort))
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .start();
    awaitHealthy(Duration.ofSeconds(60));
    say("xDS on 127.0.0.1:%d, admin on http://127.0.0.1:%d/ (log: %s)", xdsPort, adminPort, log);
    say("serving config version %s", config().path("version").asText());

    System.setProperty("io.grpc.xds.bootstrapConfig", """
        { "xds_servers": [ { "server_uri": "127.0.0.1:%d", "channel_creds": [ { "type": "insecure" } ],
                             "server_features": [ "xds_v3" ] } ],
          "node": { "id": "meshlet-demo-client", "cluster": "demo" } }
        """.formatted(xdsPort));
    ManagedChannel channel = Grpc.newChannelBuilder("xds:///catalog", InsecureChannelCredentials.create()).build();
    resources.add(() -> {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    });

    title("3. Calling xds:///catalog through grpc-java's own xDS client");
    ClientCalls.blockingUnaryCall(channel, CatalogServer.GET_ITEM,
        CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(30, TimeUnit.SECONDS), "item-1");
    int n = quick ? 200 : 1000;
    split(channel, n, "canary 90/10");

    title("4. Moving the canary by editing mesh.yaml");
    for (int[] w : new int[][] {{50, 50}, {0, 100}}) {
      String before = config().path("version").asText();
      long start = System.nanoTime();
      writeMesh(w[0], w[1], false);
      awaitVersionChange(before);
      long followed = awaitClientSeesOnlyV2OrMixed(channel, w[1] == 100);
      say("edit served as version %s; client following %d ms after the write",
          config().path("version").asText(), TimeUnit.NANOSECONDS.toMillis(followed - start));
      split(channel, n, "canary " + w[0] + "/" + w[1]);
    }

    title("5. A bad edit is refused; the last good config keeps serving");
    String good = config().path("version").asText();
    writeMesh(0, 100, true);
    JsonNode refused = awaitRefusal();
    for (JsonNode error : refused.path("errors")) {
      say("refused: %s", error.asText());
    }
    say("still serving version %s (unchanged: %s)", config().path("version").asText(),
        good.equals(config().path("version").asText()));
    split(channel, n, "after the bad edit");

    title("6. What the control server knows about this client (GET /clients)");
    for (JsonNode client : get("/clients").path("clients")) {
      say("node %s:", client.path("nodeId").asText());
      client.path("resources").fields().forEachRemaining(e -> say("  %-22s subscribed %s, ACKed %s",
          e.getKey(), e.getValue().path("subscribed"), e.getValue().path("ackedVersion").asText()));
    }

    title("Done");
    say("%d calls, %d failed", calls, failures);
    return failures == 0 ? 0 : 1;
  }

  private void split(ManagedChannel channel, int n, String label) {
    Map<String, Integer> seen = new TreeMap<>();
    for (int i = 0; i < n; i++) {
      seen.merge(call(channel), 1, Integer::sum);
    }
    StringBuilder line = new StringBuilder(String.format("%-20s", label + ":"));
    for (String version : List.of("v1", "v2")) {
      int count = seen.getOrDefault(version, 0);
      double share = 100.0 * count / n;
      line.append(String.format("  %s %-20s %5.1f%%", version, "#".repeat((int) Math.round(share / 5)), share));
    }
    if (seen.containsKey("failed")) {
      line.append("  failed ").append(seen.get("failed"));
    }
    say("%s", line);
  }

  private String call(ManagedChannel channel) {
    calls++;
    try {
      return ClientCalls.blockingUnaryCall(channel, CatalogServer.GET_ITEM,
          CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS), "item-1");
    } catch (StatusRuntimeException e) {
      failures++;
      return "failed";
    }
  }

  private long awaitClientSeesOnlyV2OrMixed(ManagedChannel channel, boolean onlyV2) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      Map<String, Integer> seen = new TreeMap<>();
      for (int i = 0; i < 20; i++) {
        seen.merge(call(channel), 1, Integer::sum);
      }
      boolean followed = onlyV2 ? seen.keySet().equals(java.util.Set.of("v2"))
          : seen.getOrDefault("v2", 0) >= 7;
      if (followed) {
        return System.nanoTime();
      }
    }
    throw new IllegalStateException("the client did not follow the edit within 30 s");
  }

  private void writeMesh(int v1, int v2, boolean broken) throws IOException {
    String text;
    try (InputStream in = Demo.class.getResourceAsStream("/demo-mesh.yaml")) {
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    for (Map.Entry<String, String> e : addresses.entrySet()) {
      text = text.replace("{{" + e.getKey() + "}}", e.getValue());
    }
    text = text.replace("{{v1weight}}", String.valueOf(v1)).replace("{{v2weight}}", String.valueOf(v2));
    if (broken) {
      text = text.replace("subset: v2, weight: 100 }", "subset: v3, weight: 100 }")
          .replace("timeout: 2s", "timeout: two seconds");
    }
    Path tmp = Files.createTempFile(meshFile.getParent(), "mesh", ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, meshFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    say("wrote %s%s", meshFile.getFileName(), broken ? " (with mistakes)" : ": v1 " + v1 + "%, v2 " + v2 + "%");
  }

  private void awaitHealthy(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!server.isAlive()) {
        throw new IllegalStateException("the control server exited with " + server.exitValue()
            + "; its log is in " + serverLog);
      }
      try {
        if (HTTP.send(request("/healthz"), HttpResponse.BodyHandlers.ofString()).statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not up yet
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("the control server did not become healthy in " + timeout);
  }

  private void awaitVersionChange(String before) throws InterruptedException {
    for (int i = 0; i < 300; i++) {
      if (!config().path("version").asText().equals(before)) {
        return;
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException("the control server did not serve the edit");
  }

  private JsonNode awaitRefusal() throws InterruptedException {
    for (int i = 0; i < 300; i++) {
      JsonNode refused = config().path("lastRefused");
      if (!refused.isNull() && !refused.isMissingNode()) {
        return refused;
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException("the control server did not report the refused edit");
  }

  private JsonNode config() {
    return get("/config");
  }

  private JsonNode get(String path) {
    try {
      return JSON.readTree(HTTP.send(request(path), HttpResponse.BodyHandlers.ofString()).body());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private HttpRequest request(String path) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
        .timeout(Duration.ofSeconds(5)).build();
  }

  private <T extends AutoCloseable> T start(T resource) {
    resources.add(resource);
    return resource;
  }

  private synchronized void stopAll() {
    for (int i = resources.size() - 1; i >= 0; i--) {
      try {
        resources.get(i).close();
      } catch (Exception e) {
        // keep stopping the rest
      }
    }
    resources.clear();
    if (server != null && server.isAlive()) {
      server.destroy();
      try {
        if (!server.waitFor(10, TimeUnit.SECONDS)) {
          server.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        server.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  private static String javaCommand() {
    return ProcessHandle.current().info().command().orElse("java");
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static void title(String text) {
    System.out.println();
    System.out.println("== " + text);
  }

  private static void say(String format, Object... args) {
    System.out.println("   " + String.format(format, args));
  }
}
