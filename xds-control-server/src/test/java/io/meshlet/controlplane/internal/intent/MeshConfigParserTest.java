// Long by design: the exact error text of every mesh.yaml field the readers refuse, as tables per
// section; one file keeps the file/line/field/value format checked in one place.
package io.meshlet.controlplane.internal.intent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import io.meshlet.controlplane.intent.AuthorizationSpec;
import io.meshlet.controlplane.intent.CircuitBreakerSpec;
import io.meshlet.controlplane.intent.EndpointSpec;
import io.meshlet.controlplane.intent.FaultSpec;
import io.meshlet.controlplane.intent.FaultSpec.Abort;
import io.meshlet.controlplane.intent.FaultSpec.Delay;
import io.meshlet.controlplane.intent.MatchSpec;
import io.meshlet.controlplane.intent.MatchSpec.HeaderMatch;
import io.meshlet.controlplane.intent.MatchSpec.PathMatch;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.MeshConfigParser;
import io.meshlet.controlplane.intent.MtlsSpec;
import io.meshlet.controlplane.intent.OutlierDetectionSpec;
import io.meshlet.controlplane.intent.OutlierDetectionSpec.FailurePercentage;
import io.meshlet.controlplane.intent.RateLimitSpec;
import io.meshlet.controlplane.intent.RetrySpec;
import io.meshlet.controlplane.intent.RouteSpec;
import io.meshlet.controlplane.intent.RouteSpec.WeightedTarget;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.controlplane.intent.ServiceSpec.LoadBalancing;
import io.meshlet.controlplane.intent.ServiceSpec.Protocol;
import io.meshlet.controlplane.intent.Violation;
import io.meshlet.controlplane.testing.DesignSample;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class MeshConfigParserTest {

  /** The sample of DESIGN.md ("The config file"), verbatim. */
  static final String DESIGN_SAMPLE = DesignSample.MESH_YAML;

  @TempDir Path dir;

  @Test
  void designSampleParsesIntoTheExpectedRecords() throws Exception {
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, DESIGN_SAMPLE, StandardCharsets.UTF_8);

    MeshConfig mesh = MeshConfigParser.parse(file);

    assertThat(mesh.trustDomain()).isEqualTo("example.org");
    assertThat(mesh.mtls()).isEqualTo(new MtlsSpec(MtlsSpec.Mode.STRICT, Duration.ofHours(1)));
    assertThat(mesh.services()).containsOnlyKeys("catalog");

    ServiceSpec catalog = mesh.services().get("catalog");
    assertThat(catalog.name()).isEqualTo("catalog");
    assertThat(catalog.protocol()).isEqualTo(Protocol.HTTP);
    assertThat(catalog.endpoints()).containsExactly(
        new EndpointSpec("127.0.0.1", 9001, Map.of("version", "v1")),
        new EndpointSpec("127.0.0.1", 9002, Map.of("version", "v2")));
    assertThat(catalog.subsets()).containsExactly(
        Map.entry("v1", Map.of("version", "v1")), Map.entry("v2", Map.of("version", "v2")));
    assertThat(catalog.endpointsOf("v2")).extracting(EndpointSpec::address).containsExactly("127.0.0.1:9002");
    assertThat(catalog.loadBalancing()).isEqualTo(LoadBalancing.ROUND_ROBIN);
    assertThat(catalog.hashHeader()).isEmpty();
    assertThat(catalog.circuitBreaker()).contains(new CircuitBreakerSpec(100, 50, 3));
    assertThat(catalog.outlierDetection()).contains(new OutlierDetectionSpec(
        5, Duration.ofSeconds(10), Duration.ofSeconds(30), 50, Optional.empty()));
    assertThat(catalog.authorization())
        .contains(new AuthorizationSpec(List.of("spiffe://example.org/service/frontend")));

    assertThat(catalog.routes()).hasSize(2);
    RouteSpec canary = catalog.routes().get(0);
    assertThat(canary.match()).isEqualTo(new MatchSpec(
        new PathMatch(PathMatch.Kind.PREFIX, "/api"),
        List.of(new HeaderMatch("x-canary", HeaderMatch.Kind.EXACT, "true"))));
    assertThat(canary.to()).containsExactly(new WeightedTarget(Optional.of("v2"), 100));
    assertThat(canary.timeout()).isEmpty();
    assertThat(canary.retries()).isEmpty();
    assertThat(canary.faults()).isEmpty();
    assertThat(canary.rateLimit()).isEmpty();

    RouteSpec main = catalog.routes().get(1);
    assertThat(main.match()).isEqualTo(MatchSpec.any());
    assertThat(main.to()).containsExactly(
        new WeightedTarget(Optional.of("v1"), 90), new WeightedTarget(Optional.of("v2"), 10));
    assertThat(main.timeout()).contains(Duration.ofSeconds(2));
    assertThat(main.retries()).contains(new RetrySpec(
        3, Optional.of(Duration.ofMillis(500)), List.of("5xx", "reset", "connect-failure", "unavailable"),
        Duration.ofMillis(25), Duration.ofMillis(250)));
    assertThat(main.faults()).contains(new FaultSpec(
        Optional.of(new Delay(1, Duration.ofMillis(100))),
        Optional.of(new Abort(0.1, Optional.of(503), Optional.empty()))));
    assertThat(main.rateLimit()).contains(new RateLimitSpec(500, 100));
  }

  @Test
  void readsHeaderMatchersPathKindsAndTheRestOfTheOptions() throws Exception {
    MeshConfig mesh = MeshConfigParser.parse("""
        services:
          users:
            protocol: grpc
            endpoints:
              - address: "[::1]:9001"
              - address: users.internal:9002
                labels: { zone: eu-west-1a, app.kubernetes.io/version: "1.2" }
            loadBalancing: ring_hash
            hashHeader: x-user-id
            outlierDetection:
              failurePercentage: { threshold: 50, minimumHosts: 2, requestVolume: 10 }
            routes:
              - match:
                  path: /users.Users/Get
                  headers:
                    x-tenant: { regex: "t-[0-9]+" }
                    x-debug: { present: true }
                    x-env: { exact: prod }
                to: [ { weight: 100 } ]
                retries: { attempts: 2 }
                faults: { abort: { percent: 5, grpcStatus: 14 } }
              - match: { pathRegex: "/users\\\\.Users/.*" }
                to: [ {} ]
        """, "mesh.yaml");

    assertThat(mesh.trustDomain()).isEqualTo(MeshConfig.DEFAULT_TRUST_DOMAIN);
    assertThat(mesh.mtls()).isEqualTo(MtlsSpec.defaults());
    ServiceSpec users = mesh.services().get("users");
    assertThat(users.protocol()).isEqualTo(Protocol.GRPC);
    assertThat(users.endpoints()).containsExactly(
        new EndpointSpec("::1", 9001, Map.of()),
        new EndpointSpec("users.internal", 9002, Map.of("zone", "eu-west-1a", "app.kubernetes.io/version", "1.2")));
    assertThat(users.endpoints().get(0).address()).isEqualTo("[::1]:9001");
    assertThat(users.loadBalancing()).isEqualTo(LoadBalancing.RING_HASH);
    assertThat(users.hashHeader()).contains("x-user-id");
    // No consecutive-error ejection on a gRPC service: grpc-java does not implement it.
    assertThat(users.outlierDetection()).contains(new OutlierDetectionSpec(
        0, Duration.ofSeconds(10), Duration.ofSeconds(30), 10, Optional.of(new FailurePercentage(50, 2, 10))));

    RouteSpec get = users.routes().get(0);
    assertThat(get.match().path()).isEqualTo(new PathMatch(PathMatch.Kind.EXACT, "/users.Users/Get"));
    assertThat(get.match().headers()).containsExactly(
        new HeaderMatch("x-tenant", HeaderMatch.Kind.REGEX, "t-[0-9]+"),
        new HeaderMatch("x-debug", HeaderMatch.Kind.PRESENT, ""),
        new HeaderMatch("x-env", HeaderMatch.Kind.EXACT, "prod"));
    assertThat(get.to()).containsExactly(new WeightedTarget(Optional.empty(), 100));
    // gRPC services retry on 'unavailable' unless told otherwise; backoff max defaults to 10 x base.
    assertThat(get.retries()).contains(new RetrySpec(
        2, Optional.empty(), List.of("unavailable"), Duration.ofMillis(25), Duration.ofMillis(250)));
    assertThat(get.faults()).contains(new FaultSpec(
        Optional.empty(), Optional.of(new Abort(5, Optional.empty(), Optional.of(14)))));

    RouteSpec rest = users.routes().get(1);
    assertThat(rest.match().path()).isEqualTo(new PathMatch(PathMatch.Kind.REGEX, "/users\\.Users/.*"));
    assertThat(rest.to()).containsExactly(new WeightedTarget(Optional.empty(), 100));
  }

  @Test
  void aServiceWithoutRoutesSendsEverythingToEveryEndpoint() throws Exception {
    MeshConfig mesh = MeshConfigParser.parse("""
        services:
          plain:
            endpoints: [ { address: 10.0.0.1:80 } ]
          http-retries:
            routes: [ { to: [ { weight: 1 } ], retries: { attempts: 1 } } ]
        """, "mesh.yaml");

    ServiceSpec plain = mesh.services().get("plain");
    assertThat(plain.protocol()).isEqualTo(Protocol.HTTP);
    assertThat(plain.routes()).containsExactly(new RouteSpec(MatchSpec.any(),
        List.of(new WeightedTarget(Optional.empty(), 100)),
        Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty()));
    assertThat(mesh.services().get("http-retries").routes().get(0).retries().orElseThrow().on())
        .containsExactly("5xx", "reset", "connect-failure");
    assertThat(mesh.services().keySet()).containsExactly("plain", "http-retries");
  }

  @ParameterizedTest(name = "mode: {0}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
      off          | OFF
      "off"        | OFF
      'off'        | OFF
      false        | OFF
      OFF          | OFF
      permissive   | PERMISSIVE
      strict       | STRICT
      "strict"     | STRICT
      """)
  void mtlsModeIsReadWhetherQuotedOrNot(String written, MtlsSpec.Mode mode) throws Exception {
    MeshConfig mesh = MeshConfigParser.parse("mtls: { mode: " + written + " }\nservices: {}\n", "mesh.yaml");

    assertThat(mesh.mtls().mode()).isEqualTo(mode);
  }


  static Stream<Arguments> badConfigs() {
    return Stream.of(
        arguments("YAML syntax error: a tab", """
            services:
            \tpayments: {}
            """,
            "mesh.yaml:2: YAML syntax error: found character '\\t(TAB)' that cannot start any token."
                + " (Do not use \\t(TAB) for indentation) (expected: well-formed YAML)"),
        arguments("YAML syntax error: an unclosed list", """
            services:
              payments:
                endpoints: [ { address: 127.0.0.1:9001 }
            """,
            "mesh.yaml:4: YAML syntax error: expected ',' or ']', but got <stream end>"
                + " while parsing a flow sequence started on line 3 (expected: well-formed YAML)"),
        arguments("a control character", "services:\n  payments:\n    protocol: ht\u0000tp\n",
            "mesh.yaml:3: character U+0000 (expected: printable text: no control characters other than tab and "
                + "line breaks)"),
        arguments("empty file", "",
            "mesh.yaml: empty file (expected: a mapping with trustDomain, mtls and services)"),
        arguments("only comments", "# nothing yet\n",
            "mesh.yaml: empty file (expected: a mapping with trustDomain, mtls and services)"),
        arguments("not a mapping", "- payments\n",
            "mesh.yaml:1: a list (expected: a mapping with trustDomain, mtls, services)"),
        arguments("no services", "trustDomain: example.org\n",
            "mesh.yaml:1: services: missing (expected: a mapping of service names to services)"),
        arguments("unknown top-level field", """
            services: {}
            tracing: { sampler: always }
            """,
            "mesh.yaml:2: tracing: unknown field (expected: one of trustDomain, mtls, services)"),
        arguments("unknown field in a service", """
            services:
              payments:
                endpoint: [ { address: 127.0.0.1:9001 } ]
            """,
            "mesh.yaml:3: service 'payments': endpoint: unknown field (expected: one of protocol, endpoints,"
                + " subsets, loadBalancing, hashHeader, circuitBreaker, outlierDetection, locality, routes, authorization, mtls)"),
        arguments("unknown field in a route", """
            services:
              payments:
                routes:
                  - to: [ { weight: 100 } ]
                    timout: 2s
            """,
            "mesh.yaml:5: service 'payments': routes[0].timout: unknown field"
                + " (expected: one of match, to, timeout, retries, faults, rateLimit)"),
        arguments("bad trust domain", """
            trustDomain: Example.org
            services: {}
            """,
            "mesh.yaml:1: trustDomain: Example.org (expected: a lower-case DNS name such as example.org)"),
        arguments("bad service name", """
            services:
              Payments: {}
            """,
            "mesh.yaml:2: services: 'Payments' (expected: a service name of at most 63 lower-case letters, digits,"
                + " '.' and '-', starting and ending with a letter or digit)"),
        arguments("bad protocol", """
            services:
              payments:
                protocol: thrift
            """,
            "mesh.yaml:3: service 'payments': protocol: thrift (expected: one of http, grpc)"),
        arguments("bad port", """
            services:
              payments:
                endpoints:
                  - address: 127.0.0.1:70000
            """,
            "mesh.yaml:4: service 'payments': endpoints[0].address: 127.0.0.1:70000"
                + " (expected: host:port with a port in 1..65535, e.g. 127.0.0.1:9001)"),
        arguments("address without a port", """
            services:
              payments:
                endpoints: [ { address: payments.internal } ]
            """,
            "mesh.yaml:3: service 'payments': endpoints[0].address: payments.internal"
                + " (expected: host:port with a port in 1..65535, e.g. 127.0.0.1:9001)"),
        arguments("endpoint without an address", """
            services:
              payments:
                endpoints:
                  - labels: { version: v1 }
            """,
            "mesh.yaml:4: service 'payments': endpoints[0].address: missing (expected: host:port, e.g. 127.0.0.1:9001)"),
        arguments("duplicate endpoint address", """
            services:
              payments:
                endpoints:
                  - address: 127.0.0.1:9001
                  - address: 127.0.0.1:9001
            """,
            "mesh.yaml:5: service 'payments': endpoints[1].address: 127.0.0.1:9001"
                + " (expected: an address not already listed for this service: endpoints[0] has it)"),
        arguments("subset selecting nothing", """
            services:
              payments:
                subsets: { v1: {} }
            """,
            "mesh.yaml:3: service 'payments': subsets.v1: {} (expected: at least one label, e.g. { version: v1 })"),
        arguments("bad duration", """
            services:
              payments:
                routes:
                  - to: [ { weight: 100 } ]
                    timeout: 2
            """,
            "mesh.yaml:5: service 'payments': routes[0].timeout: 2"
                + " (expected: a duration such as 250ms, 2s, 1m or 1h)"),
        arguments("duration out of range", """
            services:
              payments:
                routes:
                  - to: [ { weight: 100 } ]
                    timeout: 25h
            """,
            "mesh.yaml:5: service 'payments': routes[0].timeout: 25h (expected: 1ms..24h)"),
        arguments("percentage out of range", """
            services:
              payments:
                outlierDetection:
                  consecutive5xx: 5
                  interval: 10s
                  baseEjectionTime: 30s
                  maxEjectionPercent: 140
            """,
            "mesh.yaml:7: service 'payments': outlierDetection.maxEjectionPercent: 140 (expected: 0..100)"),
        arguments("too many retries", """
            services:
              payments:
                routes:
                  - to: [ { weight: 100 } ]
                    retries: { attempts: 11 }
            """,
            "mesh.yaml:5: service 'payments': routes[0].retries.attempts: 11 (expected: 0..10)"),
        arguments("not a number", """
            services:
              payments:
                circuitBreaker: { maxRequests: lots }
            """,
            "mesh.yaml:3: service 'payments': circuitBreaker.maxRequests: lots"
                + " (expected: an integer in 1..1000000000)"),
        arguments("fault percentage out of range", """
            services:
              payments:
                routes:
                  - to: [ { weight: 100 } ]
                    faults: { abort: { percent: 150, httpStatus: 503 } }
            """,
            "mesh.yaml:5: service 'payments': routes[0].faults.abort.percent: 150 (expected: 0..100)"),
        arguments("undefined subset", """
            services:
              payments:
                endpoints:
                  - { address: 127.0.0.1:9001, labels: { version: v1 } }
                subsets: { v1: { version: v1 }, v2: { version: v2 } }
                routes:
                  - to: [ { subset: v3 } ]
            """,
            "mesh.yaml:7: service 'payments': routes[0].to[0].subset: v3"
                + " (expected: a subset defined under subsets: v1, v2)"),
        arguments("subset when none are defined", """
            services:
              payments:
                routes:
                  - to: [ { subset: v1 } ]
            """,
            "mesh.yaml:4: service 'payments': routes[0].to[0].subset: v1"
                + " (expected: a subset defined under subsets; this service defines none)"),
        arguments("several path matchers at once", """
            services:
              payments:
                routes:
                  - match: { pathPrefix: /api, path: /api/pay }
                    to: [ { weight: 100 } ]
            """,
            "mesh.yaml:4: service 'payments': routes[0].match: pathPrefix and path"
                + " (expected: at most one of pathPrefix, path, pathRegex)"),
        arguments("path without a leading slash", """
            services:
              payments:
                routes:
                  - match: { pathPrefix: api }
                    to: [ { weight: 100 } ]
            """,
            "mesh.yaml:4: service 'payments': routes[0].match.pathPrefix: 'api' (expected: a path starting with '/')"),
        arguments("invalid path regex", """
            services:
              payments:
                routes:
                  - match: { pathRegex: "/api/(v1" }
                    to: [ { weight: 100 } ]
            """,
            "mesh.yaml:4: service 'payments': routes[0].match.pathRegex: '/api/(v1'"
                + " (expected: a valid RE2 regular expression (missing closing )))"),
        arguments("invalid header regex", """
            services:
              payments:
                routes:
                  - match:
                      headers:
                        x-tenant: { regex: "[a-" }
                    to: [ { weight: 100 } ]
            """,
            "mesh.yaml:6: service 'payments': routes[0].match.headers.x-tenant.regex: '[a-'"
                + " (expected: a valid RE2 regular expression (missing closing ]))"),
        arguments("regex outside RE2 (lookahead), which gRPC clients refuse", """
            services:
              payments:
                routes:
                  - match: { pathRegex: "/api/(?=v1).*" }
                    to: [ { weight: 100 } ]
            """,
            "mesh.yaml:4: service 'payments': routes[0].match.pathRegex: '/api/(?=v1).*'"
                + " (expected: a valid RE2 regular expression (invalid or unsupported Perl syntax))"),
        arguments("header name in upper case", """
            services:
              payments:
                routes:
                  - match: { headers: { X-Canary: "true" } }
                    to: [ { weight: 100 } ]
            """,
            "mesh.yaml:4: service 'payments': routes[0].match.headers.X-Canary: 'X-Canary'"
                + " (expected: a lower-case header name)"),
        arguments("header matcher with two kinds", """
            services:
              payments:
                routes:
                  - match: { headers: { x-canary: { exact: "yes", present: true } } }
                    to: [ { weight: 100 } ]
            """,
            "mesh.yaml:4: service 'payments': routes[0].match.headers.x-canary: exact and present"
                + " (expected: a value, or exactly one of { exact: ... }, { regex: ... }, { present: true })"),
        arguments("abort with both statuses", """
            services:
              payments:
                routes:
                  - to: [ { weight: 100 } ]
                    faults: { abort: { percent: 1, httpStatus: 503, grpcStatus: 14 } }
            """,
            "mesh.yaml:5: service 'payments': routes[0].faults.abort: httpStatus and grpcStatus"
                + " (expected: exactly one of httpStatus (200..599) and grpcStatus (1..16))"),
        arguments("abort with neither status", """
            services:
              payments:
                routes:
                  - to: [ { weight: 100 } ]
                    faults: { abort: { percent: 1 } }
            """,
            "mesh.yaml:5: service 'payments': routes[0].faults.abort: neither httpStatus nor grpcStatus"
                + " (expected: exactly one of httpStatus (200..599) and grpcStatus (1..16))"),
        arguments("delay without a percentage", """
            services:
              payments:
                routes:
                  - to: [ { weight: 100 } ]
                    faults: { delay: { fixed: 100ms } }
            """,
            "mesh.yaml:5: service 'payments': routes[0].faults.delay.percent: missing"
                + " (expected: a percentage in 0..100)"),
        arguments("hashHeader without ring_hash", """
            services:
              payments:
                loadBalancing: least_request
                hashHeader: x-user-id
            """,
            "mesh.yaml:4: service 'payments': hashHeader: x-user-id (expected: only with loadBalancing: ring_hash)"),
        arguments("bad SPIFFE id", """
            services:
              payments:
                authorization:
                  allow: [ spiffe://example.org ]
            """,
            "mesh.yaml:4: service 'payments': authorization.allow[0]: spiffe://example.org"
                + " (expected: a SPIFFE ID such as spiffe://example.org/service/frontend)"),
        arguments("authorization rule with methods on a gRPC service", """
            services:
              payments:
                protocol: grpc
                authorization:
                  rules:
                    - match: { path: /pay.Payments/Refund, methods: [ POST ] }
                      allow: [ spiffe://example.org/service/ops ]
            """,
            "mesh.yaml:6: service 'payments': authorization.rules[0].match.methods: set (expected: no methods for a "
                + "gRPC service: every call is a POST; match the method by path, e.g. path: /catalog.Catalog/Delete)"),
        arguments("authorization rule with both path kinds", """
            services:
              payments:
                authorization:
                  rules: [ { match: { path: /a, pathPrefix: /b }, allow: [] } ]
            """,
            "mesh.yaml:4: service 'payments': authorization.rules[0].match: path and pathPrefix"
                + " (expected: exactly one of path, pathPrefix)"),
        arguments("authorization rule with a lower-case method", """
            services:
              payments:
                authorization:
                  rules: [ { match: { pathPrefix: /admin, methods: [ post ] }, allow: [] } ]
            """,
            "mesh.yaml:4: service 'payments': authorization.rules[0].match.methods[0]: post"
                + " (expected: an HTTP method in capitals, such as GET or POST)"),
        arguments("route without to", """
            services:
              payments:
                routes:
                  - match: { pathPrefix: /api }
            """,
            "mesh.yaml:4: service 'payments': routes[0].to: missing"
                + " (expected: a list of targets such as [ { subset: v1, weight: 100 } ])"),
        arguments("weights adding to 0", """
            services:
              payments:
                endpoints:
                  - { address: 127.0.0.1:9001, labels: { version: v1 } }
                subsets: { v1: { version: v1 }, v2: { version: v2 } }
                routes:
                  - to: [ { subset: v1, weight: 0 }, { subset: v2, weight: 0 } ]
            """,
            "mesh.yaml:7: service 'payments': routes[0].to: weights adding up to 0"
                + " (expected: at least one weight above 0)"),
        arguments("several targets, one without a weight", """
            services:
              payments:
                subsets: { v1: { version: v1 }, v2: { version: v2 } }
                routes:
                  - to: [ { subset: v1, weight: 90 }, { subset: v2 } ]
            """,
            "mesh.yaml:5: service 'payments': routes[0].to[1].weight: missing"
                + " (expected: a weight when a route has several targets)"),
        arguments("unknown retry condition", """
            services:
              payments:
                routes:
                  - to: [ { weight: 100 } ]
                    retries: { on: [ 5xx, timeout ] }
            """,
            "mesh.yaml:5: service 'payments': routes[0].retries.on[1]: timeout (expected: one of 5xx, gateway-error,"
                + " reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, cancelled,"
                + " deadline-exceeded, internal, resource-exhausted, unavailable)"),
        arguments("backoff max below base", """
            services:
              payments:
                routes:
                  - to: [ { weight: 100 } ]
                    retries:
                      attempts: 2
                      backoff: { base: 100ms, max: 50ms }
            """,
            "mesh.yaml:7: service 'payments': routes[0].retries.backoff.max: 50ms"
                + " (expected: at least backoff.base (100ms))"),
        arguments("bad mtls mode", """
            mtls: { mode: on }
            services: {}
            """,
            "mesh.yaml:1: mtls.mode: on (expected: one of off, permissive, strict)"),
        arguments("cert TTL out of range", """
            mtls: { mode: strict, certTtl: 30s }
            services: {}
            """,
            "mesh.yaml:1: mtls.certTtl: 30s (expected: 1m..720h)"),
        arguments("duplicate key", """
            services:
              payments:
                protocol: http
                protocol: grpc
            """,
            "mesh.yaml:4: service 'payments': protocol: duplicate key, also on line 3 (expected: each key once)"),
        arguments("duplicate service", """
            services:
              payments: {}
              payments: {}
            """,
            "mesh.yaml:3: services.payments: duplicate key, also on line 2 (expected: each key once)"));
  }

  /**
   * One intent, one meaning: what grpc-java (the client of every gRPC service) does not honour is
   * refused for a gRPC service, naming what to write instead; the same field on an HTTP service,
   * which Meshlet's own engine serves, is accepted (the last column).
   */
  static Stream<Arguments> fieldsAGrpcServiceRefuses() {
    String service = """
        services:
          payments:
            protocol: grpc
        """;
    return Stream.of(
        arguments("rateLimit", service + """
                routes:
                  - to: [ { weight: 100 } ]
                    rateLimit: { requestsPerSecond: 500, burst: 100 }
            """,
            "mesh.yaml:6: service 'payments': routes[0].rateLimit: { requestsPerSecond: 500, burst: 100 }"
                + " (expected: no rateLimit on a grpc service: grpc-java has no local rate limit filter"
                + " (envoy.filters.http.local_ratelimit) and skips it; bound calls in flight with"
                + " circuitBreaker.maxRequests, or limit on the server)"),
        arguments("outlierDetection.consecutive5xx", service + """
                outlierDetection: { consecutive5xx: 5, failurePercentage: { threshold: 50 } }
            """,
            "mesh.yaml:4: service 'payments': outlierDetection.consecutive5xx: 5 (expected: no consecutive5xx on a"
                + " grpc service: grpc-java implements only success-rate and failure-percentage ejection; use"
                + " failurePercentage: { threshold, minimumHosts, requestVolume })"),
        arguments("outlierDetection without failurePercentage", service + """
                outlierDetection: { interval: 5s, maxEjectionPercent: 50 }
            """,
            "mesh.yaml:4: service 'payments': outlierDetection: { interval: 5s, maxEjectionPercent: 50 }"
                + " (expected: failurePercentage on a grpc service: grpc-java ejects by failure percentage only,"
                + " so without it nothing is ejected; add failurePercentage: { threshold, minimumHosts,"
                + " requestVolume })"),
        arguments("circuitBreaker.maxPendingRequests", service + """
                circuitBreaker: { maxRequests: 100, maxPendingRequests: 50 }
            """,
            "mesh.yaml:4: service 'payments': circuitBreaker.maxPendingRequests: 50 (expected: no"
                + " maxPendingRequests on a grpc service: grpc-java honours only maxRequests and fails a call"
                + " beyond it at once, queueing none; use maxRequests)"),
        arguments("circuitBreaker.maxRetries", service + """
                circuitBreaker:
                  maxRequests: 100
                  maxRetries: 3
            """,
            "mesh.yaml:6: service 'payments': circuitBreaker.maxRetries: 3 (expected: no maxRetries on a grpc"
                + " service: grpc-java honours only maxRequests and has no budget of concurrent retries; bound"
                + " retries with routes[].retries.attempts)"),
        arguments("retries.perTryTimeout", service + """
                routes:
                  - to: [ { weight: 100 } ]
                    retries: { attempts: 2, perTryTimeout: 500ms }
            """,
            "mesh.yaml:6: service 'payments': routes[0].retries.perTryTimeout: 500ms (expected: no perTryTimeout"
                + " on a grpc service: grpc-java has no per-try timeout (gRFC A44); use the route's timeout,"
                + " which bounds all tries together)"),
        arguments("an HTTP retry condition", service + """
                routes:
                  - to: [ { weight: 100 } ]
                    retries:
                      on: [ unavailable, 5xx ]
            """,
            "mesh.yaml:7: service 'payments': routes[0].retries.on[1]: 5xx (expected: a gRPC status condition"
                + " (cancelled, deadline-exceeded, internal, resource-exhausted, unavailable) on a grpc service:"
                + " grpc-java retries on gRPC status codes only and skips HTTP conditions)"),
        arguments("retries.attempts beyond grpc-java's cap", service + """
                routes:
                  - to: [ { weight: 100 } ]
                    retries: { attempts: 5 }
            """,
            "mesh.yaml:6: service 'payments': routes[0].retries.attempts: 5 (expected: 0..4 on a grpc service:"
                + " grpc-java makes at most 5 attempts in all and would cut the rest)"),
        arguments("loadBalancing: random", service + """
                loadBalancing: random
            """,
            "mesh.yaml:4: service 'payments': loadBalancing: random (expected: round_robin, least_request or"
                + " ring_hash on a grpc service: grpc-java has no random policy and would balance round robin)"));
  }

  @ParameterizedTest(name = "grpc: {0}")
  @MethodSource("fieldsAGrpcServiceRefuses")
  void aGrpcServiceRefusesWhatGrpcJavaDoesNotHonour(String name, String yaml, String expected) throws Exception {
    MeshConfigException e = catchThrowableOfType(MeshConfigException.class,
        () -> MeshConfigParser.parse(yaml, "mesh.yaml"));

    assertThat(e).as("no exception for %s on a grpc service", name).isNotNull();
    assertThat(e.violations()).extracting(Violation::toString).containsExactly(expected);
    // Meshlet's HTTP engine honours each of them: the same lines pass for an HTTP service...
    String http = yaml.replace("protocol: grpc", "protocol: http");
    if (name.startsWith("outlierDetection")) {
      // ...where consecutive-error ejection is on by default, and no failurePercentage is needed.
      assertThat(MeshConfigParser.parse(http, "mesh.yaml").services().get("payments").outlierDetection()
          .orElseThrow().consecutive5xx()).isEqualTo(5);
    } else {
      assertThat(MeshConfigParser.parse(http, "mesh.yaml").services()).containsKey("payments");
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      http | 6
      grpc | 6
      """)
  void aPerTryTimeoutWithoutRetriesIsRefusedOnEveryProtocol(String protocol, int line) {
    // attempts: 0 is sent as no retry policy (C-core and grpc-js refuse num_retries: 0), so the
    // per-try timeout would be dropped; with one try it is the route's timeout anyway.
    String yaml = """
        services:
          payments:
            protocol: %s
            routes:
              - to: [ { weight: 100 } ]
                retries: { attempts: 0, perTryTimeout: 500ms }
        """.formatted(protocol);

    MeshConfigException e = catchThrowableOfType(MeshConfigException.class,
        () -> MeshConfigParser.parse(yaml, "mesh.yaml"));

    assertThat(e.violations()).extracting(Violation::toString).containsExactly(protocol.equals("http")
        ? "mesh.yaml:" + line + ": service 'payments': routes[0].retries.perTryTimeout: 500ms (expected: no"
            + " perTryTimeout with attempts: 0: the only try's deadline is the route's timeout; write timeout: 500ms"
            + " on the route instead)"
        : "mesh.yaml:" + line + ": service 'payments': routes[0].retries.perTryTimeout: 500ms (expected: no"
            + " perTryTimeout on a grpc service: grpc-java has no per-try timeout (gRFC A44); use the route's"
            + " timeout, which bounds all tries together)");
  }

  @Test
  void aGrpcServiceKeepsEverythingGrpcJavaHonours() throws Exception {
    MeshConfig mesh = MeshConfigParser.parse("""
        services:
          payments:
            protocol: grpc
            loadBalancing: ring_hash
            hashHeader: x-user
            circuitBreaker: { maxRequests: 100 }
            outlierDetection: { interval: 5s, failurePercentage: { threshold: 50 } }
            routes:
              - to: [ { weight: 100 } ]
                timeout: 2s
                retries: { attempts: 4, on: [ cancelled, deadline-exceeded, internal, resource-exhausted, unavailable ],
                           backoff: { base: 10ms, max: 100ms } }
                faults: { abort: { percent: 1, httpStatus: 503 }, delay: { percent: 1, fixed: 10ms } }
        """, "mesh.yaml");

    ServiceSpec payments = mesh.services().get("payments");
    assertThat(payments.circuitBreaker()).contains(new CircuitBreakerSpec(100, 1024, 3));
    assertThat(payments.routes().get(0).retries().orElseThrow().attempts()).isEqualTo(4);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badConfigs")
  void badConfigIsRefusedWithAPreciseMessage(String name, String yaml, String expected) {
    MeshConfigException e = catchThrowableOfType(MeshConfigException.class,
        () -> MeshConfigParser.parse(yaml, "mesh.yaml"));

    assertThat(e).as("no exception for %s", name).isNotNull();
    assertThat(e.violations()).extracting(Violation::toString).containsExactly(expected);
    assertThat(e.getMessage()).isEqualTo("1 error:\n  " + expected);
  }

  @Test
  void everyErrorOfAFileIsReportedInLineOrder() {
    String yaml = """
        trustDomain: example.org
        mtls: { mode: strict, certTtl: 1h }
        services:
          payments:
            endpoints:
              - address: 127.0.0.1:0
            loadBalancing: round_robin
            hashHeader: x-user-id
            routes:
              - to: [ { subset: v9, weight: 100 } ]
                timeout: soon
          Orders: {}
          catalog:
            outlierDetection: { maxEjectionPercent: 140 }
        mtlsMode: strict
        """;

    MeshConfigException e = catchThrowableOfType(MeshConfigException.class,
        () -> MeshConfigParser.parse(yaml, "mesh.yaml"));

    assertThat(e.violations()).extracting(Violation::toString).containsExactly(
        "mesh.yaml:6: service 'payments': endpoints[0].address: 127.0.0.1:0"
            + " (expected: host:port with a port in 1..65535, e.g. 127.0.0.1:9001)",
        "mesh.yaml:8: service 'payments': hashHeader: x-user-id (expected: only with loadBalancing: ring_hash)",
        "mesh.yaml:10: service 'payments': routes[0].to[0].subset: v9"
            + " (expected: a subset defined under subsets; this service defines none)",
        "mesh.yaml:11: service 'payments': routes[0].timeout: soon"
            + " (expected: a duration such as 250ms, 2s, 1m or 1h)",
        "mesh.yaml:12: services: 'Orders' (expected: a service name of at most 63 lower-case letters, digits,"
            + " '.' and '-', starting and ending with a letter or digit)",
        "mesh.yaml:14: service 'catalog': outlierDetection.maxEjectionPercent: 140 (expected: 0..100)",
        "mesh.yaml:15: mtlsMode: unknown field (expected: one of trustDomain, mtls, services)");
    assertThat(e.getMessage()).startsWith("7 errors:\n  mesh.yaml:6: ");
    assertThat(e.violations()).extracting(Violation::line).isSorted();
  }

  @Test
  void aFileNamesItselfInItsViolations() throws Exception {
    Path file = dir.resolve("prod-mesh.yaml");
    Files.writeString(file, "services:\n  payments:\n    protocol: soap\n", StandardCharsets.UTF_8);

    MeshConfigException e = catchThrowableOfType(MeshConfigException.class, () -> MeshConfigParser.parse(file));

    assertThat(e.violations()).containsExactly(new Violation(
        "prod-mesh.yaml", 3, "service 'payments'", "protocol", "soap", "one of http, grpc"));
    assertThat(e.violations().get(0).message())
        .isEqualTo("service 'payments': protocol: soap (expected: one of http, grpc)");
  }

  @Test
  void aFileThatIsNotUtf8IsRefusedAtItsFirstBadByte() throws Exception {
    Path file = dir.resolve("mesh.yaml");
    // Saved as Latin-1 by an editor: 'é' is the single byte 0xe9.
    Files.write(file, "services:\n  caf\u00e9:\n    protocol: http\n".getBytes(StandardCharsets.ISO_8859_1));

    MeshConfigException e = catchThrowableOfType(MeshConfigException.class, () -> MeshConfigParser.parse(file));

    assertThat(e.violations()).extracting(Violation::toString)
        .containsExactly("mesh.yaml:2: byte 0xe9 at offset 15 is not UTF-8 (expected: UTF-8 text)");
  }

  @Test
  void grpcServicesSharingAnAddressMustAgreeOnAuthorization() {
    String yaml = """
        services:
          a:
            protocol: grpc
            endpoints: [ { address: 127.0.0.1:9001 } ]
            authorization: { allow: [ spiffe://cluster.local/service/x ] }
          b:
            protocol: grpc
            endpoints: [ { address: 127.0.0.1:9001 } ]
        """;
    MeshConfigException e = org.assertj.core.api.Assertions.catchThrowableOfType(MeshConfigException.class,
        () -> MeshConfigParser.parse(yaml, "mesh.yaml"));
    assertThat(e.violations()).extracting(Violation::toString).containsExactly(
        "mesh.yaml:6: service 'b': authorization: none (expected: the same authorization as service 'a', which "
            + "also serves gRPC at 127.0.0.1:9001: allow [spiffe://cluster.local/service/x])");
  }

  @Test
  void authorizationRulesParseInOrderWithTheServiceWideListOptional() throws Exception {
    MeshConfig mesh = MeshConfigParser.parse("""
        services:
          catalog:
            authorization:
              rules:
                - match: { pathPrefix: /admin, methods: [ POST, DELETE ] }
                  allow: [ spiffe://example.org/service/ops ]
                - match: { path: /health }
                  allow: []
        """, "mesh.yaml");

    AuthorizationSpec authz = mesh.services().get("catalog").authorization().orElseThrow();
    assertThat(authz.allow()).isEmpty();
    assertThat(authz.rules()).containsExactly(
        new AuthorizationSpec.Rule("/admin", true, List.of("POST", "DELETE"), List.of("spiffe://example.org/service/ops")),
        new AuthorizationSpec.Rule("/health", false, List.of(), List.of()));
  }
}
