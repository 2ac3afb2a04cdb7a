// Long by design: the demo is a script read top to bottom (start, canary, kill, refuse, stop);
// each phase is a method here so a reader follows it without jumping files.
package io.meshlet.samples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshlet.samples.Children.Child;
import io.meshlet.samples.Traffic.Window;
import io.meshlet.samples.catalog.CatalogApplication;
import io.meshlet.samples.frontend.FrontendApplication;
import io.meshlet.samples.inventory.InventoryApplication;
import io.meshlet.samples.payments.PaymentsApplication;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Meshlet demo: runs the sample services against the control server, each as its own JVM on
 * this machine, and shows the mesh at work while traffic flows through the frontend:
 * <ol>
 *   <li>the control server (its real jar) on {@code samples/mesh.yaml}, with join tokens for its CA
 *       and its CA directory in the work directory: xDS and the CA on TLS, the default;
 *   <li>catalog v1 (two instances) and v2 (one), on Tomcat with strict mTLS, inventory (gRPC),
 *       frontend (on Jetty) and payments (WebFlux on Reactor Netty), each checking the control server against its trust bundle,
 *       getting its certificate with its join token, and registering itself on an xDS stream that
 *       presents that certificate; one request's trace id as it crosses frontend and catalog, and the
 *       Meshlet lines of the frontend's {@code /actuator/prometheus};
 *   <li>the canary moving 90/10 -> 50/50 -> 0/100 as the demo edits mesh.yaml, with the live split;
 *   <li>a catalog v1 instance killed while traffic flows: retries and ejection keep calls green;
 *   <li>payments, in the mesh but not allowed to call the catalog, refused with 403.
 * </ol>
 * It stops everything it started when it ends, also on Ctrl-C, and exits 0 only if every phase
 * behaved.
 *
 * <pre>
 * java -jar samples/target/meshlet-demo.jar [--quick] [--server-jar PATH]
 * </pre>
 */
public final class Demo {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern CANARY =
      Pattern.compile("\\{ subset: v1, weight: (\\d+) \\}, \\{ subset: v2, weight: (\\d+) \\}");
  private static final List<String> JVM_OPTIONS =
      List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k");

  private final boolean quick;
  private final Path serverJar;
  private final PrintStream out;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final Map<String, String> tokens = new LinkedHashMap<>();
  private volatile boolean stopping;
  private Children children;
  private Path meshFile;
  /** The control server's trust bundle, which every app checks the server against. */
  private Path trustBundle;
  private String meshTemplate;
  private int xdsPort;
  private int adminPort;
  private Child server;
  private long failedCalls;

