package io.meshlet;

import java.io.IOException;

/**
 * The mesh answered a call itself instead of sending it: an injected fault, a rate limit, or a
 * circuit breaker. Transports turn it into the response Envoy would have given: an HTTP response
 * with {@link #status()} and the header {@code x-meshlet-<reason>: true}.
 */
public final class MeshRejection extends IOException {

  private static final long serialVersionUID = 1L;

  /** Why the mesh answered. */
  public enum Reason {
    /** An injected abort fault. */
    FAULT("fault"),
    /** The route's local rate limit. */
    RATE_LIMITED("ratelimited"),
    /** The cluster's circuit breaker: too many requests in flight. */
    OVERLOADED("overloaded"),
    /** The cluster has no endpoints (Envoy: "no healthy upstream"). */
    NO_ENDPOINTS("no-endpoints");

    private final String header;

    Reason(String header) {
      this.header = header;
    }

    /** The response header that marks it: {@code x-meshlet-fault}, ... */
    public String header() {
      return "x-meshlet-" + header;
    }
  }

  private final int status;
  private final Reason reason;

  public MeshRejection(int status, Reason reason, String message) {
    super(message);
    this.status = status;
    this.reason = reason;
  }

  public int status() {
    return status;
  }

  public Reason reason() {
    return reason;
  }
}
