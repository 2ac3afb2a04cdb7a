package io.meshlet.controlplane.internal.intent;

import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.intent.MtlsSpec;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.controlplane.intent.Violation;
import io.meshlet.internal.wire.MeshNames;
import io.meshlet.controlplane.internal.intent.NodeReader.Ctx;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.reader.ReaderException;

/**
 * Reads and validates a mesh config file ({@code mesh.yaml}).
 *
 * <p>The whole file is checked before anything is returned, and every violation is reported
 * with its line, field, value and what was expected:
 *
 * <pre>{@code
 * try {
 *   MeshConfig mesh = MeshYamlReader.parse(Path.of("mesh.yaml"));
 * } catch (MeshConfigException e) {
 *   e.violations().forEach(v -> System.err.println(v));
 *   // mesh.yaml:27: service 'payments': outlierDetection.maxEjectionPercent: 140 (expected: 0..100)
 * }
 * }</pre>
 *
 * <p>The reading is split by what it knows: {@link NodeReader} reads typed values from YAML nodes,
 * one reader per section ({@link ServiceReader}, {@link RouteReader}, {@link AuthorizationReader},
 * the top level here) knows its section's fields from {@link MeshSchema}, and
 * {@link IntentValidator} holds the checks across fields.
 *
 * <p>Thread-safe: the static methods keep no state; each parse reads with its own instances.
 */
public final class MeshYamlReader {

  /** Larger files are refused before they are parsed. */
  public static final int MAX_BYTES = 4 * 1024 * 1024;



  private final NodeReader r;
  private final ServiceReader serviceReader;
  private final IntentValidator validator;

  private MeshYamlReader(NodeReader r) {
    this.r = r;
    this.validator = new IntentValidator(r);
    this.serviceReader = new ServiceReader(r, validator);
  }

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
    NodeReader reader = new NodeReader(source);
    MeshConfig config = new MeshYamlReader(reader).mesh(root);
    if (!reader.violations.isEmpty()) {
      List<Violation> sorted = new ArrayList<>(reader.violations);
      sorted.sort(Comparator.comparingInt(Violation::line));
      throw new MeshConfigException(sorted);
    }
    return config;
  }

  /** The top level ({@link MeshSchema#MESH}): trust domain, mesh-wide mTLS and the services. */
  MeshConfig mesh(Node root) {
    Ctx top = new Ctx("", "");
    if (root == null) {
      r.fail(null, top, "empty file", "a mapping with trustDomain, mtls and services");
      return MeshConfig.empty();
    }
    Map<String, Node> fields = r.mapping(root, top, MeshSchema.MESH);
    if (fields == null) {
      return MeshConfig.empty();
    }
    String trustDomain = MeshConfig.DEFAULT_TRUST_DOMAIN;
    if (fields.containsKey("trustDomain")) {
      trustDomain = r.string(fields.get("trustDomain"), top.field("trustDomain"), MeshNames.TRUST_DOMAIN,
          "a lower-case DNS name such as example.org", trustDomain);
    }
    MtlsSpec mtls = fields.containsKey("mtls")
        ? mtls(fields.get("mtls"), top.field("mtls"))
        : MtlsSpec.defaults();
    Map<String, ServiceSpec> services = new LinkedHashMap<>();
    Node servicesNode = fields.get("services");
    if (servicesNode == null) {
      r.fail(root, top.field("services"), "missing", "a mapping of service names to services");
    } else {
      Map<String, Node> byName = r.mapping(servicesNode, top.field("services"));
      if (byName != null) {
        Map<String, Node> keys = r.keyNodes(servicesNode);
        byName.forEach((name, node) -> {
          if (!MeshNames.isServiceName(name)) {
            r.fail(keys.get(name), new Ctx("", "services"), "'" + name + "'",
                "a service name of at most 63 lower-case letters, digits, '.' and '-',"
                + " starting and ending with a letter or digit");
          } else {
            services.put(name, serviceReader.service(name, node));
          }
        });
      }
    }
    validator.checkSharedAddresses(services, servicesNode);
    return new MeshConfig(trustDomain, mtls, services);
  }

  MtlsSpec mtls(Node node, Ctx ctx) {
    Map<String, Node> f = r.mapping(node, ctx, MeshSchema.MESH_MTLS);
    if (f == null) {
      return MtlsSpec.defaults();
    }
    MtlsSpec.Mode mode = f.containsKey("mode") ? r.mtlsMode(f.get("mode"), ctx.field("mode")) : MtlsSpec.Mode.OFF;
    Duration ttl = f.containsKey("certTtl")
        ? r.duration(f.get("certTtl"), ctx.field("certTtl"), Duration.ofMinutes(1), Duration.ofDays(30),
            Duration.ofHours(1))
        : Duration.ofHours(1);
    return new MtlsSpec(mode, ttl);
  }
}
