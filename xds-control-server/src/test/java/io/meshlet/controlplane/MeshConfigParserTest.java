package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.meshlet.controlplane.RouteMatch.HeaderMatch;
import io.meshlet.controlplane.RouteMatch.PathMatch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class MeshConfigParserTest {

  static final String SAMPLE = """
      trustDomain: example.org
      mtls: { mode: off, certTtl: 1h }
      services:
        catalog:
          protocol: http
          endpoints:
            - { address: 127.0.0.1:9001, labels: { version: v1 } }
            - { address: 127.0.0.1:9002, labels: { version: v2 } }
          subsets: { v1: { version: v1 }, v2: { version: v2 } }
          loadBalancing: round_robin
          circuitBreaker: { maxRequests: 100, maxPendingRequests: 50, maxRetries: 3 }
          outlierDetection: { consecutive5xx: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
          routes:
            - match: { pathPrefix: /api, headers: { x-canary: "true", x-user: { regex: "u[0-9]+" }, x-debug: { present: true } } }
              to: [ { subset: v2, weight: 100 } ]
            - match: { pathPrefix: / }
              to: [ { subset: v1, weight: 90 }, { subset: v2, weight: 10 } ]
              timeout: 2s
              retries: { attempts: 3, perTryTimeout: 500ms, on: [5xx, reset, connect-failure, unavailable],
                         backoff: { base: 25ms, max: 250ms } }
              faults: { delay: { percent: 1, fixed: 100ms }, abort: { percent: 0.1, httpStatus: 503 } }
              rateLimit: { requestsPerSecond: 500, burst: 100 }
          authorization:
            allow: [ spiffe://example.org/service/frontend ]
      """;

  @Test
  void readsTheDesignSample() throws Exception {
    MeshConfig mesh = MeshConfigParser.parse(SAMPLE, "mesh.yaml");
    assertThat(mesh.trustDomain()).isEqualTo("example.org");
    assertThat(mesh.mtls()).isEqualTo(new MtlsSpec(MtlsSpec.Mode.OFF, Duration.ofHours(1)));
    ServiceSpec catalog = mesh.services().get("catalog");
    assertThat(catalog.protocol()).isEqualTo(ServiceSpec.Protocol.HTTP);
    assertThat(catalog.endpoints()).containsExactly(
        new EndpointSpec("127.0.0.1", 9001, Map.of("version", "v1")),
        new EndpointSpec("127.0.0.1", 9002, Map.of("version", "v2")));
    assertThat(catalog.endpointsOf("v2")).extracting(EndpointSpec::port).containsExactly(9002);
    assertThat(catalog.circuitBreaker()).contains(new CircuitBreakerSpec(100, 50, 3));
    assertThat(catalog.outlierDetection()).contains(new OutlierDetectionSpec(5, Duration.ofSeconds(10),
        Duration.ofSeconds(30), 50, Optional.empty()));
    assertThat(catalog.authorization().orElseThrow().allow())
        .containsExactly("spiffe://example.org/service/frontend");

    RouteSpec canary = catalog.routes().get(0);
    assertThat(canary.match().path()).isEqualTo(new PathMatch(PathMatch.Kind.PREFIX, "/api"));
    assertThat(canary.match().headers()).containsExactly(
        new HeaderMatch("x-canary", HeaderMatch.Kind.EXACT, "true"),
        new HeaderMatch("x-user", HeaderMatch.Kind.REGEX, "u[0-9]+"),
        new HeaderMatch("x-debug", HeaderMatch.Kind.PRESENT, ""));
    assertThat(canary.to()).containsExactly(new RouteSpec.WeightedTarget(Optional.of("v2"), 100));

    RouteSpec main = catalog.routes().get(1);
    assertThat(main.timeout()).contains(Duration.ofSeconds(2));
    assertThat(main.retries()).contains(new RetrySpec(3, Optional.of(Duration.ofMillis(500)),
        List.of("5xx", "reset", "connect-failure", "unavailable"), Duration.ofMillis(25), Duration.ofMillis(250)));
    assertThat(main.faults().orElseThrow().delay()).contains(new FaultSpec.Delay(1, Duration.ofMillis(100)));
    assertThat(main.faults().orElseThrow().abort())
        .contains(new FaultSpec.Abort(0.1, Optional.of(503), Optional.empty()));
    assertThat(main.rateLimit()).contains(new RateLimitSpec(500, 100));
  }

  @ParameterizedTest
  @ValueSource(strings = {"off", "'off'", "\"off\"", "false", "OFF"})
  void mtlsOffIsReadHoweverItIsWritten(String spelling) throws Exception {
    MeshConfig mesh = MeshConfigParser.parse("mtls: { mode: " + spelling + " }\nservices: {}\n", "mesh.yaml");
    assertThat(mesh.mtls().mode()).isEqualTo(MtlsSpec.Mode.OFF);
  }

  @Test
  void defaultsWhenFieldsAreLeftOut() throws Exception {
    MeshConfig mesh = MeshConfigParser.parse("""
        services:
          echo:
            endpoints: [ { address: "[::1]:8080" } ]
        """, "mesh.yaml");
    ServiceSpec echo = mesh.services().get("echo");
    assertThat(mesh.trustDomain()).isEqualTo("cluster.local");
    assertThat(echo.protocol()).isEqualTo(ServiceSpec.Protocol.HTTP);
    assertThat(echo.loadBalancing()).isEqualTo(ServiceSpec.LoadBalancing.ROUND_ROBIN);
    assertThat(echo.endpoints().get(0).address()).isEqualTo("[::1]:8080");
    assertThat(echo.routes()).singleElement().satisfies(r -> {
      assertThat(r.match()).isEqualTo(RouteMatch.any());
      assertThat(r.to()).containsExactly(new RouteSpec.WeightedTarget(Optional.empty(), 100));
    });
  }

  /** Each row: a service body (indented under {@code services: svc:}) and the exact message. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      bad port              | endpoints: [ { address: 127.0.0.1:99999 } ]                       | mesh.yaml:3: service 'svc': endpoints[0].address: 127.0.0.1:99999 (expected: host:port with a port in 1..65535, e.g. 127.0.0.1:9001)
      no port               | endpoints: [ { address: localhost } ]                             | mesh.yaml:3: service 'svc': endpoints[0].address: localhost (expected: host:port with a port in 1..65535, e.g. 127.0.0.1:9001)
      duplicate endpoint    | endpoints: [ { address: 127.0.0.1:1 }, { address: 127.0.0.1:1 } ] | mesh.yaml:3: service 'svc': endpoints[1].address: 127.0.0.1:1 (expected: an address not already listed for this service)
      unknown field         | loadbalancing: random                                              | mesh.yaml:3: service 'svc': loadbalancing: unknown field (expected: one of protocol, endpoints, subsets, loadBalancing, hashHeader, circuitBreaker, outlierDetection, routes, authorization)
      bad protocol          | protocol: tcp                                                      | mesh.yaml:3: service 'svc': protocol: tcp (expected: one of http, grpc)
      bad lb                | loadBalancing: fastest                                             | mesh.yaml:3: service 'svc': loadBalancing: fastest (expected: one of round_robin, least_request, ring_hash, random)
      hash without ring     | hashHeader: x-user                                                 | mesh.yaml:3: service 'svc': hashHeader: x-user (expected: only with loadBalancing: ring_hash)
      percent out of range  | outlierDetection: { maxEjectionPercent: 140 }                      | mesh.yaml:3: service 'svc': outlierDetection.maxEjectionPercent: 140 (expected: 0..100)
      not a number          | circuitBreaker: { maxRequests: many }                              | mesh.yaml:3: service 'svc': circuitBreaker.maxRequests: many (expected: an integer in 1..1000000000)
      bad duration          | outlierDetection: { interval: 10 }                                 | mesh.yaml:3: service 'svc': outlierDetection.interval: 10 (expected: a duration such as 250ms, 2s, 1m or 1h)
      empty subset          | subsets: { v1: {} }                                                | mesh.yaml:3: service 'svc': subsets.v1: {} (expected: at least one label, e.g. { version: v1 })
      bad spiffe id         | authorization: { allow: [ frontend ] }                             | mesh.yaml:3: service 'svc': authorization.allow[0]: frontend (expected: a SPIFFE ID such as spiffe://example.org/service/frontend)
      routes not a list     | routes: { to: v1 }                                                 | mesh.yaml:3: service 'svc': routes: a mapping (expected: a list)
      missing to            | routes: [ { timeout: 1s } ]                                        | mesh.yaml:3: service 'svc': routes[0].to: missing (expected: a list of targets such as [ { subset: v1, weight: 100 } ])
      undefined subset      | routes: [ { to: [ { subset: v3 } ] } ]                             | mesh.yaml:3: service 'svc': routes[0].to[0].subset: v3 (expected: a subset defined under subsets; this service defines none)
      weights add to 0      | routes: [ { to: [ { weight: 0 } ] } ]                              | mesh.yaml:3: service 'svc': routes[0].to: weights adding up to 0 (expected: weights adding up to more than 0)
      missing weight        | routes: [ { to: [ { weight: 1 }, { } ] } ]                         | mesh.yaml:3: service 'svc': routes[0].to[1].weight: missing (expected: a weight when a route has several targets)
      two path matchers     | routes: [ { match: { path: /a, pathPrefix: /b }, to: [ {} ] } ]    | mesh.yaml:3: service 'svc': routes[0].match: pathPrefix and path (expected: at most one of pathPrefix, path, pathRegex)
      bad regex             | routes: [ { match: { pathRegex: "(" }, to: [ {} ] } ]              | mesh.yaml:3: service 'svc': routes[0].match.pathRegex: '(' (expected: a valid regular expression (Unclosed group))
      path without slash    | routes: [ { match: { path: items }, to: [ {} ] } ]                 | mesh.yaml:3: service 'svc': routes[0].match.path: 'items' (expected: a path starting with '/')
      bad header name       | routes: [ { match: { headers: { "X Canary": "1" } }, to: [ {} ] } ] | mesh.yaml:3: service 'svc': routes[0].match.headers.X Canary: 'X Canary' (expected: a lower-case header name)
      present false         | routes: [ { match: { headers: { x-a: { present: false } } }, to: [ {} ] } ] | mesh.yaml:3: service 'svc': routes[0].match.headers.x-a.present: false (expected: true)
      timeout zero          | routes: [ { to: [ {} ], timeout: 0ms } ]                           | mesh.yaml:3: service 'svc': routes[0].timeout: 0ms (expected: 1ms..24h)
      unknown retry_on      | routes: [ { to: [ {} ], retries: { on: [ teapot ] } } ]           | mesh.yaml:3: service 'svc': routes[0].retries.on[0]: teapot (expected: one of 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable)
      too many attempts     | routes: [ { to: [ {} ], retries: { attempts: 11 } } ]             | mesh.yaml:3: service 'svc': routes[0].retries.attempts: 11 (expected: 0..10)
      backoff max < base    | routes: [ { to: [ {} ], retries: { backoff: { base: 1s, max: 10ms } } } ] | mesh.yaml:3: service 'svc': routes[0].retries.backoff.max: 10ms (expected: at least backoff.base (1s))
      abort both statuses   | routes: [ { to: [ {} ], faults: { abort: { percent: 1, httpStatus: 503, grpcStatus: 14 } } } ] | mesh.yaml:3: service 'svc': routes[0].faults.abort: httpStatus and grpcStatus (expected: exactly one of httpStatus (200..599) and grpcStatus (1..16))
      abort no status       | routes: [ { to: [ {} ], faults: { abort: { percent: 1 } } } ]     | mesh.yaml:3: service 'svc': routes[0].faults.abort: no status (expected: exactly one of httpStatus (200..599) and grpcStatus (1..16))
      fault percent         | routes: [ { to: [ {} ], faults: { delay: { percent: 101, fixed: 1s } } } ] | mesh.yaml:3: service 'svc': routes[0].faults.delay.percent: 101 (expected: 0..100)
      rate limit no rps     | routes: [ { to: [ {} ], rateLimit: { burst: 5 } } ]               | mesh.yaml:3: service 'svc': routes[0].rateLimit.requestsPerSecond: missing (expected: 1..1000000)
      """)
  void refusesBadServicesWithThePreciseReason(String name, String body, String expected) {
    String yaml = "services:\n  svc:\n    " + body + "\n";
    MeshConfigException e = catchThrowableOfType(MeshConfigException.class,
        () -> MeshConfigParser.parse(yaml, "mesh.yaml"));
    assertThat(e).as("'%s' must be refused", name).isNotNull();
    assertThat(e.violations()).extracting(Violation::toString).containsExactly(expected);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      empty file           | ''                                             | mesh.yaml: empty file (expected: a mapping with trustDomain, mtls and services)
      not a mapping        | '- a'                                          | mesh.yaml:1: a list (expected: a mapping with trustDomain, mtls, services)
      unknown top field    | 'servces: {}\nservices: {}'                   | mesh.yaml:1: servces: unknown field (expected: one of trustDomain, mtls, services)
      bad trust domain     | 'trustDomain: Example_Org\nservices: {}'       | mesh.yaml:1: trustDomain: Example_Org (expected: a lower-case DNS name such as example.org)
      bad mtls mode        | 'mtls: { mode: sometimes }\nservices: {}'      | mesh.yaml:1: mtls.mode: sometimes (expected: one of off, permissive, strict)
      cert ttl too short   | 'mtls: { certTtl: 1s }\nservices: {}'          | mesh.yaml:1: mtls.certTtl: 1s (expected: 1m..720h)
      no services          | 'trustDomain: a.org'                           | mesh.yaml:1: services: missing (expected: a mapping of service names to services)
      bad service name     | 'services: { Catalog_1: {} }'                  | mesh.yaml:1: services: 'Catalog_1' (expected: a service name of lower-case letters, digits, '.' and '-', at most 63 long)
      duplicate key        | 'services: {}\nservices: {}'                   | mesh.yaml:2: services: duplicate key (expected: each key once)
      yaml syntax          | 'services: { a: [ }'                           | mesh.yaml:1: YAML syntax error: expected the node content, but found '}' (expected: well-formed YAML)
      """)
  void refusesBadFilesWithThePreciseReason(String name, String yaml, String expectedPrefix) {
    MeshConfigException e = catchThrowableOfType(MeshConfigException.class,
        () -> MeshConfigParser.parse(yaml.replace("\\n", "\n"), "mesh.yaml"));
    assertThat(e).as("'%s' must be refused", name).isNotNull();
    assertThat(e.violations()).hasSize(1);
    assertThat(e.violations().get(0).toString()).startsWith(expectedPrefix);
  }

  @Test
  void reportsEveryViolationOfAFileSortedByLine() {
    String yaml = """
        trustDomain: Bad_Domain
        services:
          payments:
            endpoints: [ { address: nowhere } ]
            outlierDetection: { maxEjectionPercent: 140 }
            routes:
              - match: { pathPrefix: api }
                to: [ { subset: v3, weight: 10 } ]
                timout: 2s
        """;
    MeshConfigException e = catchThrowableOfType(MeshConfigException.class,
        () -> MeshConfigParser.parse(yaml, "mesh.yaml"));
    assertThat(e.violations()).extracting(Violation::line).containsExactly(1, 4, 5, 7, 8, 9);
    assertThat(e.getMessage()).startsWith("6 errors:\n  mesh.yaml:1: trustDomain: Bad_Domain");
  }

  @Test
  void refusesAFileLargerThanTheLimit(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path big = dir.resolve("mesh.yaml");
    Files.writeString(big, "#".repeat(MeshConfigParser.MAX_BYTES + 1));
    assertThatThrownBy(() -> MeshConfigParser.parse(big))
        .isInstanceOf(MeshConfigException.class)
        .hasMessageContaining("mesh.yaml: " + (MeshConfigParser.MAX_BYTES + 1) + " bytes (expected: at most");
  }

  @Test
  void durationsRoundTrip() {
    for (String d : List.of("250ms", "2s", "1m", "1h", "1500ms")) {
      assertThat(MeshConfigParser.formatDuration(MeshConfigParser.parseDuration(d).orElseThrow())).isEqualTo(d);
    }
    assertThat(MeshConfigParser.parseDuration("2 seconds")).isEmpty();
  }
}
