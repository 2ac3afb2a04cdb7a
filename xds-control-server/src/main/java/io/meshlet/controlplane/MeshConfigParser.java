package io.meshlet.controlplane;

import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.internal.intent.MeshYamlReader;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Reads and validates a mesh config file ({@code mesh.yaml}) into a {@link MeshConfig}: the public
 * entry for tools and tests that need the intent without a running server.
 *
 * <p>The whole file is checked before anything is returned, and every violation is reported with
 * its line, field, value and what was expected:
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
  public static final int MAX_BYTES = MeshYamlReader.MAX_BYTES;

  private MeshConfigParser() {}

  /** Reads and validates a mesh config file; violations are prefixed with the file's name. */
  public static MeshConfig parse(Path file) throws IOException, MeshConfigException {
    return MeshYamlReader.parse(file);
  }

  /**
   * Validates mesh config bytes, which must be UTF-8.
   *
   * @param source the name violations are prefixed with, e.g. {@code mesh.yaml}
   */
  public static MeshConfig parse(byte[] content, String source) throws MeshConfigException {
    return MeshYamlReader.parse(content, source);
  }

  /**
   * Validates mesh config text.
   *
   * @param source the name violations are prefixed with, e.g. {@code mesh.yaml}
   */
  public static MeshConfig parse(String yaml, String source) throws MeshConfigException {
    return MeshYamlReader.parse(yaml, source);
  }
}
