// Long by design: one test per behaviour the transports must share (routing, retries, timeouts,
// faults, limits, breakers, mTLS), each run against both OkHttp and gRPC from one intent; splitting
// it would split the parity it checks.
package io.meshlet.okhttp;

import io.meshlet.inbound.MeshJetty;
import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCalls;
import io.grpc.xds.XdsServerBuilder;
import io.grpc.xds.XdsServerCredentials;
import io.meshlet.MeshClient;
import io.meshlet.config.MtlsMode;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.MeshConfigParser;
import io.meshlet.controlplane.intent.Violation;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.EchoBackend;
import io.meshlet.controlplane.testing.XdsClients;
import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.identity.WorkloadIdentity;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.stream.Stream;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One intent, one meaning: each row is one piece of mesh.yaml, written once and applied to an
 * HTTP service (called through Meshlet's OkHttp client and policy engine) and to a gRPC service
 * (called through grpc-java's own xDS client), with one expected outcome per transport. Mostly
 * the two are the same; where docs/config.md says a field is refused for {@code grpc}, the gRPC
 * expectation is that refusal, checked against {@link MeshConfigParser}'s violation text (such
 * a service is then left out of the served file, which would otherwise be refused whole).
 *
 * <p>Where the transports name things differently the table says how they map: an HTTP 503 and
 * gRPC UNAVAILABLE are both "unavailable"; an HTTP timeout and gRPC DEADLINE_EXCEEDED are both
 * "timeout"; HTTP 403 and PERMISSION_DENIED are "denied"; a call the client's circuit breaker
 * fails at once (Meshlet's 503 with {@code x-meshlet-overloaded}, grpc-java's UNAVAILABLE "max
 * concurrent requests") is "overloaded"; Meshlet's 429 from the rate limit is "limited". A retry
 * condition is written {@code {retryOn}} and becomes {@code 5xx} for HTTP and {@code unavailable}
 * for gRPC, since Envoy's {@code retry_on} names HTTP and gRPC conditions separately and a gRPC
 * service refuses the HTTP ones (grpc-java retries on status codes only).
 *
 * <p>Every service has the same five instances, answering with their names: {@code broken}
 * (always 503 / UNAVAILABLE), {@code v1}, {@code v2}, {@code slow} (answers after 2 s) and
 * {@code held} (answers at once, or holds calls while a row needs calls in flight). The
 * authorization rows call {@code guarded-http} (Jetty with {@link MeshJetty}) and
 * {@code guarded-grpc} ({@code XdsServerBuilder} with the RBAC filter) instead, over mTLS with
 * SVIDs from a TLS control server's CA.
 */
class OneIntentBothTransportsIT {

  /** What a row does before its counted calls. */
  enum Before {
    NOTHING,
    /** Calls until one is held by the {@code held} instance (its load), then counted calls. */
    HOLD_ONE,
    /** Calls until two are held by the {@code held} instance, then counted calls. */
    HOLD_TWO,
    /** Calls until ten in a row are not "unavailable" (bounded), then counted calls. */
    WARM_UP_UNTIL_EJECTED
  }

  /**
   * How each counted call is made.
   *
   * @param method {@code Who} or {@code Other} of {@code meshlet.test.Echo}; over HTTP the path
   *     {@code /meshlet.test.Echo/<method>}
   * @param header a request header's name, or null for none
   * @param value its value; {@code {key}} becomes one of {@value #KEYS} keys, by call number
   * @param as the caller's service (its SVID, over mTLS), or null for the plain mesh caller
   * @param deadlineMillis the caller's own deadline per call
   */
  record Call(String method, String header, String value, String as, long deadlineMillis) {
    static final int KEYS = 16;

    static Call who() {
      return new Call("Who", null, null, null, 10_000);
    }

    static Call other() {
      return new Call("Other", null, null, null, 10_000);
    }

    Call header(String name, String v) {
      return new Call(method, name, v, as, deadlineMillis);
    }

    Call as(String service) {
      return new Call(method, header, value, service, deadlineMillis);
    }

    Call deadline(long millis) {
      return new Call(method, header, value, as, millis);
    }

    String value(int callNumber) {
      return value == null ? null : value.replace("{key}", "key-" + (callNumber % KEYS));
    }
  }

  /** What a caller sees over one transport. */
  sealed interface Expect permits Shares, Sticky, Refused {}

  /**
   * The share of calls with each answer, within four binomial standard deviations (at least 2
   * calls), or within {@code slack} calls when it is not negative; and when {@code triesPerFailure}
   * is positive, that the {@code broken} instance was tried exactly that often per failed call.
   */
  record Shares(Map<String, Double> shares, int slack, int triesPerFailure) implements Expect {
    Shares slack(int calls) {
      return new Shares(shares, calls, triesPerFailure);
    }

    Shares triesPerFailure(int tries) {
      return new Shares(shares, slack, tries);
    }
  }

  /** Each key always lands on the same one of {@code instances}, and every instance gets a key. */
  record Sticky(Set<String> instances) implements Expect {}

  /** {@code validate} refuses the intent for this protocol, with exactly this one violation. */
  record Refused(String violation) implements Expect {}

  /** One row of the table: an intent and what a caller sees over each transport. */
  record Case(String name, String intent, Before before, Call call, int calls, Expect http, Expect grpc) {
    @Override
    public String toString() {
      return name;
    }

    Case before(Before b) {
      return new Case(name, intent, b, call, calls, http, grpc);
    }

    Case call(Call c) {
      return new Case(name, intent, before, c, calls, http, grpc);
    }

    Case grpc(Expect e) {
      return new Case(name, intent, before, call, calls, http, e);
    }

    boolean guarded() {
      return intent.equals(GUARDED);
    }
  }

  static Case row(String name, int calls, String intent, Expect both) {
    return new Case(name, intent, Before.NOTHING, Call.who(), calls, both, both);
  }

  static Shares shares(Object... answersAndShares) {
    Map<String, Double> m = new LinkedHashMap<>();
    for (int i = 0; i < answersAndShares.length; i += 2) {
      m.put((String) answersAndShares[i], ((Number) answersAndShares[i + 1]).doubleValue());
    }
    return new Shares(m, -1, 0);
  }

  static Shares all(String answer) {
    return shares(answer, 1.0);
  }

  static final String HEADER_ROUTE = """
      routes:
        - { match: { headers: { x-canary: "true" } }, to: [ { subset: v2 } ] }
        - { to: [ { subset: v1 } ] }
      """;
  static final String REGEX_HEADER_ROUTE = """
      routes:
        - { match: { headers: { x-canary: { regex: "tr.e" } } }, to: [ { subset: v2 } ] }
        - { to: [ { subset: v1 } ] }
      """;
  static final String PRESENT_HEADER_ROUTE = """
      routes:
        - { match: { headers: { x-canary: { present: true } } }, to: [ { subset: v2 } ] }
        - { to: [ { subset: v1 } ] }
      """;
  static final String PATH_ROUTE = """
      routes:
        - { match: { path: /meshlet.test.Echo/Who }, to: [ { subset: v2 } ] }
        - { to: [ { subset: v1 } ] }
      """;
  static final String PREFIX_ROUTE = """
      routes:
        - { match: { pathPrefix: /meshlet.test.Echo/O }, to: [ { subset: v2 } ] }
        - { to: [ { subset: v1 } ] }
      """;
  static final String REGEX_PATH_ROUTE = """
      routes:
        - { match: { pathRegex: '/meshlet\\.test\\.Echo/Oth.r' }, to: [ { subset: v2 } ] }
        - { to: [ { subset: v1 } ] }
      """;
  static final String RING_HASH = """
      loadBalancing: ring_hash
      hashHeader: x-user
      routes: [ { to: [ { subset: ok } ] } ]
      """;
  /** The authorization rows' services: frontend may call everything but Other, which is payments'. */
  static final String GUARDED = """
      mtls: { mode: strict }
      authorization:
        allow: [ spiffe://example.org/service/frontend ]
        rules:
          - match: { path: /meshlet.test.Echo/Other }
            allow: [ spiffe://example.org/service/payments ]
      """;

  static final List<Case> CASES = List.of(
      row("weighted split 80/20", 1000,
          "routes: [ { to: [ { subset: v1, weight: 80 }, { subset: v2, weight: 20 } ] } ]",
          shares("v1", 0.8, "v2", 0.2)),

      // Routes: every match with calls that match and calls that must not.
      row("header route: the value matches", 30, HEADER_ROUTE, all("v2"))
          .call(Call.who().header("x-canary", "true")),
      row("header route: another value does not match", 30, HEADER_ROUTE, all("v1"))
          .call(Call.who().header("x-canary", "false")),
      row("header route: no header does not match", 30, HEADER_ROUTE, all("v1")),
      row("regex header route: a value the regex matches", 30, REGEX_HEADER_ROUTE, all("v2"))
          .call(Call.who().header("x-canary", "true")),
      row("regex header route: the regex must match the whole value", 30, REGEX_HEADER_ROUTE, all("v1"))
          .call(Call.who().header("x-canary", "untrue")),
      row("present header route: any value matches", 30, PRESENT_HEADER_ROUTE, all("v2"))
          .call(Call.who().header("x-canary", "anything")),
      row("present header route: no header does not match", 30, PRESENT_HEADER_ROUTE, all("v1")),
      row("exact path route: the path matches", 30, PATH_ROUTE, all("v2")),
      row("exact path route: another path does not match", 30, PATH_ROUTE, all("v1")).call(Call.other()),
      row("prefix route: a path under the prefix", 30, PREFIX_ROUTE, all("v2")).call(Call.other()),
      row("prefix route: a path outside the prefix", 30, PREFIX_ROUTE, all("v1")),
      row("regex path route: a path the regex matches", 30, REGEX_PATH_ROUTE, all("v2")).call(Call.other()),
      row("regex path route: a path it does not match", 30, REGEX_PATH_ROUTE, all("v1")),

      // Retries and timeouts.
      row("retries with backoff hide a failing instance", 100, """
          routes:
            - to: [ { subset: flaky } ]
              retries: { attempts: 3, on: [{retryOn}], backoff: { base: 5ms, max: 20ms } }
          """, all("v2")),
      row("retries run out: attempts 2 is three tries of a failing instance", 20, """
          routes:
            - to: [ { subset: broken } ]
              retries: { attempts: 2, on: [{retryOn}], backoff: { base: 5ms, max: 20ms } }
          """, all("unavailable").triesPerFailure(3)),
      row("no retries: the failing instance shows", 100,
          "routes: [ { to: [ { subset: flaky } ] } ]",
          shares("v2", 0.5, "unavailable", 0.5).triesPerFailure(1)),
      row("route timeout", 5,
          "routes: [ { to: [ { subset: slow } ], timeout: 200ms } ]",
          all("timeout")),
      row("per-try timeout moves a slow try on to a fast instance", 10, """
          routes:
            - to: [ { subset: slowok } ]
              retries: { attempts: 2, perTryTimeout: 200ms, on: [{retryOn}] }
          """, all("v2"))
          .grpc(new Refused("routes[0].retries.perTryTimeout: 200ms (expected: no perTryTimeout on a grpc service:"
              + " grpc-java has no per-try timeout (gRFC A44); use the route's timeout, which bounds all tries"
              + " together)")),

      // Faults.
      row("injected abort 30%", 1000,
          "routes: [ { to: [ { subset: v2 } ], faults: { abort: { percent: 30, httpStatus: 503 } } } ]",
          shares("v2", 0.7, "unavailable", 0.3)),
      row("injected abort with a gRPC status: PERMISSION_DENIED is HTTP 403", 10,
          "routes: [ { to: [ { subset: v2 } ], faults: { abort: { percent: 100, grpcStatus: 7 } } } ]",
          all("denied")),
      row("injected delay 50%, longer than the caller's deadline", 40,
          "routes: [ { to: [ { subset: v2 } ], faults: { delay: { percent: 50, fixed: 300ms } } } ]",
          shares("v2", 0.5, "timeout", 0.5))
          .call(Call.who().deadline(100)),
      // As in Envoy (the fault filter holds the request before the router starts its timer) and
      // grpc-java (the delayed call takes the route's deadline when it starts).
      row("an injected delay does not count against the route timeout", 5,
          "routes: [ { to: [ { subset: v2 } ], timeout: 200ms, faults: { delay: { percent: 100, fixed: 300ms } } } ]",
          all("v2")),

      // Limits.
      row("rate limit: a burst of 5, then limited", 20,
          "routes: [ { to: [ { subset: v2 } ], rateLimit: { requestsPerSecond: 1, burst: 5 } } ]",
          // 5 from the burst, plus at most one token gained while the 20 calls run.
          shares("v2", 0.25, "limited", 0.75).slack(1))
          .grpc(new Refused("routes[0].rateLimit: { requestsPerSecond: 1, burst: 5 } (expected: no rateLimit on a"
              + " grpc service: grpc-java has no local rate limit filter (envoy.filters.http.local_ratelimit) and"
              + " skips it; bound calls in flight with circuitBreaker.maxRequests, or limit on the server)")),
      // grpc-java fails a call beyond maxRequests at once; Meshlet lets up to maxPendingRequests
      // (default 1024) wait up to 1 s for a slot first, then answers 503 (docs/http-client.md).
      // Either way the call is refused by the caller's breaker, never sent to the instance.
      row("circuit breaker: with maxRequests held, more calls are refused", 4, """
          circuitBreaker: { maxRequests: 2 }
          routes: [ { to: [ { subset: held } ] } ]
          """, all("overloaded"))
          .before(Before.HOLD_TWO).call(Call.who().deadline(3_000)),

      // Load balancing and outlier detection.
      row("least request: a loaded instance is picked only when both choices are it", 80, """
          loadBalancing: least_request
          routes: [ { to: [ { subset: heldok } ] } ]
          """,
          // Two random choices with replacement (Envoy's, grpc-java's and Meshlet's), the one
          // with fewer calls in flight taken: the held instance only when both are it, 1 in 4;
          // such a call is held too, until its deadline. Round robin would give 1 in 2. The
          // deadline is long enough that a slow answer of the free instance on a loaded machine
          // (CI with other builds beside it) is not counted as a timeout.
          shares("v2", 0.75, "timeout", 0.25))
          .before(Before.HOLD_ONE).call(Call.who().deadline(700)),
      row("ring hash: each key sticks to one instance", 3 * Call.KEYS, RING_HASH, new Sticky(Set.of("v1", "v2")))
          .call(Call.who().header("x-user", "{key}")),
      row("outlier detection by failure percentage ejects the failing instance", 50, """
          outlierDetection:
            interval: 1s
            baseEjectionTime: 60s
            maxEjectionPercent: 50
            failurePercentage: { threshold: 50, minimumHosts: 2, requestVolume: 5 }
          routes: [ { to: [ { subset: flaky } ] } ]
          """, all("v2"))
          .before(Before.WARM_UP_UNTIL_EJECTED),
      row("outlier detection by consecutive 5xx ejects the failing instance", 50, """
          outlierDetection: { consecutive5xx: 3, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 50 }
          routes: [ { to: [ { subset: flaky } ] } ]
          """, all("v2"))
          .before(Before.WARM_UP_UNTIL_EJECTED)
          .grpc(new Refused("outlierDetection.consecutive5xx: 3 (expected: no consecutive5xx on a grpc service:"
              + " grpc-java implements only success-rate and failure-percentage ejection; use failurePercentage:"
              + " { threshold, minimumHosts, requestVolume })")),

      // Authorization, by the servers.
      row("authorization: a caller on the allow list", 5, GUARDED, all("served"))
          .call(Call.who().as("frontend")),
      row("authorization: a caller not on the allow list", 5, GUARDED, all("denied"))
          .call(Call.who().as("payments")),
      row("authorization: a rule's caller on its path", 5, GUARDED, all("served"))
          .call(Call.other().as("payments")),
      row("authorization: a rule's path comes before the service-wide list", 5, GUARDED, all("denied"))
          .call(Call.other().as("frontend")));

  static final Map<String, String> TOKENS = Map.of(
      "guarded-http", "guarded-http-token-0123456789", "guarded-grpc", "guarded-grpc-token-0123456789",
      "frontend", "frontend-token-0123456789", "payments", "payments-token-0123456789");

  @TempDir static Path dir;
  static final List<AutoCloseable> closeables = new ArrayList<>();
  static ControlServer server;
  static MeshClient mesh;
  static OkHttpClient http;
  static WireMockServer broken;
  static EchoBackend gbroken;
  static HeldHttpBackend held;
  static EchoBackend gheld;
  static final Map<String, OkHttpClient> httpAs = new HashMap<>();
  static final Map<String, CaIdentitySource> identities = new HashMap<>();
  static int guardedHttpPort;
  static int guardedGrpcPort;
  static ExecutorService background;

  @BeforeAll
  static void start() throws Exception {
    background = Executors.newCachedThreadPool();
    closeables.add(background::shutdownNow);
    // HTTP instances: broken fails with 503, v1 and v2 answer, slow answers after 2 s, held holds.
    broken = wiremock(aResponse().withStatus(503).withBody("broken"));
    WireMockServer v1 = wiremock(aResponse().withStatus(200).withBody("v1"));
    WireMockServer v2 = wiremock(aResponse().withStatus(200).withBody("v2"));
    WireMockServer slow = wiremock(aResponse().withStatus(200).withBody("slow").withFixedDelay(2000));
    held = closing(new HeldHttpBackend("held"));
    // gRPC instances with the same behaviour.
    gbroken = closing(new EchoBackend("broken").failing(true));
    EchoBackend g1 = closing(new EchoBackend("v1"));
    EchoBackend g2 = closing(new EchoBackend("v2"));
    EchoBackend gslow = closing(new EchoBackend("slow").delay(2000));
    gheld = closing(new EchoBackend("held"));

    // The CA: a TLS control server, used only for the SVIDs of the authorization rows.
    Path caFile = Files.writeString(dir.resolve("ca-mesh.yaml"), """
        trustDomain: example.org
        services:
          guarded-http: { endpoints: [] }
        """);
    ControlServer ca = closing(ControlServer.builder().configFile(caFile).xdsPort(0).adminPort(0)
        .caDirectory(dir.resolve("ca")).joinTokens(TOKENS).build().start());
    for (String service : TOKENS.keySet()) {
      CaIdentitySource id = closing(CaIdentitySource.builder().service(service).joinToken(TOKENS.get(service))
          .controlServers("127.0.0.1:" + ca.xdsPort()).controlServerTrust(ca.trustBundleFile().orElseThrow())
          .build().start());
      id.awaitIdentity(Duration.ofSeconds(20));
      identities.put(service, id);
    }
    guardedHttpPort = freePort();
    guardedGrpcPort = freePort();

    StringBuilder yaml = new StringBuilder("trustDomain: example.org\nservices:\n");
    for (int i = 0; i < CASES.size(); i++) {
      Case c = CASES.get(i);
      if (c.guarded()) {
        continue;
      }
      yaml.append(service("r" + i + "-http", "http", new int[] {broken.port(), v1.port(), v2.port(), slow.port(),
          held.port()}, c.intent()));
      if (!(c.grpc() instanceof Refused)) {
        yaml.append(service("r" + i + "-grpc", "grpc", new int[] {gbroken.port(), g1.port(), g2.port(),
            gslow.port(), gheld.port()}, c.intent()));
      }
    }
    yaml.append(guarded("guarded-http", "http", guardedHttpPort));
    yaml.append(guarded("guarded-grpc", "grpc", guardedGrpcPort));
    Path file = Files.writeString(dir.resolve("mesh.yaml"), yaml.toString());
    server = closing(ControlServer.builder().xdsPlaintext(true).configFile(file).xdsPort(0).adminPort(0).build()
        .start());
    installGrpcBootstrap(server.xdsPort());
    mesh = closing(MeshClient.builder().xdsPlaintext().serviceName("one-intent-it")
        .controlServers("127.0.0.1:" + server.xdsPort()).build().start());
    http = MeshOkHttp.decorate(new OkHttpClient.Builder().readTimeout(Duration.ofSeconds(10)), mesh).build();
    closeables.add(() -> shutdown(http));
    for (String caller : List.of("frontend", "payments")) {
      OkHttpClient c = MeshOkHttp.client(mesh, identities.get(caller)::current);
      closeables.add(() -> shutdown(c));
      httpAs.put(caller, c);
    }
    startGuardedServers();
  }

  /** One service with the five shared instances and the row's intent. */
  private static String service(String name, String protocol, int[] ports, String intent) {
    return """
          %s:
            protocol: %s
            endpoints:
              - { address: 127.0.0.1:%d, labels: { version: broken, flaky: "yes" } }
              - { address: 127.0.0.1:%d, labels: { version: v1, ok: "yes" } }
              - { address: 127.0.0.1:%d, labels: { version: v2, flaky: "yes", ok: "yes", slowok: "yes", heldok: "yes" } }
              - { address: 127.0.0.1:%d, labels: { version: slow, slowok: "yes" } }
              - { address: 127.0.0.1:%d, labels: { version: held, heldok: "yes" } }
            subsets:
              broken: { version: broken }
              v1: { version: v1 }
              v2: { version: v2 }
              slow: { version: slow }
              held: { version: held }
              flaky: { flaky: "yes" }
              ok: { ok: "yes" }
              slowok: { slowok: "yes" }
              heldok: { heldok: "yes" }
        """.formatted(name, protocol, ports[0], ports[1], ports[2], ports[3], ports[4])
        + intent.replace("{retryOn}", protocol.equals("grpc") ? "unavailable" : "5xx").indent(4);
  }

  private static String guarded(String name, String protocol, int port) {
    return """
          %s:
            protocol: %s
            endpoints: [ { address: 127.0.0.1:%d } ]
        """.formatted(name, protocol, port) + GUARDED.indent(4);
  }

  /**
   * grpc-java's bootstrap for this JVM: plaintext xDS to the class's control server (as
   * {@link XdsClients#bootstrap} writes it), plus what an {@code XdsServerBuilder} with mTLS needs:
   * the server listener name template and the {@code meshlet} certificate provider the control
   * server's TLS contexts name, reading guarded-grpc's SVID from files.
   */
  private static void installGrpcBootstrap(int xdsPort) throws IOException, CertificateEncodingException {
    WorkloadIdentity id = identities.get("guarded-grpc").current();
    Path certs = Files.createDirectories(dir.resolve("certs"));
    Path cert = Files.writeString(certs.resolve("cert.pem"), pem(id.chain()));
    Path key = Files.writeString(certs.resolve("key.pem"), "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(id.privateKey().getEncoded())
        + "\n-----END PRIVATE KEY-----\n");
    Path roots = Files.writeString(certs.resolve("ca.pem"), pem(id.trustBundle()));
    System.setProperty("io.grpc.xds.bootstrapConfig", """
        {
          "xds_servers": [ { "server_uri": "127.0.0.1:%d",
                             "channel_creds": [ { "type": "insecure" } ],
                             "server_features": [ "xds_v3" ] } ],
          "node": { "id": "one-intent-it", "cluster": "meshlet-test" },
          "certificate_providers": { "meshlet": { "plugin_name": "file_watcher", "config": {
              "certificate_file": "%s", "private_key_file": "%s", "ca_certificate_file": "%s",
              "refresh_interval": "60s" } } },
          "server_listener_resource_name_template": "grpc/server?xds.resource.listening_address=%%s"
        }
        """.formatted(xdsPort, cert, key, roots));
  }

  private static String pem(List<X509Certificate> certificates) throws CertificateEncodingException {
    StringBuilder out = new StringBuilder();
    Base64.Encoder base64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));
    for (X509Certificate c : certificates) {
      out.append("-----BEGIN CERTIFICATE-----\n").append(base64.encodeToString(c.getEncoded()))
          .append("\n-----END CERTIFICATE-----\n");
    }
    return out.toString();
  }

  /** Jetty with Meshlet's connector and inbound handler, and grpc-java's XdsServerBuilder: both answer "served". */
  private static void startGuardedServers() throws Exception {
    MeshClient guardedMesh = closing(MeshClient.builder().xdsPlaintext().serviceName("guarded-http")
        .controlServers("127.0.0.1:" + server.xdsPort()).build().start());
    Server jetty = new Server();
    closeables.add(jetty::stop);
    ServerConnector connector = MeshJetty.connector(jetty, guardedMesh, identities.get("guarded-http")::current);
    connector.setHost("127.0.0.1");
    connector.setPort(guardedHttpPort);
    jetty.addConnector(connector);
    jetty.setHandler(MeshJetty.inbound(guardedMesh, new Handler.Abstract() {
      @Override
      public boolean handle(org.eclipse.jetty.server.Request request, org.eclipse.jetty.server.Response response,
          org.eclipse.jetty.util.Callback callback) {
        response.write(true, ByteBuffer.wrap("served".getBytes(StandardCharsets.UTF_8)), callback);
        return true;
      }
    }));
    jetty.start();
    io.grpc.Server grpcServer = XdsServerBuilder.forPort(guardedGrpcPort,
            XdsServerCredentials.create(InsecureServerCredentials.create()))
        .addService(ServerServiceDefinition.builder(EchoBackend.SERVICE)
            .addMethod(EchoBackend.WHO, ServerCalls.asyncUnaryCall((req, resp) -> {
              resp.onNext("served");
              resp.onCompleted();
            }))
            .addMethod(EchoBackend.OTHER, ServerCalls.asyncUnaryCall((req, resp) -> {
              resp.onNext("served");
              resp.onCompleted();
            }))
            .build())
        .build()
        .start();
    closeables.add(grpcServer::shutdownNow);
    Await.until("the guarded HTTP server and its callers to have their policy", Duration.ofSeconds(20),
        () -> guardedMesh.snapshot() != null && mesh.snapshot() != null
            && guardedMesh.snapshot().inbound("guarded-http").mtls() == MtlsMode.STRICT
            && mesh.snapshot().version().equals(guardedMesh.snapshot().version()));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static WireMockServer wiremock(com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder answer) {
    WireMockServer w = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    w.start();
    w.stubFor(any(anyUrl()).willReturn(answer));
    closeables.add(w::stop);
    return w;
  }

  private static <T extends AutoCloseable> T closing(T t) {
    closeables.add(t);
    return t;
  }

  private static void shutdown(OkHttpClient client) {
    client.dispatcher().executorService().shutdownNow();
    client.connectionPool().evictAll();
  }

  @AfterAll
  static void stop() {
    // In reverse order of starting: servers and callers before the backends they call.
    for (int i = closeables.size() - 1; i >= 0; i--) {
      try {
        closeables.get(i).close();
      } catch (Exception e) {
        // keep closing
      }
    }
  }

  static Stream<Arguments> table() {
    List<Arguments> rows = new ArrayList<>();
    for (int i = 0; i < CASES.size(); i++) {
      rows.add(Arguments.of(CASES.get(i), "http", i));
      rows.add(Arguments.of(CASES.get(i), "grpc", i));
    }
    return rows.stream();
  }

  @ParameterizedTest(name = "{0} over {1}")
  @MethodSource("table")
  void sameIntentSameBehaviour(Case c, String transport, int index) throws Exception {
    boolean grpc = transport.equals("grpc");
    Expect expected = grpc ? c.grpc() : c.http();
    String service = c.guarded() ? "guarded-" + transport : "r" + index + "-" + transport;
    if (expected instanceof Refused refused) {
      assertRefused(c, service, transport, refused);
      return;
    }
    ManagedChannel channel = !grpc ? null : c.guarded() ? guardedChannel(c.call().as()) : XdsClients.channel(service);
    List<Future<String>> holding = new ArrayList<>();
    Map<String, List<String>> answersByKey = new LinkedHashMap<>();
    Map<String, Integer> seen = new HashMap<>();
    int brokenBefore = brokenCalls(transport);
    try {
      if (channel != null && !c.guarded()) {
        awaitReady(channel);
      }
      switch (c.before()) {
        case HOLD_ONE, HOLD_TWO -> holding = hold(c.before() == Before.HOLD_ONE ? 1 : 2, c, transport, service,
            channel);
        case WARM_UP_UNTIL_EJECTED -> warmUp(c, transport, service, channel);
        case NOTHING -> { }
      }
      brokenBefore = brokenCalls(transport);
      for (int i = 0; i < c.calls(); i++) {
        String value = c.call().value(i);
        String result = call(transport, service, channel, c.call(), value);
        seen.merge(result, 1, Integer::sum);
        answersByKey.computeIfAbsent(String.valueOf(value), k -> new ArrayList<>()).add(result);
      }
    } finally {
      held.release();
      gheld.releaseCalls();
      for (Future<String> f : holding) {
        f.get(20, TimeUnit.SECONDS);
      }
      if (channel != null) {
        channel.shutdownNow();
      }
    }
    String what = c.name() + " over " + transport;
    if (expected instanceof Shares s) {
      for (Map.Entry<String, Double> e : s.shares().entrySet()) {
        double p = e.getValue();
        double mean = p * c.calls();
        // Four standard deviations of a binomial count, and never less than 2 calls.
        double tolerance = s.slack() >= 0 ? s.slack() : Math.max(2, 4 * Math.sqrt(c.calls() * p * (1 - p)));
        assertThat((double) seen.getOrDefault(e.getKey(), 0))
            .as("%s: calls answered '%s' (all: %s)", what, e.getKey(), seen)
            .isBetween(mean - tolerance, mean + tolerance);
      }
      assertThat(seen.keySet()).as("%s: nothing unexpected (all: %s)", what, seen)
          .isSubsetOf(s.shares().keySet());
      if (s.triesPerFailure() > 0) {
        assertThat(brokenCalls(transport) - brokenBefore).as("%s: tries of the broken instance", what)
            .isEqualTo(s.triesPerFailure() * seen.getOrDefault("unavailable", 0));
      }
    } else if (expected instanceof Sticky sticky) {
      for (Map.Entry<String, List<String>> e : answersByKey.entrySet()) {
        assertThat(Set.copyOf(e.getValue())).as("%s: the instances key %s landed on", what, e.getKey())
            .hasSize(1).isSubsetOf(sticky.instances());
      }
      assertThat(seen.keySet()).as("%s: the keys are spread over every instance (all: %s)", what, answersByKey)
          .isEqualTo(sticky.instances());
    }
  }

  /** validate refuses the intent for this protocol, with the one violation the row names. */
  private static void assertRefused(Case c, String service, String transport, Refused refused) {
    String yaml = "trustDomain: example.org\nservices:\n"
        + service(service, transport, new int[] {9001, 9002, 9003, 9004, 9005}, c.intent());
    MeshConfigException e = catchThrowableOfType(MeshConfigException.class,
        () -> MeshConfigParser.parse(yaml, "mesh.yaml"));
    assertThat(e).as("%s over %s: refused by validate", c.name(), transport).isNotNull();
    assertThat(e.violations()).extracting(Violation::message)
        .containsExactly("service '" + service + "': " + refused.violation());
  }

  /** Calls, one at a time, until {@code count} are held by the {@code held} instance; returns them. */
  private static List<Future<String>> hold(int count, Case c, String transport, String service,
      ManagedChannel channel) {
    boolean grpc = transport.equals("grpc");
    IntSupplier inFlight = grpc ? gheld::inFlight : held::inFlight;
    if (grpc) {
      gheld.holdCalls();
    } else {
      held.hold();
    }
    // Held until the case ends (released in its finally), so its deadline must outlast the counted
    // calls: least request's case spends 700 ms on each call that meets the held instance, and a
    // held call that timed out mid-case left the instance unloaded (a 50/50 split in one CI run).
    Call patient = c.call().deadline(120_000);
    List<Future<String>> calls = new ArrayList<>();
    while (inFlight.getAsInt() < count) {
      assertThat(calls).as("%s over %s: calls sent to get %d held", c.name(), transport, count).hasSizeLessThan(40);
      int before = inFlight.getAsInt();
      Future<String> f = background.submit(() -> call(transport, service, channel, patient, null));
      calls.add(f);
      Await.until("a call to be held or answered", Duration.ofSeconds(20),
          () -> f.isDone() || inFlight.getAsInt() > before);
    }
    return calls;
  }

  /** Calls until ten in a row are answered by a working instance, for at most 20 s. */
  private static void warmUp(Case c, String transport, String service, ManagedChannel channel) throws IOException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    int working = 0;
    while (working < 10 && System.nanoTime() < deadline) {
      working = call(transport, service, channel, c.call(), null).equals("unavailable") ? 0 : working + 1;
    }
  }

  private static int brokenCalls(String transport) {
    return transport.equals("grpc") ? gbroken.calls()
        : broken.countRequestsMatching(anyRequestedFor(anyUrl()).build()).getCount();
  }

  private static String call(String transport, String service, ManagedChannel channel, Call call, String value)
      throws IOException {
    return transport.equals("http") ? httpCall(service, call, value) : grpcCall(channel, call, value);
  }

  private static String httpCall(String service, Call call, String value) throws IOException {
    Request.Builder b = new Request.Builder().url("http://" + service + "/meshlet.test.Echo/" + call.method());
    if (call.header() != null) {
      b.header(call.header(), value);
    }
    OkHttpClient client = (call.as() == null ? http : httpAs.get(call.as())).newBuilder()
        .callTimeout(Duration.ofMillis(call.deadlineMillis())).build();
    try (Response r = client.newCall(b.build()).execute()) {
      if (r.code() == 503 && "true".equals(r.header("x-meshlet-overloaded"))) {
        return "overloaded";
      }
      return switch (r.code()) {
        case 200 -> r.body().string();
        case 403 -> "denied";
        case 429 -> "limited";
        case 503 -> "unavailable";
        default -> "http " + r.code();
      };
    } catch (InterruptedIOException e) {
      return "timeout";
    }
  }

  private static String grpcCall(ManagedChannel channel, Call call, String value) {
    CallOptions options = CallOptions.DEFAULT.withDeadlineAfter(call.deadlineMillis(), TimeUnit.MILLISECONDS);
    io.grpc.Channel ch = channel;
    if (call.header() != null) {
      ch = io.grpc.ClientInterceptors.intercept(channel,
          MetadataUtils.newAttachHeadersInterceptor(XdsClients.header(call.header(), value)));
    }
    if (call.as() != null) {
      // The guarded server may still be waiting for its listener when the first row runs.
      options = options.withWaitForReady();
    }
    try {
      return ClientCalls.blockingUnaryCall(ch, call.method().equals("Who") ? EchoBackend.WHO : EchoBackend.OTHER,
          options, "hi");
    } catch (StatusRuntimeException e) {
      Status status = e.getStatus();
      return switch (status.getCode()) {
        case UNAVAILABLE -> String.valueOf(status.getDescription()).contains("max concurrent requests")
            ? "overloaded" : "unavailable";
        case DEADLINE_EXCEEDED -> "timeout";
        case PERMISSION_DENIED -> "denied";
        default -> status.getCode().name();
      };
    }
  }

  /** A TLS channel to guarded-grpc presenting {@code caller}'s SVID and checking the server's. */
  private static ManagedChannel guardedChannel(String caller) throws IOException {
    CaIdentitySource id = identities.get(caller);
    return NettyChannelBuilder.forAddress("127.0.0.1", guardedGrpcPort)
        .sslContext(GrpcSslContexts.forClient()
            .keyManager(SpiffeTls.keyManager(id::current))
            .trustManager(SpiffeTls.trustManager(id::current,
                peer -> peer.equals("spiffe://example.org/service/guarded-grpc")))
            .build())
        .overrideAuthority("guarded-grpc")
        .build();
  }

  private static void awaitReady(ManagedChannel channel) {
    // A first call that waits for the channel's config and a connection; any answer will do
    // (ring hash connects only when a call picks an endpoint, so the state alone may stay IDLE).
    // Then wait until the channel is READY, so that no counted call waits for its config.
    try {
      ClientCalls.blockingUnaryCall(channel, EchoBackend.WHO,
          CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(20, TimeUnit.SECONDS), "hi");
    } catch (StatusRuntimeException e) {
      // an answer too (the row's own checks judge the counted calls)
    }
    Await.until("the channel to be ready", Duration.ofSeconds(20),
        () -> channel.getState(true) == ConnectivityState.READY);
  }
}
