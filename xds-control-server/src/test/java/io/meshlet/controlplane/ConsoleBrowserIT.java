package io.meshlet.controlplane;

import static io.meshlet.controlplane.testing.RawAdsClient.LISTENER;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Status;
import com.sun.net.httpserver.HttpServer;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.Closeables;
import io.meshlet.controlplane.testing.MeshFile;
import io.meshlet.controlplane.testing.RawAdsClient;
import io.meshlet.transport.MeshRoute;
import io.meshlet.transport.ResponseInfo;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.NoSuchElementException;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The console in a real browser (Debian's headless chromium, driven by Selenium through Debian's
 * chromedriver): while a Meshlet client sends traffic, the figures move and end at what it sent;
 * a NACKing client is highlighted with its message; the history's diff shows a changed weight;
 * a caller the called service refuses with 403 ({@code x-meshlet-denied}) is shown as denied among
 * that service's callers; a browser without the token sees only the login form and its JSON calls
 * get 401.
 *
 * <p>Skipped, saying how to install them, without {@code chromium} and {@code chromedriver}.
 * With {@code -Dmeshlet.screenshots=DIR} the screenshots are copied to DIR (docs/images).
 */
class ConsoleBrowserIT {

  static final String TOKEN = "console-it-token-0123456789abcdef0123456789";
  static final Path CHROMIUM = Path.of(System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium"));
  static final Path CHROMEDRIVER = Path.of(System.getenv().getOrDefault("CHROMEDRIVER", "/usr/bin/chromedriver"));
  static final Duration UI_TIMEOUT = Duration.ofSeconds(30);

  @TempDir static Path dir;
  static HttpServer v1;
  static HttpServer v2;
  /** The orders service: like a service's inbound authorization, it refuses payments (403, marked). */
  static HttpServer orders;
  static final AtomicInteger v1Calls = new AtomicInteger();
  static final AtomicInteger v2Calls = new AtomicInteger();
  static MeshFile mesh;
  static ControlServer server;
  static MeshClient frontend;
  static MeshClient payments;
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  WebDriver browser;

  @BeforeAll
  static void start() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "ConsoleBrowserIT skipped: no " + CHROMIUM + " or " + CHROMEDRIVER + " (install them with "
            + "'apt-get install -y chromium chromium-driver' as root, as .ci/run does; or set CHROMIUM and "
            + "CHROMEDRIVER)");
    v1 = upstream(v1Calls);
    v2 = upstream(v2Calls);
    orders = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    orders.createContext("/", ex -> {
      boolean refused = "payments".equals(ex.getRequestHeaders().getFirst(CALLER));
      if (refused) {
        ex.getResponseHeaders().set("x-meshlet-denied", "true");
      }
      ex.sendResponseHeaders(refused ? 403 : 200, -1);
      ex.close();
    });
    orders.start();
    mesh = new MeshFile(dir).write(meshYaml(80, 20));
    Path token = Files.writeString(dir.resolve("admin-token"), TOKEN);
    Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
    server = ControlServer.builder().xdsPlaintext(true).configFile(mesh.path()).xdsPort(0).adminPort(0)
        .adminTokenFile(token).pollInterval(Duration.ofMillis(100)).loadReportInterval(Duration.ofMillis(500))
        .build().start();
    frontend = MeshClient.builder().xdsPlaintext().serviceName("frontend").nodeId("frontend-1")
        .controlServers(List.of("127.0.0.1:" + server.xdsPort())).build().start();
    payments = MeshClient.builder().xdsPlaintext().serviceName("payments").nodeId("payments-1")
        .controlServers(List.of("127.0.0.1:" + server.xdsPort())).build().start();
    Await.until("the frontend to know catalog", Duration.ofSeconds(15), () -> frontend.snapshot().services().containsKey("catalog"));
    Await.until("payments to know orders", Duration.ofSeconds(15), () -> payments.snapshot().services().containsKey("orders"));
  }

  static String meshYaml(int v1Weight, int v2Weight) {
    return """
        services:
          catalog:
            protocol: http
            endpoints:
              - { address: 127.0.0.1:%d, labels: { version: v1 } }
              - { address: 127.0.0.1:%d, labels: { version: v2 } }
            subsets: { v1: { version: v1 }, v2: { version: v2 } }
            routes:
              - to: [ { subset: v1, weight: %d }, { subset: v2, weight: %d } ]
                timeout: 2s
          orders:
            protocol: http
            endpoints:
              - { address: 127.0.0.1:%d }
        """.formatted(v1.getAddress().getPort(), v2.getAddress().getPort(), v1Weight, v2Weight,
        orders.getAddress().getPort());
  }

  static HttpServer upstream(AtomicInteger calls) throws IOException {
    HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    s.createContext("/", ex -> {
      calls.incrementAndGet();
      ex.sendResponseHeaders(200, -1);
      ex.close();
    });
    s.start();
    return s;
  }

  @AfterAll
  static void stop() {
    Closeables.closeAll(frontend, payments, server);
    for (HttpServer s : new HttpServer[] {v1, v2, orders}) {
      if (s != null) {
        s.stop(0);
      }
    }
  }

  @AfterEach
  void closeBrowser() {
    if (browser != null) {
      browser.quit();
    }
  }

  static WebDriver newBrowser() throws IOException {
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1400,2000",
        "--user-data-dir=" + Files.createTempDirectory(dir, "chromium-profile"));
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
    ChromeDriver driver = new ChromeDriver(service, options);
    driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(10));
    return driver;
  }

  String consoleUrl() {
    return "http://127.0.0.1:" + server.adminPort() + "/console";
  }

  void login(String token) {
    new WebDriverWait(browser, UI_TIMEOUT).until(b -> b.findElement(By.id("login")).isDisplayed());
    browser.findElement(By.id("token")).sendKeys(token);
    browser.findElement(By.id("login-button")).click();
  }

  WebDriverWait waiting() {
    return new WebDriverWait(browser, UI_TIMEOUT);
  }

  long issued(String target) {
    try {
      WebElement row = browser.findElement(By.cssSelector(
          "#traffic tr.target[data-service='catalog'][data-target='" + target + "']"));
      return Long.parseLong(row.findElement(By.cssSelector("td.issued")).getText());
    } catch (NoSuchElementException | org.openqa.selenium.StaleElementReferenceException e) {
      return -1;
    }
  }

  void screenshot(String name) throws IOException {
    Path shot = ((ChromeDriver) browser).getScreenshotAs(OutputType.FILE).toPath();
    Path target = Path.of("target", "console-screenshots");
    Files.createDirectories(target);
    Files.copy(shot, target.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
    String docs = System.getProperty("meshlet.screenshots");
    if (docs != null) {
      Files.createDirectories(Path.of(docs));
      Files.copy(shot, Path.of(docs, name + ".png"), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** The header by which the test's upstreams know the calling service (as mTLS would tell them). */
  static final String CALLER = "x-test-caller";

  /** One call through the frontend's mesh client. */
  static void call() throws IOException {
    call(frontend, "catalog");
  }

  /** One call through a mesh client to a service; returns the status. */
  static int call(MeshClient client, String service) throws IOException {
    MeshRoute route = client.calls().route(service, "/items", h -> null);
    return client.calls().execute(route, null, true, t -> {
      try {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + t.endpoint().address() + "/items"))
            .header(CALLER, client.serviceName()).timeout(Duration.ofSeconds(2)).build(),
            HttpResponse.BodyHandlers.discarding());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException();
      }
    }, new ResponseInfo<HttpResponse<Void>>() {
      @Override
      public int status(HttpResponse<Void> response) {
        return response.statusCode();
      }

      @Override
      public String header(HttpResponse<Void> response, String name) {
        return response.headers().firstValue(name).orElse(null);
      }

      @Override
      public void discard(HttpResponse<Void> response) {}
    }).statusCode();
  }

  @Test
  void theConsoleShowsLiveTrafficANackingClientAndAWeightChange() throws Exception {
    browser = newBrowser();
    browser.get(consoleUrl());
    login(TOKEN);
    waiting().until(b -> "console".equals(b.findElement(By.tagName("body")).getAttribute("data-state")));
    // The canary split drawn as bars: 80 % and 20 %.
    WebElement split = waiting().until(b -> b.findElement(By.cssSelector(".card[data-service='catalog'] .split")));
    assertThat(split.findElement(By.cssSelector("[data-target='v1']")).getText()).isEqualTo("v1 80%");
    assertThat(split.findElement(By.cssSelector("[data-target='v2']")).getText()).isEqualTo("v2 20%");

    // A load generator at about 40 requests a second for 10 s.
    AtomicInteger sent = new AtomicInteger();
    AtomicBoolean failed = new AtomicBoolean();
    Thread generator = new Thread(() -> {
      long start = System.nanoTime();
      for (int i = 0; i < 400; i++) {
        try {
          call();
          sent.incrementAndGet();
        } catch (IOException e) {
          failed.set(true);
        }
        long due = start + (i + 1) * 25_000_000L;
        long wait = due - System.nanoTime();
        if (wait > 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(wait);
        }
      }
    }, "load-generator");
    generator.start();
    // The figures move while traffic flows, without reloading the page.
    long first = waiting().until(b -> issued("v1") > 0 ? issued("v1") : null);
    long later = waiting().until(b -> issued("v1") > first ? issued("v1") : null);
    assertThat(later).isGreaterThan(first);
    assertThat(generator.isAlive()).as("the figures moved while the generator ran").isTrue();
    screenshot("console-traffic");
    generator.join(60_000);
    assertThat(failed).isFalse();
    // ... and end at what the generator sent, per route target.
    waiting().until(b -> issued("v1") == v1Calls.get() && issued("v2") == v2Calls.get());
    assertThat(issued("v1") + issued("v2")).isEqualTo(sent.get()).isEqualTo(400);
    // The split is what the weights ask, roughly (80/20 of 400; a generous margin for chance).
    assertThat(v1Calls.get()).isBetween(270, 370);
    WebElement service = browser.findElement(By.cssSelector("#traffic tr.service[data-service='catalog']"));
    assertThat(Double.parseDouble(service.findElement(By.cssSelector("td.rps")).getText())).isPositive();
    assertThat(service.findElement(By.cssSelector("td.p50")).getText()).matches("\\d+\\.\\d");

    // A client that refuses a version is highlighted with its message.
    try (RawAdsClient ads = new RawAdsClient(server.xdsPort()); var stream = ads.sotw()) {
      stream.send(DiscoveryRequest.newBuilder().setNode(RawAdsClient.node("nacker-1")).setTypeUrl(LISTENER)
          .addResourceNames("catalog").build());
      DiscoveryResponse response = stream.next(Duration.ofSeconds(10));
      stream.send(DiscoveryRequest.newBuilder().setNode(RawAdsClient.node("nacker-1")).setTypeUrl(LISTENER)
          .addResourceNames("catalog").setResponseNonce(response.getNonce())
          .setErrorDetail(Status.newBuilder().setCode(3).setMessage("listener catalog: unsupported field")).build());
      WebElement nacker = waiting().until(b -> b.findElement(By.cssSelector("#clients tr.client.nacked[data-node='nacker-1']")));
      assertThat(nacker.findElement(By.cssSelector("td.nack")).getText()).contains("listener catalog: unsupported field");
      assertThat(nacker.findElement(By.tagName("td")).getCssValue("background-color")).isNotEqualTo(browser.findElement(
          By.cssSelector("#clients tr.client[data-node='frontend-1'] td")).getCssValue("background-color"));
      assertThat(browser.findElement(By.cssSelector("#clients tr[data-node='frontend-1']")).getAttribute("class"))
          .isEqualTo("client");
      ((org.openqa.selenium.JavascriptExecutor) browser).executeScript(
          "document.getElementById('clients-section').scrollIntoView()");
      screenshot("console-clients");

      // A weight changed in the file: the history's diff shows it.
      mesh.write(meshYaml(50, 50));
      waiting().until(b -> b.findElements(By.cssSelector("#versions tbody tr")).size() == 2);
      waiting().until(b -> new Select(b.findElement(By.id("diff-from"))).getOptions().size() == 2);
      browser.findElement(By.id("diff-show")).click();
      WebElement change = waiting().until(b -> b.findElement(
          By.cssSelector("#diff tr.change[data-path='services.catalog.routes[0].to[0].weight']")));
      assertThat(change.findElement(By.cssSelector(".diff-before")).getText()).isEqualTo("80");
      assertThat(change.findElement(By.cssSelector(".diff-after")).getText()).isEqualTo("50");
      assertThat(browser.findElement(By.cssSelector("#versions tbody tr")).getText()).contains("file");
      waiting().until(b -> b.findElement(By.cssSelector(".card[data-service='catalog'] .split [data-target='v1']"))
          .getText().equals("v1 50%"));
      ((org.openqa.selenium.JavascriptExecutor) browser).executeScript(
          "document.getElementById('history-section').scrollIntoView()");
      screenshot("console-history");
    }
  }

  @Test
  void aCallerTheServiceRefusesIsShownAsDeniedAmongItsCallers() throws Exception {
    for (int i = 0; i < 20; i++) {
      assertThat(call(payments, "orders")).isEqualTo(403);
      assertThat(call(frontend, "orders")).isEqualTo(200);
    }
    browser = newBrowser();
    browser.get(consoleUrl());
    login(TOKEN);
    WebElement refused = waiting().until(b -> b.findElement(
        By.cssSelector("#callers tr.caller.denied[data-service='orders'][data-caller='payments']")));
    waiting().until(b -> refused.findElement(By.cssSelector("td.denied")).getText().equals("20 denied"));
    assertThat(refused.findElement(By.cssSelector("td.issued")).getText()).isEqualTo("20");
    assertThat(refused.findElement(By.cssSelector("td.denied-rate")).getText()).isEqualTo("100.0%");
    // The allowed caller of the same service is not highlighted.
    WebElement allowed = browser.findElement(By.cssSelector("#callers tr[data-service='orders'][data-caller='frontend']"));
    assertThat(allowed.getAttribute("class")).isEqualTo("caller");
    assertThat(allowed.findElement(By.cssSelector("td.denied")).getText()).isEqualTo("0");
    assertThat(refused.findElement(By.tagName("td")).getCssValue("background-color"))
        .isNotEqualTo(allowed.findElement(By.tagName("td")).getCssValue("background-color"));
    ((org.openqa.selenium.JavascriptExecutor) browser).executeScript(
        "document.getElementById('callers').scrollIntoView()");
    screenshot("console-callers");
    // The same in Prometheus' text: a denied counter per called service and caller.
    String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.adminPort() + "/metrics"))
        .build(), HttpResponse.BodyHandlers.ofString()).body();
    assertThat(metrics).contains("meshlet_load_denied_total{caller=\"payments\",service=\"orders\"} 20.0")
        .contains("meshlet_load_denied_total{caller=\"frontend\",service=\"orders\"} 0.0");
  }

  @Test
  void aBrowserWithoutTheTokenSeesOnlyTheLoginAndItsCallsAreRefused() throws Exception {
    browser = newBrowser();
    browser.get(consoleUrl());
    waiting().until(b -> "login".equals(b.findElement(By.tagName("body")).getAttribute("data-state")));
    assertThat(browser.findElement(By.id("console")).isDisplayed()).isFalse();
    assertThat(browser.getPageSource()).doesNotContain("catalog");
    Object status = ((org.openqa.selenium.JavascriptExecutor) browser).executeAsyncScript(
        "const done = arguments[arguments.length - 1];"
            + "fetch('/traffic').then(r => done(r.status), e => done(String(e)));");
    assertThat(status).isEqualTo(401L);
    login("not-the-token-0123456789abcdef0123456789");
    waiting().until(b -> b.findElement(By.id("login-error")).getText().contains("not the admin token"));
    assertThat(browser.findElement(By.id("console")).isDisplayed()).isFalse();
    screenshot("console-login-refused");
  }
}
