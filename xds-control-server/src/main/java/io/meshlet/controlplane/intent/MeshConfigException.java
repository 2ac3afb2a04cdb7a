package io.meshlet.controlplane.intent;

import java.util.List;
import java.util.stream.Collectors;

/** A mesh config was refused; carries every violation found, not just the first. */
public final class MeshConfigException extends Exception {

  private static final long serialVersionUID = 1L;

  private final transient List<Violation> violations;

  public MeshConfigException(List<Violation> violations) {
    super(render(violations));
    this.violations = List.copyOf(violations);
  }

  /** The violations, in the order they appear in the source. */
  public List<Violation> violations() {
    return violations;
  }

  private static String render(List<Violation> violations) {
    return violations.size()
        + (violations.size() == 1 ? " error" : " errors")
        + ":\n"
        + violations.stream().map(v -> "  " + v).collect(Collectors.joining("\n"));
  }
}
