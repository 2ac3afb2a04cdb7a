package io.meshlet.controlplane.internal.intent;

import java.util.ArrayList;
import java.util.List;

/**
 * The one description of mesh.yaml: every section, its fields in the order errors list them, each
 * field's type, default and meaning. The section readers take the keys they accept from here (an
 * unknown key's error lists a section's {@link Section#names()}), and docs/config.md's field tables
 * are rendered from here ({@link #markdownTable}); {@code MeshSchemaTest} fails when they drift.
 *
 * <p>A new mesh.yaml field: add it to its section here (the table row comes with it), read it in
 * the section's reader, and check it across fields in {@link IntentValidator} if it must agree with
 * another.
 */
final class MeshSchema {

  /**
   * One field.
   *
   * @param name the key as written
   * @param type what its value is, in words
   * @param defaultValue what it is when left out (markdown), or {@code required}
   * @param meaning one line (markdown)
   * @param section the fields of its value, when its value is a mapping (or a list of them)
   *     with fixed keys; {@code null} otherwise
   * @param expand whether docs/config.md shows the section's fields as rows of their own
   *     ({@code retries.attempts}) instead of this field's row
   */
  record Field(String name, String type, String defaultValue, String meaning, Section section, boolean expand) {
    Field(String name, String type, String defaultValue, String meaning) {
      this(name, type, defaultValue, meaning, null, false);
    }
  }

  /**
   * A mapping with fixed keys.
   *
   * @param path where it sits in the file, for documentation
   * @param fields its fields, in the order an unknown-field error lists them
   */
  record Section(String path, List<Field> fields) {
    Section {
      fields = List.copyOf(fields);
    }

    /** The keys this section accepts, in order. */
    String[] names() {
      return fields.stream().map(Field::name).toArray(String[]::new);
    }
  }

  /** {@code outlierDetection.failurePercentage} */
  static final Section FAILURE_PERCENTAGE = new Section("outlierDetection.failurePercentage", List.of(
      new Field("threshold", "integer",
          "required",
          "`0..100`: eject an endpoint whose failure percentage is at least this"),
      new Field("minimumHosts", "integer",
          "`5`",
          "endpoints needed before any is ejected"),
      new Field("requestVolume", "integer",
          "`50`",
          "calls an endpoint needs in an interval to be judged")));

  /** {@code endpoints[]} */
  static final Section ENDPOINT = new Section("endpoints[]", List.of(
      new Field("address", "host:port",
          "required",
          "where the instance listens, e.g. `127.0.0.1:9001`"),
      new Field("labels", "mapping",
          "none",
          "label name -> value, for subsets")));

  /** {@code services.<name>.mtls} */
  static final Section SERVICE_MTLS = new Section("services.<name>.mtls", List.of(
      new Field("mode", "enum",
          "the mesh's",
          "this service's own mTLS mode, overriding the mesh-wide one: `off`, `permissive`, `strict`")));

  /** {@code locality} */
  static final Section LOCALITY = new Section("locality", List.of(
      new Field("preferLocal", "boolean",
          "`false`",
          "whether a caller that knows its zone (`meshlet.zone`, the bootstrap's `node.locality.zone`) calls only the instances of its zone (label `topology.kubernetes.io/zone`) while enough of them are healthy; needs instances with a zone"),
      new Field("failoverThreshold", "percentage",
          "`70%`",
          "`1..100`: below this healthy share of the caller's zone's instances, calls spread over every zone ([kubernetes.md](kubernetes.md#zone-aware-routing))")));

  /** {@code circuitBreaker} */
  static final Section CIRCUIT_BREAKER = new Section("circuitBreaker", List.of(
      new Field("maxRequests", "integer",
          "`1024`",
          "calls in flight at once"),
      new Field("maxPendingRequests", "integer",
          "`1024`",
          "calls waiting for a connection; not for `grpc`"),
      new Field("maxRetries", "integer",
          "`3`",
          "retries in flight at once; not for `grpc`")));

