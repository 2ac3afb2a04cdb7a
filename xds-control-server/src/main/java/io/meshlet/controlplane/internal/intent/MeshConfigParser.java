package io.meshlet.controlplane.internal.intent;

import io.meshlet.controlplane.internal.Durations;
import io.meshlet.controlplane.intent.AuthorizationSpec;
import io.meshlet.controlplane.intent.CircuitBreakerSpec;
import io.meshlet.controlplane.intent.EndpointSpec;
import io.meshlet.controlplane.intent.FaultSpec;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.intent.MtlsSpec;
import io.meshlet.controlplane.intent.OutlierDetectionSpec;
import io.meshlet.controlplane.intent.RateLimitSpec;
import io.meshlet.controlplane.intent.RetrySpec;
import io.meshlet.controlplane.intent.MatchSpec;
import io.meshlet.controlplane.intent.RouteSpec;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.controlplane.intent.Violation;
import io.meshlet.controlplane.intent.FaultSpec.Abort;
import io.meshlet.controlplane.intent.FaultSpec.Delay;
import io.meshlet.controlplane.intent.OutlierDetectionSpec.FailurePercentage;
import io.meshlet.controlplane.intent.MatchSpec.HeaderMatch;
import io.meshlet.controlplane.intent.MatchSpec.PathMatch;
import io.meshlet.controlplane.intent.RouteSpec.WeightedTarget;
import io.meshlet.controlplane.intent.ServiceSpec.LoadBalancing;
import io.meshlet.controlplane.intent.ServiceSpec.Protocol;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.reader.ReaderException;

/**
 * Reads and validates a mesh config file ({@code mesh.yaml}).
 *
 * <p>The whole file is checked before anything is returned, and every violation is reported
 * with its line, field, value and what was expected:
 *
 * <pre>{@code
 * try {
 *   MeshConfig mesh = MeshConfigParser.parse(Path.of("mesh.yaml"));
 * } catch (MeshConfigException e) {
 *   e.violations().forEach(v -> System.err.println(v));
 *   // mesh.yaml:27: service 'payments': outlierDetection.maxEjectionPercent: 140 (expected: 0..100)
 * }
 * }</pre>
 *
 * <p>Thread-safe: the methods are static and keep no state.
 */
public final class MeshConfigParser {

  /** Larger files are refused before they are parsed. */
  public static final int MAX_BYTES = 4 * 1024 * 1024;

