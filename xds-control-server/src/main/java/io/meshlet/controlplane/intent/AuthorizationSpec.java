package io.meshlet.controlplane.intent;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Who may call a service: rules for some paths or methods, tried in order (the first whose match
 * fits the request decides), and an allow list for every other request.
 *
 * @param allow SPIFFE IDs allowed to make the requests no rule matches, e.g.
 *     {@code spiffe://example.org/service/frontend}; empty when those requests are open to anyone
 * @param rules per path or method, first match wins
 */
public record AuthorizationSpec(Optional<List<String>> allow, List<Rule> rules) {

  public AuthorizationSpec {
    allow = allow.map(List::copyOf);
    rules = List.copyOf(rules);
  }

  /** One allow list for every request. */
  public AuthorizationSpec(List<String> allow) {
    this(Optional.of(allow), List.of());
  }

  /**
   * Who may make the requests this rule matches.
   *
   * @param path the path, or its prefix when {@code prefix}; a gRPC method's path is
   *     {@code /<package>.<Service>/<Method>}
   * @param prefix whether {@code path} is a prefix
   * @param methods HTTP methods the rule applies to; empty for any
   * @param allow the SPIFFE IDs allowed; empty for nobody
   */
  public record Rule(String path, boolean prefix, List<String> methods, List<String> allow) {
    public Rule {
      Objects.requireNonNull(path, "path");
      methods = List.copyOf(methods);
      allow = List.copyOf(allow);
    }

    @Override
    public String toString() {
      return (prefix ? "pathPrefix " : "path ") + path + (methods.isEmpty() ? "" : " " + methods) + " -> " + allow;
    }
  }

  @Override
  public String toString() {
    return "allow " + allow.map(Object::toString).orElse("anyone") + (rules.isEmpty() ? "" : ", rules " + rules);
  }
}