  /** {@code outlierDetection} */
  static final Section OUTLIER_DETECTION = new Section("outlierDetection", List.of(
      new Field("consecutive5xx", "integer",
          "`5`",
          "failures in a row that eject an endpoint; not for `grpc`"),
      new Field("interval", "duration",
          "`10s`",
          "how often endpoints are judged"),
      new Field("baseEjectionTime", "duration",
          "`30s`",
          "how long a first ejection lasts"),
      new Field("maxEjectionPercent", "integer",
          "`10`",
          "`0..100`: at most this share of endpoints ejected"),
      new Field("failurePercentage", "mapping",
          "none",
          "ejection by failure percentage; required for `grpc`",
          FAILURE_PERCENTAGE, false)));

  /** {@code routes[].match.headers.<name>} */
  static final Section HEADER_MATCH = new Section("routes[].match.headers.<name>", List.of(
      new Field("exact", "string",
          "none",
          "the whole value"),
      new Field("regex", "RE2 regex",
          "none",
          "an RE2 regular expression over the whole value"),
      new Field("present", "`true`",
          "none",
          "the header is there, whatever its value")));

  /** {@code routes[].match} */
  static final Section MATCH = new Section("routes[].match", List.of(
      new Field("pathPrefix", "path",
          "`/`",
          "path prefix; at most one of `pathPrefix`, `path`, `pathRegex`; for gRPC the path is `/package.Service/Method`"),
      new Field("path", "path",
          "none",
          "the exact path; at most one of `pathPrefix`, `path`, `pathRegex`"),
      new Field("pathRegex", "RE2 regex",
          "none",
          "an RE2 regular expression over the whole path; at most one of `pathPrefix`, `path`, `pathRegex`"),
      new Field("headers", "mapping",
          "none",
          "name -> exact value, or `{ exact: v }`, `{ regex: re }`, `{ present: true }`; all must hold. Regular expressions are RE2 (as Envoy and grpc-java read them) and must match the whole value")));

  /** {@code routes[].to[]} */
  static final Section TARGET = new Section("routes[].to[]", List.of(
      new Field("subset", "string",
          "every endpoint",
          "a subset named under the service's `subsets`"),
      new Field("weight", "integer",
          "`100`",
          "relative weight, `0..1000000`; required when a route has several targets")));

  /** {@code routes[].retries.backoff} */
  static final Section BACKOFF = new Section("routes[].retries.backoff", List.of(
      new Field("base", "duration",
          "`25ms`",
          "first backoff, `1ms`..`1m`"),
      new Field("max", "duration",
          "10 x `base`",
          "longest backoff, at least `base`")));

  /** {@code routes[].retries} */
  static final Section RETRIES = new Section("routes[].retries", List.of(
      new Field("attempts", "integer",
          "1",
          "retries after the first try (Envoy's `num_retries`), 0..10; 0..4 for `grpc`"),
      new Field("perTryTimeout", "duration",
          "none",
          "deadline of each try; not for `grpc`, and not with `attempts: 0` (write the route's `timeout`)"),
      new Field("on", "list",
          "`[5xx, reset, connect-failure]` for http, `[unavailable]` for grpc",
          "Envoy `retry_on` conditions: `5xx`, `gateway-error`, `reset`, `connect-failure`, `retriable-4xx`, `refused-stream`, `retriable-status-codes`, `cancelled`, `deadline-exceeded`, `internal`, `resource-exhausted`, `unavailable`; a `grpc` service takes only the last five (gRPC status codes)"),
      new Field("backoff", "mapping",
          "`base: 25ms`, `max: 10 x base`",
          "jittered exponential backoff; `max` >= `base`",
          BACKOFF, false)));

  /** {@code routes[].faults.delay} */
  static final Section DELAY = new Section("routes[].faults.delay", List.of(
      new Field("percent", "percent",
          "required",
          "share of calls delayed, `0..100`"),
      new Field("fixed", "duration",
          "required",
          "how long, `1ms`..`1h`")));

