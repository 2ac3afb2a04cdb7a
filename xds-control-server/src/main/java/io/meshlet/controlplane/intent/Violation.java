package io.meshlet.controlplane.intent;

import java.util.Objects;

/**
 * One thing wrong with a mesh config, precise enough to fix without reading code.
 *
 * <p>Reads as {@code mesh.yaml:27: service 'payments': outlierDetection.maxEjectionPercent: 140
 * (expected: 0..100)}.
 *
 * @param source the file name, or another name for where the config came from
 * @param line the 1-based line in {@code source}, or 0 when unknown
 * @param subject what the field belongs to, e.g. {@code service 'payments'}; empty at top level
 * @param field the field path as written in the source, e.g. {@code routes[0].timeout}
 * @param value the offending value as written, or a short description such as {@code missing}
 * @param expected what would have been accepted
 */
public record Violation(
    String source, int line, String subject, String field, String value, String expected) {

  public Violation {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(subject, "subject");
    Objects.requireNonNull(field, "field");
    Objects.requireNonNull(value, "value");
    Objects.requireNonNull(expected, "expected");
  }

  /** The message without the source prefix: {@code service 'a': field: value (expected: x)}. */
  public String message() {
    StringBuilder sb = new StringBuilder();
    if (!subject.isEmpty()) {
      sb.append(subject).append(": ");
    }
    if (!field.isEmpty()) {
      sb.append(field).append(": ");
    }
    sb.append(value).append(" (expected: ").append(expected).append(')');
    return sb.toString();
  }

  @Override
  public String toString() {
    return source + (line > 0 ? ":" + line : "") + ": " + message();
  }
}
