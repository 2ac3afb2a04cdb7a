package io.meshlet.controlplane.testing;

import io.meshlet.controlplane.ControlServer;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * A real etcd cluster of three members (or as many as asked for) on loopback, started from the
 * {@code etcd} binary on the PATH, each in its own data directory under a temp directory. Members
 * can be killed (SIGKILL) and restarted one by one or all together.
 *
 * <p>{@link #start()} skips the calling test (a JUnit assumption, with a message saying how to
 * install etcd) when there is no {@code etcd} binary. {@link #close()} kills every member by its
 * process and deletes the data.
 */
public final class EtcdCluster implements AutoCloseable {

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

  private final Path dir;
  private final String token = "meshlet-it-" + UUID.randomUUID().toString().substring(0, 8);
  private final int[] clientPorts;
  private final int[] peerPorts;
  private final Process[] members;
  private final String etcd;

  private EtcdCluster(String etcd, int size) throws IOException {
    this.etcd = etcd;
    this.dir = Files.createTempDirectory("meshlet-etcd-");
    this.clientPorts = new int[size];
    this.peerPorts = new int[size];
    this.members = new Process[size];
    // All ports are held open until every one is chosen, so no two members share one.
    List<ServerSocket> held = new java.util.ArrayList<>();
    try {
      for (int i = 0; i < size; i++) {
        clientPorts[i] = hold(held);
        peerPorts[i] = hold(held);
      }
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
  }

  /** The {@code etcd} binary on the PATH, if there is one. */
  public static java.util.Optional<String> binary() {
    String path = System.getenv().getOrDefault("PATH", "");
    for (String d : path.split(File.pathSeparator)) {
      Path candidate = Path.of(d.isEmpty() ? "." : d, "etcd");
      if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
        return java.util.Optional.of(candidate.toString());
      }
    }
    return java.util.Optional.empty();
  }

  /** Skips the calling test unless an {@code etcd} binary is on the PATH. */
  public static void assumeEtcdInstalled() {
    Assumptions.assumeTrue(binary().isPresent(),
        "etcd not on PATH: install it with apt-get install -y etcd-server");
  }

  /** Starts three members and waits until the cluster is healthy. */
  public static EtcdCluster start() throws IOException {
    return start(3);
  }

  /** Starts {@code members} members (one is enough when no test kills any) and waits until healthy. */
  public static EtcdCluster start(int members) throws IOException {
    assumeEtcdInstalled();
    EtcdCluster cluster = new EtcdCluster(binary().orElseThrow(), members);
    try {
      for (int i = 0; i < cluster.members.length; i++) {
        cluster.launch(i);
      }
      cluster.awaitHealthy(Duration.ofSeconds(30));
    } catch (IOException | RuntimeException | Error e) {
      cluster.close();
      throw e;
    }
    return cluster;
  }

  /** Client URLs of every member, comma-separated, as {@code --etcd} takes them. */
  public String endpoints() {
    return endpointList().stream().collect(Collectors.joining(","));
  }

  /**
   * A CA key-encryption key file (32 random bytes, base64, owner-only) made once per cluster: what
   * every replica over this cluster is given so that they share one CA
   * ({@code ControlServer.Builder.caKeyEncryptionKeyFile}).
   */
  public synchronized Path caKeyEncryptionKey() {
    Path file = dir.resolve("ca-kek.b64");
    try {
      if (!Files.exists(file)) {
        byte[] key = new byte[32];
        new java.security.SecureRandom().nextBytes(key);
        Files.writeString(file, java.util.Base64.getEncoder().encodeToString(key) + "\n");
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }

  /** Client URLs of every member. */
  public List<String> endpointList() {
    List<String> out = new ArrayList<>();
    for (int port : clientPorts) {
      out.add("http://127.0.0.1:" + port);
    }
    return out;
  }

  /** Kills one member (SIGKILL) and waits for its process to end. */
  public void kill(int member) {
    Process p = members[member];
    if (p != null) {
      p.destroyForcibly();
      try {
        p.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      members[member] = null;
    }
  }

  /** Kills every member. */
  public void killAll() {
    for (int i = 0; i < members.length; i++) {
      kill(i);
    }
  }

  /** Starts a killed member again on its data directory and ports. */
  public void restart(int member) throws IOException {
    if (members[member] == null) {
      launch(member);
    }
  }

  /** Starts every killed member again and waits until the cluster is healthy. */
  public void restartAll() throws IOException {
    for (int i = 0; i < members.length; i++) {
      restart(i);
    }
    awaitHealthy(Duration.ofSeconds(30));
  }

  /** Waits until every running member reports itself healthy. */
  public void awaitHealthy(Duration timeout) {
    Await.until("etcd members healthy", timeout, () -> {
      for (int i = 0; i < members.length; i++) {
        if (members[i] != null && !healthy(i)) {
          return false;
        }
      }
      return true;
    });
  }

  private boolean healthy(int member) {
    try {
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(
          "http://127.0.0.1:" + clientPorts[member] + "/health")).timeout(Duration.ofSeconds(1)).build(),
          HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 && r.body().contains("\"health\":\"true\"");
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private void launch(int i) throws IOException {
    StringBuilder initial = new StringBuilder();
    for (int j = 0; j < members.length; j++) {
      initial.append(j == 0 ? "" : ",").append(name(j)).append("=http://127.0.0.1:").append(peerPorts[j]);
    }
    List<String> cmd = List.of(etcd,
        "--name", name(i),
        "--data-dir", dir.resolve(name(i)).toString(),
        "--listen-client-urls", "http://127.0.0.1:" + clientPorts[i],
        "--advertise-client-urls", "http://127.0.0.1:" + clientPorts[i],
        "--listen-peer-urls", "http://127.0.0.1:" + peerPorts[i],
        "--initial-advertise-peer-urls", "http://127.0.0.1:" + peerPorts[i],
        "--initial-cluster", initial.toString(),
        "--initial-cluster-token", token,
        "--initial-cluster-state", "new",
        "--heartbeat-interval", "50",
        "--election-timeout", "500",
        "--log-level", "warn");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(name(i) + ".log").toFile()));
    members[i] = pb.start();
  }

  private String name(int i) {
    return token + "-" + i;
  }

  @Override
  public void close() {
    killAll();
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static int hold(List<ServerSocket> held) throws IOException {
    ServerSocket s = new ServerSocket(0);
    held.add(s);
    return s.getLocalPort();
  }
}
