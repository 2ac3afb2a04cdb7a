package io.meshlet.controlplane;

import java.util.List;

/**
 * Who may call a service.
 *
 * @param allow SPIFFE IDs allowed to call, e.g. {@code spiffe://example.org/service/frontend}
 */
public record AuthorizationSpec(List<String> allow) {

  public AuthorizationSpec {
    allow = List.copyOf(allow);
  }
}