  /** {@code routes[].faults.abort} */
  static final Section ABORT = new Section("routes[].faults.abort", List.of(
      new Field("percent", "percent",
          "required",
          "share of calls aborted, `0..100`"),
      new Field("httpStatus", "integer",
          "none",
          "`200..599`; exactly one of `httpStatus`, `grpcStatus`"),
      new Field("grpcStatus", "integer",
          "none",
          "`1..16`; exactly one of `httpStatus`, `grpcStatus`")));

  /** {@code routes[].faults} */
  static final Section FAULTS = new Section("routes[].faults", List.of(
      new Field("delay", "mapping",
          "none",
          "`{ percent: 0..100, fixed: 100ms }`",
          DELAY, false),
      new Field("abort", "mapping",
          "none",
          "`{ percent: 0..100, httpStatus: 200..599 }` or `{ percent, grpcStatus: 1..16 }`",
          ABORT, false)));

  /** {@code routes[].rateLimit} */
  static final Section RATE_LIMIT = new Section("routes[].rateLimit", List.of(
      new Field("requestsPerSecond", "integer",
          "required",
          "tokens added each second, `1..1000000`"),
      new Field("burst", "integer",
          "`requestsPerSecond`",
          "tokens the bucket holds at most, `1..1000000`")));

  /** {@code routes[]} */
  static final Section ROUTE = new Section("routes[]", List.of(
      new Field("match", "mapping",
          "everything",
          "which requests the route takes",
          MATCH, true),
      new Field("to", "list",
          "required",
          "`[ { subset: v1, weight: 90 }, ... ]`; no `subset` means every endpoint; weights are relative and required when there are several targets; their sum must be > 0",
          TARGET, false),
      new Field("timeout", "duration",
          "none",
          "deadline of the whole call, retries included"),
      new Field("retries", "mapping",
          "none",
          "how calls are retried",
          RETRIES, true),
      new Field("faults", "mapping",
          "none",
          "faults injected by the caller",
          FAULTS, true),
      new Field("rateLimit", "mapping",
          "none",
          "`{ requestsPerSecond, burst (= requestsPerSecond) }`, a token bucket in each caller, as Envoy's local rate limit keeps it: it starts full with `burst` tokens and gains `requestsPerSecond` each second, never holding more than `burst`; a call takes a token or is answered 429. Not for `grpc`",
          RATE_LIMIT, false)));

  /** {@code authorization.rules[].match} */
  static final Section AUTHORIZATION_MATCH = new Section("authorization.rules[].match", List.of(
      new Field("path", "path",
          "none",
          "the exact path; exactly one of `path`, `pathPrefix`"),
      new Field("pathPrefix", "path",
          "none",
          "a path prefix; exactly one of `path`, `pathPrefix`"),
      new Field("methods", "list",
          "any",
          "HTTP methods in capitals; not for `grpc`")));

  /** {@code authorization.rules[]} */
  static final Section AUTHORIZATION_RULE = new Section("authorization.rules[]", List.of(
      new Field("match", "mapping",
          "required",
          "which requests the rule decides",
          AUTHORIZATION_MATCH, false),
      new Field("allow", "list",
          "required",
          "SPIFFE IDs allowed; `[]` for nobody")));

  /** {@code authorization} */
  static final Section AUTHORIZATION = new Section("authorization", List.of(
      new Field("allow", "list",
          "anyone",
          "SPIFFE IDs allowed to make the requests no rule matches; without it (and with `rules`) those requests are open (see [security.md](security.md))"),
      new Field("rules", "list",
          "none",
          "tried in order, the first whose `match` fits decides: `{ match: { path: /x \\| pathPrefix: /x, methods: [POST, ...] }, allow: [ SPIFFE IDs ] }`; `allow: []` for nobody; a gRPC method is the path `/pkg.Service/Method` (`methods` is refused for gRPC services)",
          AUTHORIZATION_RULE, false)));

