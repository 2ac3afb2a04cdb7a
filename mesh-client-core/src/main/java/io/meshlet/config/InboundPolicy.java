package io.meshlet.config;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * What a service's own servers enforce on calls coming in.
 *
 * @param mtls how connections are taken: mTLS, plaintext or both
 * @param grants who may make which requests; a request is allowed when any grant allows it.
 *     Empty when the service has no authorization and is open to any caller
 */
public record InboundPolicy(MtlsMode mtls, Optional<List<Grant>> grants) {

  private static final InboundPolicy OPEN = new InboundPolicy(MtlsMode.OFF, Optional.empty());

  public InboundPolicy {
    Objects.requireNonNull(mtls, "mtls");
    grants = grants.map(List::copyOf);
  }

  /** No mTLS and no authorization: what a service without an inbound listener gets. */
  public static InboundPolicy open() {
    return OPEN;
  }

  /**
   * Whether a caller may make a request.
   *
   * @param callerSpiffeId the caller's SPIFFE ID from its client certificate; empty for a caller
   *     without one, who is allowed only where a grant allows anyone
   * @param path the request's path without the query; a gRPC call's is {@code /pkg.Service/Method}
   * @param method the HTTP method
   */
  public boolean allows(Optional<String> callerSpiffeId, String path, String method) {
    if (grants.isEmpty()) {
      return true;
    }
    for (Grant g : grants.get()) {
      if (g.permission().matches(path, method) && g.allows(callerSpiffeId)) {
        return true;
      }
    }
    return false;
  }

  /** Whether a caller that did not use mTLS may connect at all. */
  public boolean acceptsPlaintext() {
    return mtls != MtlsMode.STRICT;
  }

  /**
   * Callers allowed to make the requests a permission matches.
   *
   * @param principals the SPIFFE IDs allowed
   * @param anyone whether any caller is allowed, with or without an identity
   */
  public record Grant(Permission permission, Set<String> principals, boolean anyone) {
    public Grant {
      Objects.requireNonNull(permission, "permission");
      principals = Set.copyOf(principals);
    }

    boolean allows(Optional<String> caller) {
      return anyone || (caller.isPresent() && principals.contains(caller.get()));
    }
  }

  /** Which requests a grant covers: Envoy RBAC's permission tree, as far as Meshlet emits it. */
  public sealed interface Permission {
    boolean matches(String path, String method);

    /** Every request. */
    record Any() implements Permission {
      @Override
      public boolean matches(String path, String method) {
        return true;
      }
    }

    /** The path, exactly or as a prefix. */
    record Path(String value, boolean prefix) implements Permission {
      public Path {
        Objects.requireNonNull(value, "value");
      }

      @Override
      public boolean matches(String path, String method) {
        return prefix ? path.startsWith(value) : path.equals(value);
      }
    }

    /** The HTTP method. */
    record Method(String value) implements Permission {
      public Method {
        Objects.requireNonNull(value, "value");
      }

      @Override
      public boolean matches(String path, String method) {
        return value.equals(method);
      }
    }

    /** All of these. */
    record And(List<Permission> rules) implements Permission {
      public And {
        rules = List.copyOf(rules);
      }

      @Override
      public boolean matches(String path, String method) {
        for (Permission p : rules) {
          if (!p.matches(path, method)) {
            return false;
          }
        }
        return true;
      }
    }

    /** Any of these. */
    record Or(List<Permission> rules) implements Permission {
      public Or {
        rules = List.copyOf(rules);
      }

      @Override
      public boolean matches(String path, String method) {
        for (Permission p : rules) {
          if (p.matches(path, method)) {
            return true;
          }
        }
        return false;
      }
    }

    /** Not this. */
    record Not(Permission rule) implements Permission {
      public Not {
        Objects.requireNonNull(rule, "rule");
      }

      @Override
      public boolean matches(String path, String method) {
        return !rule.matches(path, method);
      }
    }
  }
}
