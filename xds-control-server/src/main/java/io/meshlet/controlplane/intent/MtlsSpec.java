package io.meshlet.controlplane.intent;

import java.time.Duration;
import java.util.Objects;

/**
 * Mesh-wide mutual TLS settings.
 *
 * @param mode whether calls are encrypted and authenticated
 * @param certTtl lifetime of the workload certificates the CA issues
 */
public record MtlsSpec(Mode mode, Duration certTtl) {

  /** How strictly mTLS is applied. */
  public enum Mode {
    /** Plaintext only. */
    OFF,
    /** Servers accept plaintext and mTLS; clients use mTLS where the destination supports it. */
    PERMISSIVE,
    /** mTLS only. */
    STRICT
  }

  public MtlsSpec {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(certTtl, "certTtl");
  }

  /** mTLS off, one-hour certificates. */
  public static MtlsSpec defaults() {
    return new MtlsSpec(Mode.OFF, Duration.ofHours(1));
  }
}
