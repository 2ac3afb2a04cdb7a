package io.meshlet.spring.autoconfigure;

import java.util.List;

/**
 * The {@code meshlet.*} settings are incomplete or wrong; thrown at start-up with every problem,
 * each as {@code <property>: <value> (expected: <constraint>)}.
 */
public class MeshletPropertiesException extends IllegalStateException {

  private static final long serialVersionUID = 1L;

  private final List<String> problems;

  public MeshletPropertiesException(List<String> problems) {
    super("Invalid Meshlet settings (" + problems.size() + (problems.size() == 1 ? " problem" : " problems")
        + "):\n  " + String.join("\n  ", problems)
        + "\nSet them, or meshlet.enabled=false to start without the mesh.");
    this.problems = List.copyOf(problems);
  }

  /** Each problem, as {@code <property>: <value> (expected: <constraint>)}. */
  public List<String> problems() {
    return problems;
  }
}
