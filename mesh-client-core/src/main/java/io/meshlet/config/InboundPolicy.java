package io.meshlet.config;

import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * What a service's own servers enforce on calls coming in.
 *
 * @param mtls how connections are taken: mTLS, plaintext or both
 * @param allow the SPIFFE IDs allowed to call the service; empty when it is open to any caller
 */
public record InboundPolicy(MtlsMode mtls, Optional<Set<String>> allow) {

  private static final InboundPolicy OPEN = new InboundPolicy(MtlsMode.OFF, Optional.empty());

  public InboundPolicy {
    Objects.requireNonNull(mtls, "mtls");
    allow = allow.map(Set::copyOf);
  }

  /** No mTLS and no allow list: what a service without an inbound listener gets. */
  public static InboundPolicy open() {
    return OPEN;
  }

  /** Whether a caller may call: true without an allow list, else only for a listed SPIFFE ID. */
  public boolean allows(Optional<String> callerSpiffeId) {
    return allow.isEmpty() || (callerSpiffeId.isPresent() && allow.get().contains(callerSpiffeId.get()));
  }

  /** Whether a caller that did not use mTLS may connect at all. */
  public boolean acceptsPlaintext() {
    return mtls != MtlsMode.STRICT;
  }
}
