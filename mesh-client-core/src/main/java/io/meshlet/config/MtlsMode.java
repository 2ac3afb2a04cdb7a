package io.meshlet.config;

/** How a service's servers take connections, from {@code mtls.mode} in mesh.yaml. */
public enum MtlsMode {
  /** Plaintext only; clients do not use mTLS. */
  OFF,
  /** Servers take mTLS and plaintext callers on one port; clients use mTLS. */
  PERMISSIVE,
  /** Servers take only mTLS callers with a certificate from the trust bundle. */
  STRICT
}