  /** {@code services.<name>} */
  static final Section SERVICE = new Section("services.<name>", List.of(
      new Field("protocol", "enum",
          "`http`",
          "`http` or `grpc`: who calls the service, and so what each field may say. An `http` service is called through Meshlet's policy engine (OkHttp), a `grpc` one through grpc-java's own xDS client; a field that client cannot honour is refused for that protocol, with the reason and what to write instead ([below](#one-intent-one-meaning-honoured-or-refused-per-protocol)). Also chooses the default retry conditions"),
      new Field("endpoints", "list",
          "none",
          "`{ address: host:port, labels: {k: v} }`; addresses unique per service",
          ENDPOINT, false),
      new Field("subsets", "mapping",
          "none",
          "name -> label selector; an endpoint is in a subset if it has all its labels"),
      new Field("loadBalancing", "enum",
          "`round_robin`",
          "`round_robin`, `least_request`, `ring_hash`, `random` (not for `grpc`)"),
      new Field("hashHeader", "header name",
          "none",
          "with `ring_hash`: the request header hashed to pick an endpoint (all its values joined by `,`); the same key picks the same instance over HTTP and gRPC"),
      new Field("circuitBreaker", "mapping",
          "none",
          "`maxRequests` (1024), `maxPendingRequests` (1024), `maxRetries` (3); a `grpc` service takes only `maxRequests`",
          CIRCUIT_BREAKER, false),
      new Field("outlierDetection", "mapping",
          "none",
          "`consecutive5xx` (5; not for `grpc`), `interval` (10s), `baseEjectionTime` (30s), `maxEjectionPercent` (10), `failurePercentage: { threshold, minimumHosts (5), requestVolume (50) }` (optional for `http`, required for `grpc`)",
          OUTLIER_DETECTION, false),
      new Field("locality", "mapping",
          "off",
          "zone-aware routing",
          LOCALITY, true),
      new Field("routes", "list",
          "one route: everything to every endpoint",
          "tried in order, first match wins",
          ROUTE, false),
      new Field("authorization", "mapping",
          "none",
          "who may call the service",
          AUTHORIZATION, true),
      new Field("mtls", "mapping",
          "the mesh's",
          "this service's own mTLS settings",
          SERVICE_MTLS, true)));

  /** {@code mtls} */
  static final Section MESH_MTLS = new Section("mtls", List.of(
      new Field("mode", "enum",
          "`off`",
          "`off`, `permissive`, `strict`: with `permissive` or `strict` clients call every service over mTLS and check its SPIFFE ID; `strict` servers take only mTLS callers, `permissive` servers take mTLS and plaintext callers on one port (see [security.md](security.md))"),
      new Field("certTtl", "duration",
          "`1h`",
          "workload certificate lifetime, `1m`..`720h`")));

  /** {@code (top level)} */
  static final Section MESH = new Section("", List.of(
      new Field("trustDomain", "DNS name",
          "`cluster.local`",
          "SPIFFE trust domain, lower-case DNS name"),
      new Field("mtls", "mapping",
          "mode `off`",
          "mesh-wide mTLS settings",
          MESH_MTLS, true),
      new Field("services", "mapping",
          "required",
          "service name -> service; names are lower-case letters, digits, `.` and `-`",
          SERVICE, false)));

  private MeshSchema() {}

  /**
   * The markdown table docs/config.md shows for a section: one row per field, or per field of an
   * expanded field's section, named by its path from {@code section}.
   */
  static String markdownTable(Section section) {
    StringBuilder sb = new StringBuilder("| field | type | default | meaning |\n|---|---|---|---|\n");
    for (String[] row : rows(section, "")) {
      sb.append("| `").append(row[0]).append("` | ").append(row[1]).append(" | ").append(row[2])
          .append(" | ").append(row[3]).append(" |\n");
    }
    return sb.toString();
  }

  private static List<String[]> rows(Section section, String prefix) {
    List<String[]> out = new ArrayList<>();
    for (Field f : section.fields()) {
      if (f.expand()) {
        out.addAll(rows(f.section(), prefix + f.name() + "."));
      } else {
        out.add(new String[] {prefix + f.name(), f.type(), f.defaultValue(), f.meaning()});
      }
    }
    return out;
  }
}
