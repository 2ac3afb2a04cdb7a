package io.meshlet.benchmarks.harness;

import io.meshlet.identity.WorkloadIdentity;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.List;

/**
 * The sidecar-mesh shape with Debian's HAProxy: the client calls sidecar A in plaintext, A calls
 * sidecar B over mTLS (a client certificate from the mesh CA, B's chain verified against the
 * CA), B verifies A's certificate and calls the upstream in plaintext. Both proxy HTTP (mode
 * http, keep-alive both sides, connections to B reused).
 */
final class Sidecars implements AutoCloseable {

  private final Proc a;
  private final Proc b;
  private final long pidA;
  private final long pidB;
  private final int port;

  private Sidecars(Proc a, long pidA, Proc b, long pidB, int port) {
    this.a = a;
    this.pidA = pidA;
    this.b = b;
    this.pidB = pidB;
    this.port = port;
  }

  /** The port the client calls (sidecar A). */
  int port() {
    return port;
  }

  List<Long> pids() {
    return List.of(pidA, pidB);
  }

  static Sidecars start(Path haproxy, Path dir, WorkloadIdentity clientSide, WorkloadIdentity serverSide,
      int upstreamPort) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Path ca = write(dir.resolve("ca.pem"), pem(clientSide.trustBundle()));
    Path aPem = write(dir.resolve("sidecar-a.pem"), pem(clientSide.chain()) + key(clientSide));
    Path bPem = write(dir.resolve("sidecar-b.pem"), pem(serverSide.chain()) + key(serverSide));
    int portA = Proc.freePort();
    int portB = Proc.freePort();
    String common = """
        global
          maxconn 4096
        defaults
          mode http
          option http-keep-alive
          timeout connect 5s
          timeout client 60s
          timeout server 60s
          timeout http-keep-alive 60s
        """;
    Path cfgA = write(dir.resolve("sidecar-a.cfg"), common + """
        frontend app_out
          bind 127.0.0.1:%d
          default_backend mesh
        backend mesh
          http-reuse always
          server b 127.0.0.1:%d ssl crt %s ca-file %s verify required
        """.formatted(portA, portB, aPem, ca));
    Path cfgB = write(dir.resolve("sidecar-b.cfg"), common + """
        frontend mesh_in
          bind 127.0.0.1:%d ssl crt %s ca-file %s verify required
          default_backend app
        backend app
          http-reuse always
          server app 127.0.0.1:%d
        """.formatted(portB, bPem, ca, upstreamPort));
    Proc b = haproxy(haproxy, "sidecar-b", cfgB, dir);
    long pidB = Long.parseLong(b.expect("PID").trim());
    Proc a = haproxy(haproxy, "sidecar-a", cfgA, dir);
    long pidA = Long.parseLong(a.expect("PID").trim());
    awaitPort(portB);
    awaitPort(portA);
    return new Sidecars(a, pidA, b, pidB, portA);
  }

  /** haproxy in the foreground under a shell that kills it when our stdin closes. */
  private static Proc haproxy(Path haproxy, String name, Path cfg, Path dir) throws IOException {
    return Proc.start(name, List.of("sh", "-c",
        "\"$1\" -db -f \"$2\" </dev/null & hp=$!; echo \"PID $hp\"; read _ ; kill $hp 2>/dev/null; wait $hp",
        "sh", haproxy.toString(), cfg.toString()), dir.resolve(name + ".log"));
  }

  private static void awaitPort(int port) throws IOException, InterruptedException {
    long end = System.nanoTime() + 10_000_000_000L;
    while (true) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 500);
        return;
      } catch (IOException e) {
        if (System.nanoTime() > end) {
          throw new IOException("haproxy did not open port " + port + " within 10 s (see its log)", e);
        }
        Thread.sleep(50);
      }
    }
  }

  private static Path write(Path file, String content) throws IOException {
    Files.writeString(file, content, StandardCharsets.US_ASCII);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    return file;
  }

  private static String pem(List<X509Certificate> certs) {
    StringBuilder sb = new StringBuilder();
    for (X509Certificate c : certs) {
      try {
        sb.append(block("CERTIFICATE", c.getEncoded()));
      } catch (CertificateEncodingException e) {
        throw new IllegalStateException(e);
      }
    }
    return sb.toString();
  }

  private static String key(WorkloadIdentity id) {
    return block("PRIVATE KEY", id.privateKey().getEncoded()); // PKCS#8
  }

  private static String block(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  @Override
  public void close() {
    a.close();
    b.close();
  }
}
