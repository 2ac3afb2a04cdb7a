package io.meshlet.controlplane.intent;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The mesh's intent: every service, where its instances are and how calls to it are routed,
 * retried, timed out, limited and secured.
 *
 * <p>Immutable and validated: build one with {@code io.meshlet.controlplane.MeshConfigParser}, which reports every
 * violation of a file at once. Services keep the order in which they were written.
 *
 * @param trustDomain the SPIFFE trust domain, e.g. {@code example.org}
 * @param mtls mesh-wide mTLS settings
 * @param services services by name, in file order
 */
public record MeshConfig(String trustDomain, MtlsSpec mtls, Map<String, ServiceSpec> services) {

  /** The trust domain used when the file names none. */
  public static final String DEFAULT_TRUST_DOMAIN = "cluster.local";

  public MeshConfig {
    Objects.requireNonNull(trustDomain, "trustDomain");
    Objects.requireNonNull(mtls, "mtls");
    services = Collections.unmodifiableMap(new LinkedHashMap<>(services));
  }

  /** A mesh with no services. */
  public static MeshConfig empty() {
    return new MeshConfig(DEFAULT_TRUST_DOMAIN, MtlsSpec.defaults(), Map.of());
  }
}
