package io.meshlet.controlplane.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Node's xDS client, {@code @grpc/grpc-js-xds}, in a child process: {@code conformance/node/client.js}
 * at the repository root, bootstrapped at a control server on loopback and driven over its
 * stdin/stdout line protocol. Each instance is one Node process with one xDS client (one ADS
 * stream) and one channel per service it has called.
 *
 * <p>Thread-safe: requests may be sent from several threads and overlap; each answer is matched
 * to its request by id. {@link #close()} ends the process (forcibly if it does not exit at once).
 */
public final class NodeXdsDriver implements AutoCloseable {

  /** How to install what the driver needs, for skip messages. */
  public static final String INSTALL_HINT =
      "install Node.js 18+ and run 'npm ci --prefix conformance/node' at the repository root";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Process process;
  private final Writer stdin;
  private final Path log;
  private final AtomicLong ids = new AtomicLong();
  private final Map<String, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
  private final Thread reader;

  private NodeXdsDriver(Process process, Path log) {
    this.process = process;
    this.log = log;
    this.stdin = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    this.reader = new Thread(this::readAnswers, "grpc-js-xds-driver-stdout");
    this.reader.setDaemon(true);
    this.reader.start();
  }

  /** The driver's folder, {@code conformance/node}, found from the working directory upwards. */
  public static Optional<Path> driverDir() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path candidate = dir.resolve("conformance").resolve("node");
      if (Files.isRegularFile(candidate.resolve("client.js"))) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  /** Why the driver cannot run here (for a JUnit assumption), or empty when it can. */
  public static Optional<String> unavailableReason() {
    Optional<Path> dir = driverDir();
    if (dir.isEmpty()) {
      return Optional.of("conformance/node/client.js not found above " + Path.of("").toAbsolutePath());
    }
    if (!Files.isDirectory(dir.get().resolve("node_modules").resolve("@grpc").resolve("grpc-js-xds"))) {
      return Optional.of(dir.get().resolve("node_modules") + " has no @grpc/grpc-js-xds: " + INSTALL_HINT);
    }
    try {
      Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
      String version = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        return Optional.of("'node --version' failed (" + version + "): " + INSTALL_HINT);
      }
    } catch (IOException e) {
      return Optional.of("no 'node' on the PATH (" + e.getMessage() + "): " + INSTALL_HINT);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.of("interrupted while looking for node");
    }
    return Optional.empty();
  }

  /**
   * Starts a driver whose xDS client talks to the control server at {@code 127.0.0.1:xdsPort} as
   * {@code nodeId}; its stderr (grpc-js's own log; set {@code GRPC_TRACE}/{@code GRPC_VERBOSITY}
   * in the environment for more) goes to {@code log}.
   */
  public static NodeXdsDriver start(int xdsPort, String nodeId, Path log) throws IOException {
    Path dir = driverDir().orElseThrow(() -> new IllegalStateException("conformance/node not found"));
    Files.createDirectories(log.toAbsolutePath().getParent());
    ProcessBuilder pb = new ProcessBuilder("node", "client.js")
        .directory(dir.toFile())
        .redirectError(ProcessBuilder.Redirect.to(log.toFile()));
    pb.environment().put("GRPC_XDS_BOOTSTRAP_CONFIG", """
        {
          "xds_servers": [ { "server_uri": "127.0.0.1:%d",
                             "channel_creds": [ { "type": "insecure" } ],
                             "server_features": [ "xds_v3" ] } ],
          "node": { "id": "%s", "cluster": "meshlet-test", "locality": {} }
        }
        """.formatted(xdsPort, nodeId));
    // grpc-js-xds 1.14.1 refuses a bootstrap whose node has no "locality" (grpc-java does not).
    pb.environment().remove("GRPC_XDS_BOOTSTRAP");
    NodeXdsDriver driver = new NodeXdsDriver(pb.start(), log);
    try {
      driver.request("ping", 20_000);
    } catch (RuntimeException e) {
      driver.close();
      throw e;
    }
    return driver;
  }

  /** The versions of {@code @grpc/grpc-js} and {@code @grpc/grpc-js-xds} the driver runs. */
  public String grpcJsXdsVersion() {
    return request("ping", 10_000).path("grpcJsXds").asText();
  }

  /** The outcome of one call: the answering backend's name, or the gRPC status it failed with. */
  public record Result(boolean ok, String who, String status, String details, long millis) {

    /** The backend's name for a success, the status code's name (e.g. {@code UNAVAILABLE}) for a failure. */
    public String outcome() {
      return ok ? who : status;
    }

    @Override
    public String toString() {
      return ok ? who + " (" + millis + " ms)" : status + ": " + details + " (" + millis + " ms)";
    }
  }

  /** Options of a {@code call} request. */
  public record Calls(String method, int count, long timeoutMillis, boolean inParallel, boolean waitsForReady,
      Map<String, String> headers) {

    public static Calls who(int count) {
      return new Calls("Who", count, 5_000, false, false, Map.of());
    }

    public Calls method(String name) {
      return new Calls(name, count, timeoutMillis, inParallel, waitsForReady, headers);
    }

    public Calls timeout(long millis) {
      return new Calls(method, count, millis, inParallel, waitsForReady, headers);
    }

    public Calls parallel() {
      return new Calls(method, count, timeoutMillis, true, waitsForReady, headers);
    }

    public Calls waitForReady() {
      return new Calls(method, count, timeoutMillis, inParallel, true, headers);
    }

    public Calls header(String name, String value) {
      Map<String, String> h = new java.util.LinkedHashMap<>(headers);
      h.put(name, value);
      return new Calls(method, count, timeoutMillis, inParallel, waitsForReady, Map.copyOf(h));
    }

    String line(String service) {
      StringBuilder b = new StringBuilder("call ").append(service).append(' ').append(method).append(' ')
          .append(count).append(" --timeout=").append(timeoutMillis);
      if (inParallel) {
        b.append(" --parallel");
      }
      if (waitsForReady) {
        b.append(" --wait-for-ready");
      }
      headers.forEach((k, v) -> b.append(' ').append(k).append('=').append(v));
      return b.toString();
    }

    /** Time enough for all the calls and the driver's round trip. */
    long answerTimeoutMillis() {
      return (inParallel ? timeoutMillis : timeoutMillis * count) + 10_000;
    }
  }

  /** Makes the calls on the service's {@code xds:///service} channel and returns their outcomes in order. */
  public List<Result> call(String service, Calls calls) {
    return join(callAsync(service, calls), calls.answerTimeoutMillis());
  }

  /** {@link #call} without waiting: the answer completes the future. */
  public CompletableFuture<List<Result>> callAsync(String service, Calls calls) {
    return send(calls.line(service)).thenApply(NodeXdsDriver::results);
  }

  /** The service channel's connectivity state ({@code IDLE}, {@code CONNECTING}, {@code READY}, ...); asks it to connect. */
  public String state(String service) {
    return request("state " + service, 10_000).path("state").asText();
  }

  /** Closes the service's channel; the next call opens a new one. */
  public void closeChannel(String service) {
    request("close " + service, 10_000);
  }

  /** The last lines grpc-js wrote to stderr, for failure messages. */
  public String logTail(int lines) {
    try {
      List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException | UncheckedIOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  public Path log() {
    return log;
  }

  private JsonNode request(String command, long timeoutMillis) {
    return join(send(command), timeoutMillis);
  }

  private synchronized CompletableFuture<JsonNode> send(String command) {
    String id = Long.toString(ids.incrementAndGet());
    CompletableFuture<JsonNode> answer = new CompletableFuture<>();
    pending.put(id, answer);
    try {
      stdin.write(id + " " + command + "\n");
      stdin.flush();
    } catch (IOException e) {
      pending.remove(id);
      answer.completeExceptionally(new IllegalStateException(
          "the Node driver is gone (exit " + exitCode() + "); its log:\n" + logTail(30), e));
    }
    return answer;
  }

  private static <T> T join(CompletableFuture<T> answer, long timeoutMillis) {
    try {
      return answer.get(timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("no answer from the Node driver in " + timeoutMillis + " ms", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static List<Result> results(JsonNode answer) {
    List<Result> results = new ArrayList<>();
    for (JsonNode r : answer.path("results")) {
      results.add(new Result(r.path("ok").asBoolean(), r.path("who").asText(null), r.path("status").asText(null),
          r.path("details").asText(null), r.path("ms").asLong()));
    }
    return results;
  }

  private void readAnswers() {
    try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
        StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null) {
        JsonNode answer;
        try {
          answer = JSON.readTree(line);
        } catch (IOException e) {
          continue; // not an answer: a stray line on stdout
        }
        CompletableFuture<JsonNode> f = pending.remove(answer.path("id").asText());
        if (f == null) {
          continue;
        }
        if (answer.has("error")) {
          f.completeExceptionally(new IllegalArgumentException("the Node driver refused a request: "
              + answer.path("error").asText()));
        } else {
          f.complete(answer);
        }
      }
    } catch (IOException e) {
      // the process ended; fail what is left below
    }
    IllegalStateException gone = new IllegalStateException(
        "the Node driver exited (" + exitCode() + "); its log:\n" + logTail(30));
    pending.values().forEach(f -> f.completeExceptionally(gone));
    pending.clear();
  }

  private String exitCode() {
    return process.isAlive() ? "still running" : "exit " + process.exitValue();
  }

  /** Closes stdin (the driver exits on it) and makes sure the process is gone. */
  @Override
  public void close() {
    try {
      stdin.close();
    } catch (IOException e) {
      // already gone
    }
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }
}