  private static final Pattern SERVICE_NAME = Pattern.compile("[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?");
  private static final Pattern TRUST_DOMAIN = Pattern.compile("[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?");
  private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._/-]{0,252}[A-Za-z0-9])?");
  private static final Pattern HEADER_NAME = Pattern.compile("[a-z0-9!#$%&'*+.^_`|~-]+");
  private static final Pattern SPIFFE_ID = Pattern.compile("spiffe://[a-z0-9.-]+(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+");

  /** The {@code retry_on} conditions Envoy defines that Meshlet passes through. */
  static final List<String> RETRY_CONDITIONS =
      List.of(
          "5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx", "refused-stream",
          "retriable-status-codes", "cancelled", "deadline-exceeded", "internal",
          "resource-exhausted", "unavailable");

  /** The {@code retry_on} conditions grpc-java retries on: gRPC status codes (XdsRouteConfigureResource). */
  static final List<String> GRPC_RETRY_CONDITIONS =
      List.of("cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable");

  /** grpc-java makes at most 5 attempts in all (ManagedChannelImplBuilder.maxRetryAttempts). */
  static final int GRPC_MAX_RETRIES = 4;

  private MeshConfigParser() {}

  /** Reads and validates a mesh config file; violations are prefixed with the file's name. */
  public static MeshConfig parse(Path file) throws IOException, MeshConfigException {
    String name = file.getFileName() == null ? file.toString() : file.getFileName().toString();
    long size = Files.size(file);
    if (size > MAX_BYTES) {
      throw new MeshConfigException(
          List.of(new Violation(name, 0, "", "", size + " bytes", "at most " + MAX_BYTES + " bytes")));
    }
    return parse(Files.readAllBytes(file), name);
  }

  /**
   * Validates mesh config bytes, which must be UTF-8: a file, or a body sent to the admin API.
   *
   * @param source the name violations are prefixed with, e.g. {@code mesh.yaml}
   */
  public static MeshConfig parse(byte[] content, String source) throws MeshConfigException {
    if (content.length > MAX_BYTES) {
      throw new MeshConfigException(List.of(new Violation(source, 0, "", "", content.length + " bytes",
          "at most " + MAX_BYTES + " bytes")));
    }
    Optional<Violation> encoding = utf8Problem(content, source);
    if (encoding.isPresent()) {
      throw new MeshConfigException(List.of(encoding.get()));
    }
    return parse(new String(content, StandardCharsets.UTF_8), source);
  }

  /** The first byte that is not UTF-8, with its line, or empty when the content is UTF-8 throughout. */
  private static Optional<Violation> utf8Problem(byte[] content, String source) {
    ByteBuffer in = ByteBuffer.wrap(content);
    CharBuffer out = CharBuffer.allocate(1024);
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    while (true) {
      CoderResult r = decoder.decode(in, out, true);
      if (r.isError()) {
        int at = in.position();
        int line = 1;
        for (int i = 0; i < at; i++) {
          line += content[i] == '\n' ? 1 : 0;
        }
        return Optional.of(new Violation(source, line, "", "",
            String.format(Locale.ROOT, "byte 0x%02x at offset %d is not UTF-8", content[at] & 0xff, at),
            "UTF-8 text"));
      }
      if (r.isUnderflow()) {
        return Optional.empty();
      }
      out.clear();
    }
  }

  /**
   * Validates mesh config text.
   *
   * @param yaml the YAML text
   * @param source the name violations are prefixed with, e.g. {@code mesh.yaml}
   */
  public static MeshConfig parse(String yaml, String source) throws MeshConfigException {
    if (yaml.length() > MAX_BYTES) {
      throw new MeshConfigException(
          List.of(new Violation(source, 0, "", "", yaml.length() + " characters",
              "at most " + MAX_BYTES + " bytes")));
    }
    Node root;
    try {
      LoaderOptions options = new LoaderOptions();
      options.setMaxAliasesForCollections(50);
      options.setNestingDepthLimit(50);
      options.setCodePointLimit(MAX_BYTES);
      options.setAllowRecursiveKeys(false);
      root = new Yaml(new SafeConstructor(options)).compose(new StringReader(yaml));
    } catch (MarkedYAMLException e) {
      Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
      String problem = e.getProblem() != null ? e.getProblem().strip() : e.getMessage().strip();
      Mark context = e.getContextMark();
      if (e.getContext() != null && context != null && mark != null && context.getLine() != mark.getLine()) {
        // e.g. an unclosed '[': the problem is at the end of the file, the cause where '[' opened.
        problem += " " + e.getContext().strip() + " started on line " + (context.getLine() + 1);
      }
      throw new MeshConfigException(
          List.of(new Violation(source, mark == null ? 0 : mark.getLine() + 1, "", "",
              "YAML syntax error: " + problem, "well-formed YAML")));
    } catch (ReaderException e) {
      // A character YAML does not allow anywhere, such as NUL or another control character.
      int end = yaml.offsetByCodePoints(0, Math.min(e.getPosition(), yaml.codePointCount(0, yaml.length())));
      int line = (int) yaml.substring(0, end).chars().filter(c -> c == '\n').count() + 1;
      throw new MeshConfigException(
          List.of(new Violation(source, line, "", "", String.format("character U+%04X", e.getCodePoint()),
              "printable text: no control characters other than tab and line breaks")));
    } catch (YAMLException e) {
      throw new MeshConfigException(
          List.of(new Violation(source, 0, "", "", "YAML error: " + e.getMessage(), "well-formed YAML")));
    }
    Reader reader = new Reader(source);
    MeshConfig config = reader.mesh(root);
    if (!reader.violations.isEmpty()) {
      List<Violation> sorted = new ArrayList<>(reader.violations);
      sorted.sort(Comparator.comparingInt(Violation::line));
      throw new MeshConfigException(sorted);
    }
    return config;
  }

  /** One pass over the node tree, collecting violations instead of stopping at the first. */
  private static final class Reader {
    private final String source;
    final List<Violation> violations = new ArrayList<>();

    Reader(String source) {
      this.source = source;
    }

    /** Where a field sits: the subject it belongs to and its path within that subject. */
    private record Ctx(String subject, String path) {
      Ctx field(String name) {
        return new Ctx(subject, path.isEmpty() ? name : path + "." + name);
      }

      Ctx index(int i) {
        return new Ctx(subject, path + "[" + i + "]");
      }
    }

    void fail(Node node, Ctx ctx, String value, String expected) {
      int line = node == null ? 0 : node.getStartMark().getLine() + 1;
      violations.add(new Violation(source, line, ctx.subject(), ctx.path(), value, expected));
    }

    MeshConfig mesh(Node root) {
      Ctx top = new Ctx("", "");
      if (root == null) {
        fail(null, top, "empty file", "a mapping with trustDomain, mtls and services");
        return MeshConfig.empty();
      }
      Map<String, Node> fields = mapping(root, top, "trustDomain", "mtls", "services");
      if (fields == null) {
        return MeshConfig.empty();
      }
      String trustDomain = MeshConfig.DEFAULT_TRUST_DOMAIN;
      if (fields.containsKey("trustDomain")) {
        trustDomain = string(fields.get("trustDomain"), top.field("trustDomain"), TRUST_DOMAIN,
            "a lower-case DNS name such as example.org", trustDomain);
      }
      MtlsSpec mtls = fields.containsKey("mtls")
          ? mtls(fields.get("mtls"), top.field("mtls"))
          : MtlsSpec.defaults();
      Map<String, ServiceSpec> services = new LinkedHashMap<>();
      Node servicesNode = fields.get("services");
      if (servicesNode == null) {
        fail(root, top.field("services"), "missing", "a mapping of service names to services");
      } else {
        Map<String, Node> byName = mapping(servicesNode, top.field("services"));
        if (byName != null) {
          Map<String, Node> keys = keyNodes(servicesNode);
          byName.forEach((name, node) -> {
            if (!SERVICE_NAME.matcher(name).matches()) {
              fail(keys.get(name), new Ctx("", "services"), "'" + name + "'",
                  "a service name of at most 63 lower-case letters, digits, '.' and '-',"
                  + " starting and ending with a letter or digit");
            } else {
              services.put(name, service(name, node));
            }
          });
        }
      }
      checkSharedAddresses(services, servicesNode);
      return new MeshConfig(trustDomain, mtls, services);
    }

    /**
     * gRPC services whose instances share an address are served by one server with one inbound
     * policy, so their authorization must agree.
     */
    void checkSharedAddresses(Map<String, ServiceSpec> services, Node servicesNode) {
      Map<String, ServiceSpec> firstAt = new LinkedHashMap<>();
      Map<String, Node> keys = keyNodes(servicesNode);
      for (ServiceSpec s : services.values()) {
        if (s.protocol() != Protocol.GRPC) {
          continue;
        }
        for (EndpointSpec e : s.endpoints()) {
          ServiceSpec other = firstAt.putIfAbsent(e.address(), s);
          if (other != null && other != s && !other.authorization().equals(s.authorization())) {
            fail(keys.get(s.name()), new Ctx("service '" + s.name() + "'", "authorization"),
                s.authorization().map(AuthorizationSpec::toString).orElse("none"),
                "the same authorization as service '" + other.name() + "', which also serves gRPC at "
                    + e.address() + ": " + other.authorization().map(AuthorizationSpec::toString).orElse("none"));
          }
        }
      }
    }

    MtlsSpec mtls(Node node, Ctx ctx) {
      Map<String, Node> f = mapping(node, ctx, "mode", "certTtl");
      if (f == null) {
        return MtlsSpec.defaults();
      }
      MtlsSpec.Mode mode = f.containsKey("mode") ? mtlsMode(f.get("mode"), ctx.field("mode")) : MtlsSpec.Mode.OFF;
      Duration ttl = f.containsKey("certTtl")
          ? duration(f.get("certTtl"), ctx.field("certTtl"), Duration.ofMinutes(1), Duration.ofDays(30),
              Duration.ofHours(1))
          : Duration.ofHours(1);
      return new MtlsSpec(mode, ttl);
    }

    MtlsSpec.Mode mtlsMode(Node node, Ctx ctx) {
      String raw = scalar(node, ctx);
      if (raw == null) {
        return MtlsSpec.Mode.OFF;
      }
      // YAML 1.1 reads an unquoted 'off' as false; both spellings mean the same here.
      String v = raw.toLowerCase(Locale.ROOT);
      if (v.equals("off") || v.equals("false")) {
        return MtlsSpec.Mode.OFF;
      } else if (v.equals("permissive")) {
        return MtlsSpec.Mode.PERMISSIVE;
      } else if (v.equals("strict")) {
        return MtlsSpec.Mode.STRICT;
      }
      fail(node, ctx, raw, "one of off, permissive, strict");
      return MtlsSpec.Mode.OFF;
    }

    ServiceSpec service(String name, Node node) {
      Ctx ctx = new Ctx("service '" + name + "'", "");
      Map<String, Node> f = mapping(node, ctx, "protocol", "endpoints", "subsets", "loadBalancing",
          "hashHeader", "circuitBreaker", "outlierDetection", "routes", "authorization", "mtls");
      if (f == null) {
        f = Map.of();
      }
      Protocol protocol = f.containsKey("protocol")
          ? enumValue(f.get("protocol"), ctx.field("protocol"), Protocol.class, Protocol.HTTP)
          : Protocol.HTTP;
      List<EndpointSpec> endpoints = f.containsKey("endpoints")
          ? endpoints(f.get("endpoints"), ctx.field("endpoints"))
          : List.of();
      Map<String, Map<String, String>> subsets = f.containsKey("subsets")
          ? subsets(f.get("subsets"), ctx.field("subsets"))
          : Map.of();
      LoadBalancing lb = f.containsKey("loadBalancing")
          ? enumValue(f.get("loadBalancing"), ctx.field("loadBalancing"), LoadBalancing.class,
              LoadBalancing.ROUND_ROBIN)
          : LoadBalancing.ROUND_ROBIN;
      if (protocol == Protocol.GRPC && lb == LoadBalancing.RANDOM) {
        fail(f.get("loadBalancing"), ctx.field("loadBalancing"), "random",
            onGrpc("round_robin, least_request or ring_hash", "grpc-java has no random policy and would"
                + " balance round robin"));
      }
      Optional<String> hashHeader = Optional.empty();
      if (f.containsKey("hashHeader")) {
        String h = string(f.get("hashHeader"), ctx.field("hashHeader"), HEADER_NAME,
            "a lower-case header name", null);
        if (h != null && lb != LoadBalancing.RING_HASH) {
          fail(f.get("hashHeader"), ctx.field("hashHeader"), h, "only with loadBalancing: ring_hash");
        }
        hashHeader = Optional.ofNullable(h);
      }
      Optional<CircuitBreakerSpec> breaker = f.containsKey("circuitBreaker")
          ? Optional.of(circuitBreaker(f.get("circuitBreaker"), ctx.field("circuitBreaker"), protocol))
          : Optional.empty();
      Optional<OutlierDetectionSpec> outlier = f.containsKey("outlierDetection")
          ? Optional.of(outlierDetection(f.get("outlierDetection"), ctx.field("outlierDetection"), protocol))
          : Optional.empty();
      List<RouteSpec> routes;
      if (f.containsKey("routes")) {
        routes = routes(f.get("routes"), ctx.field("routes"), subsets, protocol);
      } else {
        routes = List.of(new RouteSpec(MatchSpec.any(),
            List.of(new WeightedTarget(Optional.empty(), 100)),
            Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty()));
      }
      Optional<AuthorizationSpec> authz = f.containsKey("authorization")
          ? Optional.of(authorization(f.get("authorization"), ctx.field("authorization"), protocol))
          : Optional.empty();
      Optional<MtlsSpec.Mode> mtlsMode = Optional.empty();
      if (f.containsKey("mtls")) {
        Map<String, Node> m = mapping(f.get("mtls"), ctx.field("mtls"), "mode");
        if (m != null && m.containsKey("mode")) {
          mtlsMode = Optional.of(mtlsMode(m.get("mode"), ctx.field("mtls").field("mode")));
        }
      }
      return new ServiceSpec(name, protocol, endpoints, subsets, lb, hashHeader, breaker, outlier,
          routes, authz, mtlsMode);
    }

    List<EndpointSpec> endpoints(Node node, Ctx ctx) {
      List<EndpointSpec> out = new ArrayList<>();
      Map<String, Integer> seen = new HashMap<>();
      List<Node> items = sequence(node, ctx);
      for (int i = 0; i < items.size(); i++) {
        Ctx at = ctx.index(i);
        Node item = items.get(i);
        Map<String, Node> f = mapping(item, at, "address", "labels");
        if (f == null) {
          continue;
        }
        Node addressNode = f.get("address");
        if (addressNode == null) {
          fail(item, at.field("address"), "missing", "host:port, e.g. 127.0.0.1:9001");
          continue;
        }
        String address = scalar(addressNode, at.field("address"));
        Map<String, String> labels = f.containsKey("labels")
            ? labels(f.get("labels"), at.field("labels"))
            : Map.of();
        if (address == null) {
          continue;
        }
        EndpointSpec endpoint = address(address, addressNode, at.field("address"), labels);
        if (endpoint == null) {
          continue;
        }
        Integer first = seen.putIfAbsent(endpoint.address(), i);
        if (first != null) {
          fail(addressNode, at.field("address"), address,
              "an address not already listed for this service: " + ctx.index(first).path() + " has it");
        } else {
          out.add(endpoint);
        }
      }
      return out;
    }

    EndpointSpec address(String address, Node node, Ctx ctx, Map<String, String> labels) {
      String host;
      String portText;
      if (address.startsWith("[")) {
        int close = address.indexOf("]:");
        host = close > 0 ? address.substring(1, close) : "";
        portText = close > 0 ? address.substring(close + 2) : "";
      } else {
        int colon = address.lastIndexOf(':');
        host = colon > 0 && address.indexOf(':') == colon ? address.substring(0, colon) : "";
        portText = colon > 0 ? address.substring(colon + 1) : "";
      }
      int port = -1;
      try {
        port = Integer.parseInt(portText);
      } catch (NumberFormatException e) {
        // reported below
      }
      if (host.isEmpty() || host.chars().anyMatch(Character::isWhitespace) || port < 1 || port > 65535) {
        fail(node, ctx, address, "host:port with a port in 1..65535, e.g. 127.0.0.1:9001");
        return null;
      }
      return new EndpointSpec(host, port, labels);
    }

    Map<String, Map<String, String>> subsets(Node node, Ctx ctx) {
      Map<String, Map<String, String>> out = new LinkedHashMap<>();
      Map<String, Node> byName = mapping(node, ctx);
      if (byName == null) {
        return out;
      }
      byName.forEach((name, selectorNode) -> {
        Ctx at = ctx.field(name);
        if (!LABEL.matcher(name).matches()) {
          fail(selectorNode, at, "'" + name + "'", "a subset name of letters, digits, '.', '_', '/' and '-'");
          return;
        }
        Map<String, String> selector = labels(selectorNode, at);
        if (selector.isEmpty()) {
          fail(selectorNode, at, "{}", "at least one label, e.g. { version: v1 }");
        }
        out.put(name, selector);
      });
      return out;
    }

    Map<String, String> labels(Node node, Ctx ctx) {
      Map<String, String> out = new LinkedHashMap<>();
      Map<String, Node> f = mapping(node, ctx);
      if (f == null) {
        return out;
      }
      f.forEach((k, v) -> {
        String value = scalar(v, ctx.field(k));
        if (value == null) {
          return;
        }
        if (!LABEL.matcher(k).matches()) {
          fail(v, ctx.field(k), "'" + k + "'", "a label name of letters, digits, '.', '_', '/' and '-'");
        } else if (!value.isEmpty() && !LABEL.matcher(value).matches()) {
          fail(v, ctx.field(k), value, "a label value of letters, digits, '.', '_', '/' and '-'");
        } else {
          out.put(k, value);
        }
      });
      return out;
    }

    CircuitBreakerSpec circuitBreaker(Node node, Ctx ctx, Protocol protocol) {
      CircuitBreakerSpec d = CircuitBreakerSpec.defaults();
      Map<String, Node> f = mapping(node, ctx, "maxRequests", "maxPendingRequests", "maxRetries");
      if (f == null) {
        return d;
      }
      if (protocol == Protocol.GRPC) {
        // grpc-java reads only max_requests of the DEFAULT thresholds (XdsClusterResource) and
        // fails a call beyond it at once (ClusterImplLoadBalancer): nothing waits, no retry budget.
        if (f.containsKey("maxPendingRequests")) {
          fail(f.get("maxPendingRequests"), ctx.field("maxPendingRequests"), flow(f.get("maxPendingRequests")),
              onGrpc("no maxPendingRequests", "grpc-java honours only maxRequests and fails a call beyond it"
                  + " at once, queueing none; use maxRequests"));
        }
        if (f.containsKey("maxRetries")) {
          fail(f.get("maxRetries"), ctx.field("maxRetries"), flow(f.get("maxRetries")),
              onGrpc("no maxRetries", "grpc-java honours only maxRequests and has no budget of concurrent"
                  + " retries; bound retries with routes[].retries.attempts"));
        }
      }
      return new CircuitBreakerSpec(
          intField(f, "maxRequests", ctx, 1, 1_000_000_000, d.maxRequests()),
          intField(f, "maxPendingRequests", ctx, 1, 1_000_000_000, d.maxPendingRequests()),
          intField(f, "maxRetries", ctx, 0, 1_000_000_000, d.maxRetries()));
    }

    OutlierDetectionSpec outlierDetection(Node node, Ctx ctx, Protocol protocol) {
      Map<String, Node> f = mapping(node, ctx, "consecutive5xx", "interval", "baseEjectionTime",
          "maxEjectionPercent", "failurePercentage");
      if (f == null) {
        f = Map.of();
      }
      // grpc-java implements success-rate and failure-percentage ejection only (gRFC A50,
      // EnvoyServerProtoData.OutlierDetection): consecutive_5xx is not read.
      boolean grpc = protocol == Protocol.GRPC;
      if (grpc && f.containsKey("consecutive5xx")) {
        fail(f.get("consecutive5xx"), ctx.field("consecutive5xx"), flow(f.get("consecutive5xx")),
            onGrpc("no consecutive5xx", "grpc-java implements only success-rate and failure-percentage ejection;"
                + " use failurePercentage: { threshold, minimumHosts, requestVolume }"));
      } else if (grpc && !f.containsKey("failurePercentage") && node instanceof MappingNode) {
        fail(node, ctx, flow(node), onGrpc("failurePercentage", "grpc-java ejects by failure percentage only, so"
            + " without it nothing is ejected; add failurePercentage: { threshold, minimumHosts, requestVolume }"));
      }
      Optional<FailurePercentage> fp = Optional.empty();
      if (f.containsKey("failurePercentage")) {
        Ctx at = ctx.field("failurePercentage");
        Map<String, Node> g = mapping(f.get("failurePercentage"), at, "threshold", "minimumHosts",
            "requestVolume");
        if (g != null) {
          if (!g.containsKey("threshold")) {
            fail(f.get("failurePercentage"), at.field("threshold"), "missing", "0..100");
          }
          fp = Optional.of(new FailurePercentage(
              intField(g, "threshold", at, 0, 100, 85),
              intField(g, "minimumHosts", at, 1, 1_000_000, 5),
              intField(g, "requestVolume", at, 1, 1_000_000, 50)));
        }
      }
      return new OutlierDetectionSpec(
          grpc ? 0 : intField(f, "consecutive5xx", ctx, 1, 1_000_000, 5),
          durationField(f, "interval", ctx, Duration.ofMillis(1), Duration.ofDays(1), Duration.ofSeconds(10)),
          durationField(f, "baseEjectionTime", ctx, Duration.ofMillis(1), Duration.ofDays(1),
              Duration.ofSeconds(30)),
          intField(f, "maxEjectionPercent", ctx, 0, 100, 10),
          fp);
    }

    List<RouteSpec> routes(Node node, Ctx ctx, Map<String, Map<String, String>> subsets,
        Protocol protocol) {
      List<RouteSpec> out = new ArrayList<>();
      List<Node> items = sequence(node, ctx);
      if (items.isEmpty() && node instanceof SequenceNode) {
        fail(node, ctx, "[]", "at least one route; leave routes out to send everything to every endpoint");
      }
      for (int i = 0; i < items.size(); i++) {
        RouteSpec route = route(items.get(i), ctx.index(i), subsets, protocol);
        if (route != null) {
          out.add(route);
        }
      }
      return out;
    }

    RouteSpec route(Node node, Ctx ctx, Map<String, Map<String, String>> subsets, Protocol protocol) {
      Map<String, Node> f = mapping(node, ctx, "match", "to", "timeout", "retries", "faults", "rateLimit");
      if (f == null) {
        return null;
      }
      MatchSpec match = f.containsKey("match") ? match(f.get("match"), ctx.field("match")) : MatchSpec.any();
      List<WeightedTarget> to = List.of();
      if (!f.containsKey("to")) {
        fail(node, ctx.field("to"), "missing", "a list of targets such as [ { subset: v1, weight: 100 } ]");
      } else {
        to = targets(f.get("to"), ctx.field("to"), subsets);
      }
      Optional<Duration> timeout = f.containsKey("timeout")
          ? Optional.of(duration(f.get("timeout"), ctx.field("timeout"), Duration.ofMillis(1),
              Duration.ofHours(24), Duration.ofSeconds(15)))
          : Optional.empty();
      Optional<RetrySpec> retries = f.containsKey("retries")
          ? Optional.of(retries(f.get("retries"), ctx.field("retries"), protocol))
          : Optional.empty();
      Optional<FaultSpec> faults = f.containsKey("faults")
          ? Optional.of(faults(f.get("faults"), ctx.field("faults")))
          : Optional.empty();
      Optional<RateLimitSpec> rateLimit = f.containsKey("rateLimit")
          ? Optional.of(rateLimit(f.get("rateLimit"), ctx.field("rateLimit")))
          : Optional.empty();
      if (rateLimit.isPresent() && protocol == Protocol.GRPC) {
        fail(f.get("rateLimit"), ctx.field("rateLimit"), flow(f.get("rateLimit")),
            onGrpc("no rateLimit", "grpc-java has no local rate limit filter (envoy.filters.http.local_ratelimit)"
                + " and skips it; bound calls in flight with circuitBreaker.maxRequests, or limit on the server"));
      }
      if (to.isEmpty()) {
        return null;
      }
      return new RouteSpec(match, to, timeout, retries, faults, rateLimit);
    }

    MatchSpec match(Node node, Ctx ctx) {
      Map<String, Node> f = mapping(node, ctx, "pathPrefix", "path", "pathRegex", "headers");
      if (f == null) {
        return MatchSpec.any();
      }
      List<String> pathKeys = new ArrayList<>();
      for (String k : List.of("pathPrefix", "path", "pathRegex")) {
        if (f.containsKey(k)) {
          pathKeys.add(k);
        }
      }
      PathMatch path = new PathMatch(PathMatch.Kind.PREFIX, "/");
      if (pathKeys.size() > 1) {
        fail(node, ctx, String.join(" and ", pathKeys), "at most one of pathPrefix, path, pathRegex");
      } else if (pathKeys.size() == 1) {
        String k = pathKeys.get(0);
        Node v = f.get(k);
        String value = scalar(v, ctx.field(k));
        if (value != null) {
          switch (k) {
            case "pathPrefix", "path" -> {
              if (!value.startsWith("/")) {
                fail(v, ctx.field(k), "'" + value + "'", "a path starting with '/'");
              }
              path = new PathMatch(k.equals("path") ? PathMatch.Kind.EXACT : PathMatch.Kind.PREFIX, value);
            }
            default -> {
              if (regex(value, v, ctx.field(k))) {
                path = new PathMatch(PathMatch.Kind.REGEX, value);
              }
            }
          }
        }
      }
      List<HeaderMatch> headers = new ArrayList<>();
      if (f.containsKey("headers")) {
        Ctx hctx = ctx.field("headers");
        Map<String, Node> byName = mapping(f.get("headers"), hctx);
        if (byName != null) {
          byName.forEach((name, v) -> {
            HeaderMatch h = header(name, v, hctx.field(name));
            if (h != null) {
              headers.add(h);
            }
          });
        }
      }
      return new MatchSpec(path, headers);
    }

    HeaderMatch header(String name, Node node, Ctx ctx) {
      if (!HEADER_NAME.matcher(name).matches()) {
        fail(node, ctx, "'" + name + "'", "a lower-case header name");
        return null;
      }
      if (node instanceof ScalarNode s) {
        return new HeaderMatch(name, HeaderMatch.Kind.EXACT, s.getValue());
      }
      Map<String, Node> f = mapping(node, ctx, "exact", "regex", "present");
      if (f == null) {
        return null;
      }
      if (f.size() != 1) {
        fail(node, ctx, f.isEmpty() ? "{}" : String.join(" and ", f.keySet()),
            "a value, or exactly one of { exact: ... }, { regex: ... }, { present: true }");
        return null;
      }
      String k = f.keySet().iterator().next();
      Node v = f.get(k);
      String value = scalar(v, ctx.field(k));
      if (value == null) {
        return null;
      }
      switch (k) {
        case "exact":
          return new HeaderMatch(name, HeaderMatch.Kind.EXACT, value);
        case "regex":
          return regex(value, v, ctx.field(k)) ? new HeaderMatch(name, HeaderMatch.Kind.REGEX, value) : null;
        default:
          if (!value.equals("true")) {
            fail(v, ctx.field(k), value, "true");
            return null;
          }
          return new HeaderMatch(name, HeaderMatch.Kind.PRESENT, "");
      }
    }

    /** Checks a regular expression in RE2 syntax, the one Envoy and grpc-java use. */
    boolean regex(String value, Node node, Ctx ctx) {
      try {
        com.google.re2j.Pattern.compile(value);
        return true;
      } catch (com.google.re2j.PatternSyntaxException e) {
        fail(node, ctx, "'" + value + "'", "a valid RE2 regular expression (" + e.getDescription() + ")");
        return false;
      }
    }

    List<WeightedTarget> targets(Node node, Ctx ctx, Map<String, Map<String, String>> subsets) {
      List<WeightedTarget> out = new ArrayList<>();
      List<Node> items = sequence(node, ctx);
      if (items.isEmpty()) {
        if (node instanceof SequenceNode) {
          fail(node, ctx, "[]", "at least one target such as { subset: v1, weight: 100 }");
        }
        return out;
      }
      long total = 0;
      for (int i = 0; i < items.size(); i++) {
        Ctx at = ctx.index(i);
        Map<String, Node> f = mapping(items.get(i), at, "subset", "weight");
        if (f == null) {
          continue;
        }
        Optional<String> subset = Optional.empty();
        if (f.containsKey("subset")) {
          String s = scalar(f.get("subset"), at.field("subset"));
          if (s != null && !subsets.containsKey(s)) {
            fail(f.get("subset"), at.field("subset"), s,
                subsets.isEmpty()
                    ? "a subset defined under subsets; this service defines none"
                    : "a subset defined under subsets: " + String.join(", ", subsets.keySet()));
          }
          subset = Optional.ofNullable(s);
        }
        if (!f.containsKey("weight") && items.size() > 1) {
          fail(items.get(i), at.field("weight"), "missing", "a weight when a route has several targets");
        }
        int weight = intField(f, "weight", at, 0, 1_000_000, 100);
        total += weight;
        out.add(new WeightedTarget(subset, weight));
      }
      if (total == 0 && out.size() == items.size()) {
        fail(node, ctx, "weights adding up to 0", "at least one weight above 0");
      }
      return out;
    }

    RetrySpec retries(Node node, Ctx ctx, Protocol protocol) {
      Map<String, Node> f = mapping(node, ctx, "attempts", "perTryTimeout", "on", "backoff");
      if (f == null) {
        f = Map.of();
      }
      boolean grpc = protocol == Protocol.GRPC;
      int attempts = intField(f, "attempts", ctx, 0, 10, 1);
      if (grpc && attempts > GRPC_MAX_RETRIES) {
        fail(f.get("attempts"), ctx.field("attempts"), String.valueOf(attempts),
            onGrpc("0.." + GRPC_MAX_RETRIES, "grpc-java makes at most 5 attempts in all and would cut the rest"));
      }
      Optional<Duration> perTry = f.containsKey("perTryTimeout")
          ? Optional.of(duration(f.get("perTryTimeout"), ctx.field("perTryTimeout"), Duration.ofMillis(1),
              Duration.ofHours(1), Duration.ofSeconds(1)))
          : Optional.empty();
      if (perTry.isPresent() && grpc) {
        // XdsRouteConfigureResource.parseRetryPolicy: perAttemptRecvTimeout is always null (gRFC A44).
        fail(f.get("perTryTimeout"), ctx.field("perTryTimeout"), flow(f.get("perTryTimeout")),
            onGrpc("no perTryTimeout", "grpc-java has no per-try timeout (gRFC A44); use the route's timeout,"
                + " which bounds all tries together"));
      } else if (perTry.isPresent() && attempts == 0) {
        // No retries is no retry policy (gRPC clients refuse num_retries: 0), so a per-try timeout
        // would be lost; with one try it means the route's timeout anyway.
        fail(f.get("perTryTimeout"), ctx.field("perTryTimeout"), flow(f.get("perTryTimeout")),
            "no perTryTimeout with attempts: 0: the only try's deadline is the route's timeout; write timeout: "
                + flow(f.get("perTryTimeout")) + " on the route instead");
      }
      List<String> on = new ArrayList<>();
      if (f.containsKey("on")) {
        List<Node> items = sequence(f.get("on"), ctx.field("on"));
        for (int i = 0; i < items.size(); i++) {
          String c = scalar(items.get(i), ctx.field("on").index(i));
          if (c == null) {
            continue;
          }
          if (!RETRY_CONDITIONS.contains(c)) {
            fail(items.get(i), ctx.field("on").index(i), c, "one of " + String.join(", ", RETRY_CONDITIONS));
          } else if (grpc && !GRPC_RETRY_CONDITIONS.contains(c)) {
            // grpc-java skips every retry_on entry that is not one of these status codes.
            fail(items.get(i), ctx.field("on").index(i), c,
                onGrpc("a gRPC status condition (" + String.join(", ", GRPC_RETRY_CONDITIONS) + ")",
                    "grpc-java retries on gRPC status codes only and skips HTTP conditions"));
          } else if (!on.contains(c)) {
            on.add(c);
          }
        }
      } else {
        on.addAll(protocol == Protocol.GRPC
            ? List.of("unavailable")
            : List.of("5xx", "reset", "connect-failure"));
      }
      Duration base = RetrySpec.DEFAULT_BACKOFF_BASE;
      Duration max = null;
      if (f.containsKey("backoff")) {
        Ctx bctx = ctx.field("backoff");
        Map<String, Node> b = mapping(f.get("backoff"), bctx, "base", "max");
        if (b != null) {
          base = durationField(b, "base", bctx, Duration.ofMillis(1), Duration.ofMinutes(1), base);
          if (b.containsKey("max")) {
            max = duration(b.get("max"), bctx.field("max"), Duration.ofMillis(1), Duration.ofMinutes(10),
                base.multipliedBy(10));
            if (max.compareTo(base) < 0) {
              fail(b.get("max"), bctx.field("max"), Durations.format(max),
                  "at least backoff.base (" + Durations.format(base) + ")");
            }
          }
        }
      }
      return new RetrySpec(attempts, perTry, on, base, max == null ? base.multipliedBy(10) : max);
    }

    FaultSpec faults(Node node, Ctx ctx) {
      Map<String, Node> f = mapping(node, ctx, "delay", "abort");
      if (f == null) {
        return new FaultSpec(Optional.empty(), Optional.empty());
      }
      Optional<Delay> delay = Optional.empty();
      if (f.containsKey("delay")) {
        Ctx d = ctx.field("delay");
        Map<String, Node> g = mapping(f.get("delay"), d, "percent", "fixed");
        if (g != null) {
          if (!g.containsKey("fixed")) {
            fail(f.get("delay"), d.field("fixed"), "missing", Durations.EXPECTED);
          }
          delay = Optional.of(new Delay(percentField(g, "percent", f.get("delay"), d),
              durationField(g, "fixed", d, Duration.ofMillis(1), Duration.ofHours(1), Duration.ofMillis(1))));
        }
      }
      Optional<Abort> abort = Optional.empty();
      if (f.containsKey("abort")) {
        Ctx a = ctx.field("abort");
        Map<String, Node> g = mapping(f.get("abort"), a, "percent", "httpStatus", "grpcStatus");
        if (g != null) {
          Optional<Integer> http = g.containsKey("httpStatus")
              ? Optional.of(intField(g, "httpStatus", a, 200, 599, 503))
              : Optional.empty();
          Optional<Integer> grpc = g.containsKey("grpcStatus")
              ? Optional.of(intField(g, "grpcStatus", a, 1, 16, 14))
              : Optional.empty();
          if (http.isPresent() == grpc.isPresent()) {
            fail(f.get("abort"), a,
                http.isPresent() ? "httpStatus and grpcStatus" : "neither httpStatus nor grpcStatus",
                "exactly one of httpStatus (200..599) and grpcStatus (1..16)");
          }
          abort = Optional.of(new Abort(percentField(g, "percent", f.get("abort"), a), http, grpc));
        }
      }
      return new FaultSpec(delay, abort);
    }

    RateLimitSpec rateLimit(Node node, Ctx ctx) {
      Map<String, Node> f = mapping(node, ctx, "requestsPerSecond", "burst");
      if (f == null) {
        return new RateLimitSpec(1, 1);
      }
      if (!f.containsKey("requestsPerSecond")) {
        fail(node, ctx.field("requestsPerSecond"), "missing", "1..1000000");
      }
      int rps = intField(f, "requestsPerSecond", ctx, 1, 1_000_000, 1);
      int burst = intField(f, "burst", ctx, 1, 1_000_000, rps);
      return new RateLimitSpec(rps, burst);
    }

    AuthorizationSpec authorization(Node node, Ctx ctx, Protocol protocol) {
      Map<String, Node> f = mapping(node, ctx, "allow", "rules");
      if (f == null) {
        return new AuthorizationSpec(List.of());
      }
      if (!f.containsKey("allow") && !f.containsKey("rules")) {
        fail(node, ctx.field("allow"), "missing", "a list of SPIFFE IDs such as spiffe://example.org/service/frontend");
        return new AuthorizationSpec(List.of());
      }
      Optional<List<String>> allow = f.containsKey("allow")
          ? Optional.of(spiffeIds(f.get("allow"), ctx.field("allow")))
          : Optional.empty();
      List<AuthorizationSpec.Rule> rules = new ArrayList<>();
      if (f.containsKey("rules")) {
        List<Node> items = sequence(f.get("rules"), ctx.field("rules"));
        for (int i = 0; i < items.size(); i++) {
          AuthorizationSpec.Rule rule = authorizationRule(items.get(i), ctx.field("rules").index(i), protocol);
          if (rule != null) {
            rules.add(rule);
          }
        }
      }
      return new AuthorizationSpec(allow, rules);
    }

    private AuthorizationSpec.Rule authorizationRule(Node node, Ctx ctx, Protocol protocol) {
      Map<String, Node> f = mapping(node, ctx, "match", "allow");
      if (f == null) {
        return null;
      }
      if (!f.containsKey("match")) {
        fail(node, ctx.field("match"), "missing", "a match with path or pathPrefix, and optionally methods");
        return null;
      }
      if (!f.containsKey("allow")) {
        fail(node, ctx.field("allow"), "missing", "a list of SPIFFE IDs ([] for nobody)");
        return null;
      }
      Ctx mctx = ctx.field("match");
      Map<String, Node> m = mapping(f.get("match"), mctx, "path", "pathPrefix", "methods");
      if (m == null) {
        return null;
      }
      if (m.containsKey("path") == m.containsKey("pathPrefix")) {
        fail(f.get("match"), mctx, m.containsKey("path") ? "path and pathPrefix" : "neither path nor pathPrefix",
            "exactly one of path, pathPrefix");
        return null;
      }
      boolean prefix = m.containsKey("pathPrefix");
      String key = prefix ? "pathPrefix" : "path";
      String path = string(m.get(key), mctx.field(key), Pattern.compile("/.*"), "a path starting with /", null);
      List<String> methods = new ArrayList<>();
      if (m.containsKey("methods")) {
        if (protocol == Protocol.GRPC) {
          fail(m.get("methods"), mctx.field("methods"), "set",
              "no methods for a gRPC service: every call is a POST; match the method by path, "
                  + "e.g. path: /catalog.Catalog/Delete");
        } else {
          List<Node> items = sequence(m.get("methods"), mctx.field("methods"));
          for (int i = 0; i < items.size(); i++) {
            String method = string(items.get(i), mctx.field("methods").index(i), Pattern.compile("[A-Z]+"),
                "an HTTP method in capitals, such as GET or POST", null);
            if (method != null) {
              methods.add(method);
            }
          }
        }
      }
      List<String> allow = spiffeIds(f.get("allow"), ctx.field("allow"));
      return path == null ? null : new AuthorizationSpec.Rule(path, prefix, methods, allow);
    }

    private List<String> spiffeIds(Node node, Ctx ctx) {
      List<String> ids = new ArrayList<>();
      List<Node> items = sequence(node, ctx);
      for (int i = 0; i < items.size(); i++) {
        String id = string(items.get(i), ctx.index(i), SPIFFE_ID,
            "a SPIFFE ID such as spiffe://example.org/service/frontend", null);
        if (id != null) {
          ids.add(id);
        }
      }
      return ids;
    }

    /** What a gRPC service accepts instead, and why: grpc-java's xDS client is what calls it. */
    private static String onGrpc(String expected, String reason) {
      return expected + " on a grpc service: " + reason;
    }

    /** A node as written, in YAML flow style: {@code 500ms}, {@code { requestsPerSecond: 5 }}. */
    static String flow(Node node) {
      if (node instanceof ScalarNode s) {
        return s.getValue().isEmpty() ? "''" : s.getValue();
      } else if (node instanceof SequenceNode s) {
        return "[ " + String.join(", ", s.getValue().stream().map(Reader::flow).toList()) + " ]";
      } else if (node instanceof MappingNode m) {
        if (m.getValue().isEmpty()) {
          return "{}";
        }
        return "{ " + String.join(", ", m.getValue().stream()
            .map(t -> flow(t.getKeyNode()) + ": " + flow(t.getValueNode())).toList()) + " }";
      }
      return "nothing";
    }

    // ---- generic readers: each reports what it cannot read and returns a fallback ----

    /** The entries of a mapping by key, refusing keys outside {@code allowed} (none: any key). */
    Map<String, Node> mapping(Node node, Ctx ctx, String... allowed) {
      if (!(node instanceof MappingNode m)) {
        fail(node, ctx, describe(node),
            allowed.length == 0 ? "a mapping" : "a mapping with " + String.join(", ", allowed));
        return null;
      }
      Map<String, Node> out = new LinkedHashMap<>();
      Map<String, Node> keys = new HashMap<>();
      for (NodeTuple t : m.getValue()) {
        if (!(t.getKeyNode() instanceof ScalarNode k)) {
          fail(t.getKeyNode(), ctx, describe(t.getKeyNode()), "a plain key");
          continue;
        }
        String key = k.getValue();
        if (allowed.length > 0 && !List.of(allowed).contains(key)) {
          fail(k, ctx.field(key), "unknown field", "one of " + String.join(", ", allowed));
        } else if (keys.containsKey(key)) {
          fail(k, ctx.field(key), "duplicate key, also on line " + (keys.get(key).getStartMark().getLine() + 1),
              "each key once");
        } else {
          keys.put(key, k);
          out.put(key, t.getValueNode());
        }
      }
      return out;
    }

    Map<String, Node> keyNodes(Node node) {
      Map<String, Node> out = new LinkedHashMap<>();
      if (node instanceof MappingNode m) {
        for (NodeTuple t : m.getValue()) {
          if (t.getKeyNode() instanceof ScalarNode k) {
            out.putIfAbsent(k.getValue(), k);
          }
        }
      }
      return out;
    }

    List<Node> sequence(Node node, Ctx ctx) {
      if (node instanceof SequenceNode s) {
        return s.getValue();
      }
      fail(node, ctx, describe(node), "a list");
      return List.of();
    }

    String scalar(Node node, Ctx ctx) {
      if (node instanceof ScalarNode s) {
        return s.getValue();
      }
      fail(node, ctx, describe(node), "a single value");
      return null;
    }

    String string(Node node, Ctx ctx, Pattern pattern, String expected, String fallback) {
      String s = scalar(node, ctx);
      if (s == null) {
        return fallback;
      }
      if (!pattern.matcher(s).matches()) {
        fail(node, ctx, s.isEmpty() ? "''" : s, expected);
        return fallback;
      }
      return s;
    }

    int intField(Map<String, Node> f, String name, Ctx ctx, int min, int max, int fallback) {
      Node node = f.get(name);
      if (node == null) {
        return fallback;
      }
      String s = scalar(node, ctx.field(name));
      if (s == null) {
        return fallback;
      }
      String expected = max == Integer.MAX_VALUE ? "an integer >= " + min : min + ".." + max;
      try {
        long v = Long.parseLong(s.strip());
        if (v < min || v > max) {
          fail(node, ctx.field(name), s, expected);
          return fallback;
        }
        return (int) v;
      } catch (NumberFormatException e) {
        fail(node, ctx.field(name), s.isEmpty() ? "''" : s, "an integer in " + expected);
        return fallback;
      }
    }

    double percentField(Map<String, Node> f, String name, Node parent, Ctx ctx) {
      Node node = f.get(name);
      if (node == null) {
        fail(parent, ctx.field(name), "missing", "a percentage in 0..100");
        return 0;
      }
      String s = scalar(node, ctx.field(name));
      if (s == null) {
        return 0;
      }
      try {
        double v = Double.parseDouble(s.strip().replace("%", ""));
        if (!(v >= 0 && v <= 100)) {
          fail(node, ctx.field(name), s, "0..100");
          return 0;
        }
        return v;
      } catch (NumberFormatException e) {
        fail(node, ctx.field(name), s, "a percentage in 0..100");
        return 0;
      }
    }

    Duration durationField(Map<String, Node> f, String name, Ctx ctx, Duration min, Duration max,
        Duration fallback) {
      Node node = f.get(name);
      return node == null ? fallback : duration(node, ctx.field(name), min, max, fallback);
    }

    Duration duration(Node node, Ctx ctx, Duration min, Duration max, Duration fallback) {
      String s = scalar(node, ctx);
      if (s == null) {
        return fallback;
      }
      Optional<Duration> d = Durations.parse(s);
      if (d.isEmpty()) {
        fail(node, ctx, s.isEmpty() ? "''" : s, Durations.EXPECTED);
        return fallback;
      }
      if (d.get().compareTo(min) < 0 || d.get().compareTo(max) > 0) {
        fail(node, ctx, s, Durations.format(min) + ".." + Durations.format(max));
        return fallback;
      }
      return d.get();
    }

    <E extends Enum<E>> E enumValue(Node node, Ctx ctx, Class<E> type, E fallback) {
      String s = scalar(node, ctx);
      if (s == null) {
        return fallback;
      }
      for (E e : type.getEnumConstants()) {
        if (e.name().equalsIgnoreCase(s.strip())) {
          return e;
        }
      }
      Function<E, String> spell = e -> e.name().toLowerCase(Locale.ROOT);
      fail(node, ctx, s.isEmpty() ? "''" : s, "one of "
          + String.join(", ", java.util.Arrays.stream(type.getEnumConstants()).map(spell).toList()));
      return fallback;
    }

    private static String describe(Node node) {
      if (node == null) {
        return "nothing";
      } else if (node instanceof MappingNode) {
        return "a mapping";
      } else if (node instanceof SequenceNode) {
        return "a list";
      }
      String v = ((ScalarNode) node).getValue();
      return v.isEmpty() ? "an empty value" : v;
    }
  }
}