  private Demo(boolean quick, Path serverJar, PrintStream out) {
    this.quick = quick;
    this.serverJar = serverJar;
    this.out = out;
  }

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Runs the demo with these arguments, printing to standard output.
   *
   * @return the exit code: 0 if every phase behaved, 1 if one did not, 2 for wrong usage
   */
  public static int run(String[] args) {
    boolean quick = false;
    Path jar = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick" -> quick = true;
        case "--server-jar" -> {
          if (i + 1 == args.length) {
            return usage();
          }
          jar = Path.of(args[++i]);
        }
        default -> {
          return usage();
        }
      }
    }
    jar = jar != null ? jar : findServerJar();
    if (!Files.isRegularFile(jar)) {
      System.err.println("The control server jar is missing: " + jar.toAbsolutePath()
          + "\nBuild it first: ./mvnw -B -q -DskipTests package");
      return 2;
    }
    return new Demo(quick, jar, System.out).runDemo();
  }

  private static int usage() {
    System.err.println("usage: java -jar samples/target/meshlet-demo.jar [--quick] [--server-jar PATH]");
    return 2;
  }

  private int runDemo() {
    long started = System.nanoTime();
    Path work;
    try {
      work = Files.createTempDirectory("meshlet-demo-");
      Files.createDirectories(work.resolve("logs"));
    } catch (IOException e) {
      System.err.println("demo failed: cannot make a work directory: " + e.getMessage());
      return 1;
    }
    children = new Children(work.resolve("logs"));
    Thread hook = new Thread(() -> {
      stopping = true;
      children.close();
    }, "meshlet-demo-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    int code;
    try {
      out.printf("Meshlet demo%s. Work directory (mesh.yaml, CA, logs): %s%n", quick ? " (quick)" : "", work);
      phases(work);
      code = 0;
    } catch (DemoFailure e) {
      code = 1;
      if (!stopping) {
        out.println();
        out.println("DEMO FAILED: " + e.getMessage());
        if (e.child != null) {
          out.printf("last lines of %s:%n%s%n", e.child.log(), e.child.tail(40));
        }
      }
    } catch (Exception e) {
      code = 1;
      if (!stopping) {
        out.println();
        out.println("DEMO FAILED: " + e);
        e.printStackTrace(out);
      }
    } finally {
      int running = children.running();
      children.close();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // shutting down already: the hook runs (or ran) anyway
      }
      if (!stopping) {
        out.printf("%nStopped the %d processes still running; logs are in %s%n", running, work.resolve("logs"));
      }
    }
    if (stopping) {
      return 130;
    }
    out.printf("%s in %d s%n", code == 0 ? "Demo done: every phase behaved" : "Demo FAILED",
        Duration.ofNanos(System.nanoTime() - started).toSeconds());
    return code;
  }

  private void phases(Path work) throws Exception {
    Ports ports = new Ports();
    xdsPort = ports.next();
    adminPort = ports.next();
    meshFile = work.resolve("mesh.yaml");
    try (InputStream in = Demo.class.getResourceAsStream("/mesh.yaml")) {
      if (in == null) {
        throw new DemoFailure("mesh.yaml is not in the demo jar", null);
      }
      meshTemplate = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    writeMesh(90, 10);
    SecureRandom random = new SecureRandom();
    StringBuilder tokenFile = new StringBuilder("# join tokens for the control server's CA, made for this run\n");
    for (String service : List.of("frontend", "catalog", "inventory", "payments")) {
      byte[] bytes = new byte[18];
      random.nextBytes(bytes);
      tokens.put(service, HexFormat.of().formatHex(bytes));
      tokenFile.append(service).append(": ").append(tokens.get(service)).append('\n');
    }
    Path tokenPath = work.resolve("tokens.yaml");
    Files.writeString(tokenPath, tokenFile);

    title("1. The control server");
    Path caDir = work.resolve("ca");
    trustBundle = caDir.resolve("trust-bundle.pem");
    server = children.start("control-server", List.of(java(), "-Xmx256m", "-XX:+UseSerialGC",
        "-jar", serverJar.toString(), "serve", "--config", meshFile.toString(),
        "--xds-port", String.valueOf(xdsPort), "--admin-port", String.valueOf(adminPort),
        "--join-tokens", tokenPath.toString(), "--ca-dir", caDir.toString()), Map.of());
    await("the control server to serve mesh.yaml", Duration.ofSeconds(60), server,
        () -> status(adminUri("/healthz")) == 200);
    if (!Files.isRegularFile(trustBundle)) {
      throw new DemoFailure("the control server wrote no trust bundle to " + trustBundle, server);
    }
    say("control server (pid %d): xDS and CA on 127.0.0.1:%d, admin http://127.0.0.1:%d/, serving %s",
        server.pid(), xdsPort, adminPort, meshFile);
    say("console: http://127.0.0.1:%d/console -- open it now and watch, live, while the demo runs:", adminPort);
    say("  Services > catalog: the canary split drawn as bars, moving 90/10 -> 50/50 -> 0/100 as mesh.yaml is edited");
    say("  Live traffic > catalog: requests per route target and instance; the killed v1 instance stops taking any");
    say("  Callers > catalog: payments highlighted as denied (refused with 403 by catalog's allow list)");
    say("xDS is TLS (the apps check the server against %s) and registration is bound to identity:"
        + " join token over TLS -> SVID -> mTLS xDS -> registration", trustBundle);
    say("mesh.yaml: mTLS strict, catalog routes 90%% to v1 and 10%% to v2, only frontend may call catalog");

    title("2. The services, each its own JVM, registering themselves");
    int v1a = ports.next();
    int v1b = ports.next();
    int v2 = ports.next();
    int inventory = ports.next();
    int inventoryHttp = ports.next();
    int frontend = ports.next();
    int payments = ports.next();
    Map<String, String> expected = new LinkedHashMap<>();   // address -> what it is
    Map<Integer, Child> catalogs = new LinkedHashMap<>();
    catalogs.put(v1a, app("catalog-v1-a", CatalogApplication.class, "catalog",
        "--server.port=" + v1a, "--catalog.version=v1"));
    catalogs.put(v1b, app("catalog-v1-b", CatalogApplication.class, "catalog",
        "--server.port=" + v1b, "--catalog.version=v1"));
    catalogs.put(v2, app("catalog-v2", CatalogApplication.class, "catalog",
        "--server.port=" + v2, "--catalog.version=v2"));
    expected.put("127.0.0.1:" + v1a, "catalog v1");
    expected.put("127.0.0.1:" + v1b, "catalog v1");
    expected.put("127.0.0.1:" + v2, "catalog v2");
    Child inventoryApp = app("inventory", InventoryApplication.class, "inventory",
        "--meshlet.grpc.server-port=" + inventory, "--server.port=" + inventoryHttp);
    expected.put("127.0.0.1:" + inventory, "inventory (gRPC)");
    Child frontendApp = app("frontend", FrontendApplication.class, "frontend", "--server.port=" + frontend);
    expected.put("127.0.0.1:" + frontend, "frontend");
    Child paymentsApp = app("payments", PaymentsApplication.class, "payments", "--server.port=" + payments);
    expected.put("127.0.0.1:" + payments, "payments");
    for (Child c : children.all()) {
      if (c != server) {
        say("started %-13s pid %-7d log %s", c.name(), c.pid(), c.log());
      }
    }
    awaitRegistrations(expected);
    await("the frontend to answer GET /shop", Duration.ofSeconds(60), frontendApp,
        () -> status(URI.create("http://127.0.0.1:" + frontend + "/shop")) == 200);
    JsonNode shop = getJson(URI.create("http://127.0.0.1:" + frontend + "/shop"));
    say("GET http://127.0.0.1:%d/shop -> catalog %s on :%s (it sees the caller as %s), inventory says \"%s\"",
        frontend, shop.path("catalog").path("version").asText(), shop.path("catalog").path("port").asText(),
        shop.path("catalog").path("caller").asText(), shop.path("inventory").asText());
    for (Child c : catalogs.values()) {
      if (!Files.readString(c.log()).contains(TOMCAT_MTLS)) {
        throw new DemoFailure(c.name() + " did not log \"" + TOMCAT_MTLS + "\": not on Tomcat under strict mTLS", c);
      }
    }
    if (!Files.readString(frontendApp.log()).contains("Jetty started on port")) {
      throw new DemoFailure("frontend did not log \"Jetty started on port\": not on Jetty", frontendApp);
    }
    say("catalog's three instances run on Tomcat, each logging \"%s\"; the frontend on Jetty", TOMCAT_MTLS);
    showTrace(shop, frontendApp);
    showPrometheus(frontend, frontendApp);

    Duration window = Duration.ofSeconds(1);
    int steady = quick ? 2 : 4;
    try (Traffic traffic = new Traffic(URI.create("http://127.0.0.1:" + frontend + "/shop"), 2)) {
      title("3. Canary 90/10: traffic through the frontend, counted by the catalog version that answered");
      Window w = measure(traffic, "90/10", window, steady, 150);
      expectShare(w, "canary 90/10", 1, 25);

      title("4. Canary 50/50: editing mesh.yaml");
      edit(traffic, 50, 50, window, win -> share(win) >= 30 && share(win) <= 70);
      w = measure(traffic, "50/50", window, steady, 100);
      expectShare(w, "canary 50/50", 30, 70);

      title("5. Killing catalog v1 instance on port " + v1a + " while traffic flows");
      Child victim = catalogs.get(v1a);
      long killed = System.nanoTime();
      victim.process().destroyForcibly();
      say("killed %s (pid %d) with SIGKILL: no goodbye, its connections reset", victim.name(), victim.pid());
      awaitGone("127.0.0.1:" + v1a, killed);
      Window kill = measureByInstance(traffic, "50/50", window, steady + 1, v1a, v1b, v2);
      say("calls since the kill: %d ok, %d failed", kill.ok(), kill.failed());
      say("(a call that meets the dead instance is retried on another: retries on connect-failure and reset;");
      say(" outlier detection ejects it after 3 failures in a row; the control server drops it from EDS)");
      if (kill.instance("v1", v1b) == 0) {
        throw new DemoFailure("the other v1 instance (port " + v1b + ") got no calls after the kill",
            catalogs.get(v1b));
      }

      title("6. Canary 0/100: editing mesh.yaml");
      edit(traffic, 0, 100, window, win -> win.version("v1") == 0 && win.ok() > 0);
      w = measure(traffic, "0/100", window, steady, 0);
      if (w.version("v1") != 0) {
        throw new DemoFailure("v1 still answered " + w.version("v1") + " calls at 0/100", frontendApp);
      }
    }
    if (failedCalls > 0) {
      throw new DemoFailure(failedCalls + " calls through the frontend failed (see above)", frontendApp);
    }

    title("7. An unauthorized caller");
    JsonNode peek = getJson(URI.create("http://127.0.0.1:" + payments + "/peek"));
    if (peek.path("status").asInt() != 403 || !"true".equals(peek.path("denied").asText())) {
      throw new DemoFailure("payments was not refused by the catalog: " + peek, paymentsApp);
    }
    say("payments (spiffe://example.org/service/payments, a valid mesh identity) -> http://catalog/items:");
    say("unauthorized caller refused: %d x-meshlet-denied: %s \"%s\"", peek.path("status").asInt(),
        peek.path("denied").asText(), peek.path("body").asText().strip());
    String plaintext = plaintextCall(v2);
    say("a caller without a certificate straight to catalog at 127.0.0.1:%d: %s", v2, plaintext);
    if (plaintext.startsWith("200")) {
      throw new DemoFailure("catalog answered a plaintext caller under mtls strict", catalogs.get(v2));
    }
    if (!inventoryApp.process().isAlive()) {
      throw new DemoFailure("inventory exited", inventoryApp);
    }

    title("8. What the console shows: the apps' load reports (GET /traffic)");
    JsonNode traffic = getJson(adminUri("/traffic"));
    for (JsonNode service : traffic.path("services")) {
      StringBuilder targets = new StringBuilder();
      for (JsonNode t : service.path("targets")) {
        targets.append(String.format("  %s %d", t.path("target").asText().isEmpty() ? "all" : t.path("target").asText(),
            t.path("issued").asLong()));
      }
      say("%-10s %5d requests, %3d errors in the last %s;%s", service.path("service").asText(),
          service.path("issued").asLong(), service.path("errors").asLong(), traffic.path("window").asText(), targets);
    }
    say("(tries per route target, retries included; live at http://127.0.0.1:%d/console)", adminPort);
    showCallers();
  }

  /** The line a catalog instance logs when its Tomcat connector takes only mTLS (MeshletTomcatInbound). */
  static final String TOMCAT_MTLS = "inbound strict mTLS for service 'catalog' on the embedded Tomcat server";

  /**
   * One request's trace as it crossed services: the trace id the frontend served {@code /shop} in and
   * the one the catalog served the frontend's call in, which Meshlet's client span carried across.
   */
  private void showTrace(JsonNode shop, Child frontendApp) {
    String front = shop.path("traceId").asText("");
    String catalog = shop.path("catalog").path("traceId").asText("");
    if (front.isEmpty() || catalog.isEmpty()) {
      throw new DemoFailure("no trace id from " + (front.isEmpty() ? "the frontend" : "the catalog") + ": " + shop,
          frontendApp);
    }
    if (!front.equals(catalog)) {
      throw new DemoFailure("the frontend served /shop in trace " + front + " but the catalog its call in trace "
          + catalog + ": the trace did not cross the mesh", frontendApp);
    }
    say("trace %s frontend -> catalog (same trace id in both: Micrometer Tracing's OpenTelemetry bridge in each"
        + " app, Meshlet's client span in between)", front);
  }

  /** A few Meshlet lines of the frontend's {@code /actuator/prometheus}: the mesh's metrics in the app's own. */
  private void showPrometheus(int frontendPort, Child frontendApp) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + frontendPort + "/actuator/prometheus");
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
    List<String> lines = r.body().lines()
        .filter(l -> l.startsWith("meshlet_") && l.contains("meshlet_service=\"catalog\"") && !l.contains("_bucket{"))
        .toList();
    if (r.statusCode() != 200 || lines.isEmpty()) {
      throw new DemoFailure("GET " + uri + " answered " + r.statusCode() + " without Meshlet's lines for catalog"
          + " (meshlet_...{meshlet_service=\"catalog\"})", frontendApp);
    }
    say("GET %s (Meshlet's metrics in the app's Micrometer registry):", uri);
    for (String line : lines.subList(0, Math.min(4, lines.size()))) {
      say("  %s", line.length() > 200 ? line.substring(0, 200) + "..." : line);
    }
  }

  /** Who called the catalog, from the apps' load reports: payments is there, denied. */
  private void showCallers() throws Exception {
    JsonNode[] refused = {null};
    await("payments' refused call in the load reports", Duration.ofSeconds(30), server, () -> {
      for (JsonNode service : getJson(adminUri("/traffic")).path("services")) {
        if (service.path("service").asText().equals("catalog")) {
          for (JsonNode caller : service.path("callers")) {
            if (caller.path("caller").asText().equals("payments") && caller.path("denied").asLong() > 0) {
              refused[0] = service;
              return true;
            }
          }
        }
      }
      return false;
    });
    for (JsonNode caller : refused[0].path("callers")) {
      say("caller of catalog: %-9s %5d requests, %4d errors, %3d denied%s", caller.path("caller").asText(),
          caller.path("issued").asLong(), caller.path("errors").asLong(), caller.path("denied").asLong(),
          caller.path("denied").asLong() > 0 ? "  <- refused caller, highlighted under Callers in the console" : "");
    }
  }

  // ---- traffic phases

  /** Prints windows of traffic until at least {@code windows} of them and {@code minCalls} calls (at most 15). */
  private Window measure(Traffic traffic, String label, Duration window, int windows, int minCalls)
      throws InterruptedException {
    traffic.window();
    Window sum = Window.empty();
    for (int i = 0; i < 15 && (i < windows || sum.ok() + sum.failed() < minCalls); i++) {
      Thread.sleep(window.toMillis());   // a measuring interval, not a wait for a condition
      Window w = traffic.window();
      say("%s", splitLine(label, w));
      sum = sum.plus(count(w));
    }
    return sum;
  }

  private Window measureByInstance(Traffic traffic, String label, Duration window, int windows, int v1a, int v1b,
      int v2) throws InterruptedException {
    Window sum = Window.empty();
    for (int i = 0; i < windows; i++) {
      Thread.sleep(window.toMillis());
      Window w = traffic.window();
      say("%s   v1 :%d %4d  v1 :%d %4d  v2 :%d %4d", splitLine(label, w), v1a, w.instance("v1", v1a),
          v1b, w.instance("v1", v1b), v2, w.instance("v2", v2));
      sum = sum.plus(count(w));
    }
    return sum;
  }

  /** Writes the new weights, waits for the control server to serve them, then for the traffic to follow. */
  private void edit(Traffic traffic, int v1, int v2, Duration window, Predicate<Window> followed) throws Exception {
    String before = getJson(adminUri("/config")).path("version").asText();
    long start = System.nanoTime();
    writeMesh(v1, v2);
    say("wrote mesh.yaml: v1 %d%%, v2 %d%%", v1, v2);
    await("the control server to serve the edit", Duration.ofSeconds(15), server,
        () -> !getJson(adminUri("/config")).path("version").asText().equals(before));
    say("the control server serves it as version %s after %d ms", shortVersion(getJson(adminUri("/config"))),
        Duration.ofNanos(System.nanoTime() - start).toMillis());
    traffic.window();
    for (int i = 0; i < 30; i++) {
      Thread.sleep(window.toMillis());
      Window w = traffic.window();
      say("%s", splitLine(v1 + "/" + v2, w));
      count(w);
      if (followed.test(w)) {
        return;
      }
    }
    throw new DemoFailure("the traffic did not follow the edit to " + v1 + "/" + v2, null);
  }

  private Window count(Window w) {
    if (w.failed() > 0) {
      failedCalls += w.failed();
      for (String f : w.failures()) {
        say("  failed: %s", f.length() > 300 ? f.substring(0, 300) + "..." : f);
      }
    }
    return w;
  }

  private static double share(Window w) {
    return w.ok() == 0 ? -1 : 100.0 * w.version("v2") / w.ok();
  }

  private void expectShare(Window w, String phase, double min, double max) {
    double share = share(w);
    if (share < min || share > max) {
      throw new DemoFailure(String.format("%s: v2 got %.1f%% of %d calls (expected %.0f..%.0f%%)", phase, share,
          w.ok(), min, max), null);
    }
  }

  private static String splitLine(String label, Window w) {
    long total = Math.max(1, w.ok() + w.failed());
    StringBuilder line = new StringBuilder(String.format("%-6s", label));
    for (String version : List.of("v1", "v2")) {
      long n = w.version(version);
      line.append(String.format("  %s %-20s %4d %5.1f%%", version, "#".repeat((int) Math.round(20.0 * n / total)),
          n, 100.0 * n / total));
    }
    return line.append(String.format("  failed %d", w.failed())).toString();
  }

  // ---- processes

  private Child app(String name, Class<?> main, String service, String... args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(java());
    command.addAll(JVM_OPTIONS);
    command.add("-D" + SampleApps.PARENT_PID + "=" + ProcessHandle.current().pid());
    String classPath = System.getProperty("java.class.path");
    if (isBootJar(classPath)) {
      command.addAll(List.of("-Dloader.main=" + main.getName(), "-jar", classPath));
    } else {
      command.addAll(List.of("-cp", classPath, main.getName()));
    }
    command.add("--meshlet.control-servers=127.0.0.1:" + xdsPort);
    command.add("--meshlet.control-server-trust-bundle=" + trustBundle);
    command.addAll(List.of(args));
    // Relaxed binding: MESHLET_IDENTITY_JOINTOKEN is meshlet.identity.join-token; kept off the command line.
    return children.start(name, command, Map.of("MESHLET_IDENTITY_JOINTOKEN", tokens.get(service)));
  }

  private static boolean isBootJar(String classPath) {
    if (classPath.contains(File.pathSeparator) || !classPath.endsWith(".jar")) {
      return false;
    }
    try (JarFile jar = new JarFile(classPath)) {
      return jar.getEntry("org/springframework/boot/loader/launch/PropertiesLauncher.class") != null;
    } catch (IOException e) {
      return false;
    }
  }

  private void awaitRegistrations(Map<String, String> expected) throws Exception {
    Set<String> seen = new TreeSet<>();
    long start = System.nanoTime();
    long[] nextNote = {start + Duration.ofSeconds(15).toNanos()};
    await("every service to register itself", Duration.ofSeconds(240), null, () -> {
      if (System.nanoTime() > nextNote[0]) {
        nextNote[0] += Duration.ofSeconds(15).toNanos();
        List<String> waiting = expected.entrySet().stream().filter(e -> !seen.contains(e.getKey()))
            .map(Map.Entry::getValue).toList();
        say("... %.0f s: still starting: %s", (System.nanoTime() - start) / 1e9, String.join(", ", waiting));
      }
      for (Child c : children.all()) {
        if (!c.process().isAlive()) {
          throw new DemoFailure(c.name() + " exited with " + c.process().exitValue(), c);
        }
      }
      for (JsonNode instance : getJson(adminUri("/config")).path("registered")) {
        String address = instance.path("address").asText();
        if (expected.containsKey(address) && seen.add(address)) {
          say("registered %-17s %s %s after %.1f s", expected.get(address), address, instance.path("labels"),
              (System.nanoTime() - start) / 1e9);
        }
      }
      return seen.size() == expected.size();
    });
  }

  private void awaitGone(String address, long since) throws Exception {
    await("the control server to drop " + address, Duration.ofSeconds(20), server, () -> {
      for (JsonNode instance : getJson(adminUri("/config")).path("registered")) {
        if (instance.path("address").asText().equals(address)) {
          return false;
        }
      }
      return true;
    });
    say("the control server dropped %s from catalog %d ms after the kill: its xDS stream closed with the process",
        address, Duration.ofNanos(System.nanoTime() - since).toMillis());
  }

  private String plaintextCall(int port) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/items"))
          .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() == 400 && r.body().contains("requires TLS")) {
        // Tomcat answers a plaintext request on its TLS port itself, before any application code.
        return "refused: 400 \"" + r.body().strip().replaceAll("\\s+", " ")
            + "\" (Tomcat's TLS-only connector answers plaintext itself; mtls strict)";
      }
      return r.statusCode() + " " + r.body();
    } catch (IOException e) {
      return "refused: the connection was closed (mtls strict: no certificate, no conversation)";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  // ---- mesh.yaml and the admin API

  private void writeMesh(int v1, int v2) throws IOException {
    Matcher m = CANARY.matcher(meshTemplate);
    if (!m.find()) {
      throw new DemoFailure("mesh.yaml has no canary route to edit (" + CANARY.pattern() + ")", null);
    }
    String text = m.replaceFirst("{ subset: v1, weight: " + v1 + " }, { subset: v2, weight: " + v2 + " }");
    Path tmp = Files.createTempFile(meshFile.getParent(), "mesh", ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, meshFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static String shortVersion(JsonNode config) {
    String v = config.path("version").asText();
    return v.length() > 12 ? v.substring(0, 12) : v;
  }

  private URI adminUri(String path) {
    return URI.create("http://127.0.0.1:" + adminPort + path);
  }

  private int status(URI uri) {
    try {
      return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  private JsonNode getJson(URI uri) {
    try {
      return JSON.readTree(http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.ofString()).body());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DemoFailure("interrupted", null);
    }
  }

  /** Polls {@code condition} every 100 ms until it holds, failing when {@code child} exits or time runs out. */
  private void await(String what, Duration timeout, Child child, Check condition) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!stopping) {
      if (child != null && !child.process().isAlive()) {
        throw new DemoFailure("waiting for " + what + ": " + child.name() + " exited with "
            + child.process().exitValue(), child);
      }
      if (condition.holds()) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new DemoFailure("waited " + timeout.toSeconds() + " s for " + what, child);
      }
      Thread.sleep(100);
    }
    throw new DemoFailure("stopping", null);
  }

  @FunctionalInterface
  private interface Check {
    boolean holds() throws Exception;
  }

  // ---- small things

  private static Path findServerJar() {
    Path relative = Path.of("xds-control-server", "target", "xds-control-server.jar");
    if (Files.isRegularFile(relative)) {
      return relative;
    }
    // Run from elsewhere: the jar next to this one in the source tree (samples/target/meshlet-demo.jar).
    Path demoJar = Path.of(System.getProperty("java.class.path").split(File.pathSeparator)[0]).toAbsolutePath();
    Path root = demoJar.getParent() == null ? null : demoJar.getParent().getParent();
    return root != null && root.getParent() != null ? root.getParent().resolve(relative) : relative;
  }

  private static String java() {
    return ProcessHandle.current().info().command().orElse("java");
  }

  private void title(String text) {
    out.println();
    out.println("== " + text);
  }

  private void say(String format, Object... args) {
    out.println("   " + String.format(format, args));
  }

  /** Free loopback ports, each found by binding port 0, none handed out twice. */
  private static final class Ports {
    private final Set<Integer> given = new TreeSet<>();

    int next() throws IOException {
      for (int i = 0; i < 20; i++) {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
          if (given.add(socket.getLocalPort())) {
            return socket.getLocalPort();
          }
        }
      }
      throw new IOException("no free port");
    }
  }

  /** A phase that did not behave; names the process whose log tells why, when one does. */
  private static final class DemoFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Child child;

    DemoFailure(String message, Child child) {
      super(message);
      this.child = child;
    }
  }
}
