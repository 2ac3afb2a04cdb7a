package io.meshlet.spring.autoconfigure;

/**
 * The mesh asks for inbound protection (mTLS, authorization) that the running web server cannot
 * give; thrown at start-up, so that the application is never served unprotected while the mesh says
 * it is protected. The message says what the mesh asks, why it cannot be given, and what to change.
 */
public class MeshletInboundException extends IllegalStateException {

  private static final long serialVersionUID = 1L;

  private final String problem;
  private final String action;

  public MeshletInboundException(String problem, String action) {
    super(problem + ": " + action);
    this.problem = problem;
    this.action = action;
  }

  /** What the mesh asks and why this server cannot give it. */
  public String problem() {
    return problem;
  }

  /** What to change. */
  public String action() {
    return action;
  }
}
