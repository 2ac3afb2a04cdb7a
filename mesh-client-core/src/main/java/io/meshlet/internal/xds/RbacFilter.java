package io.meshlet.internal.xds;

import static io.meshlet.internal.xds.ProtoFields.duration;
import static io.meshlet.internal.xds.ProtoFields.enforcing;
import static io.meshlet.internal.xds.ProtoFields.fieldNames;
import static io.meshlet.internal.xds.ProtoFields.isZero;
import static io.meshlet.internal.xds.ProtoFields.only;
import static io.meshlet.internal.xds.ProtoFields.perMillion;
import static io.meshlet.internal.xds.ProtoFields.u32;
import static io.meshlet.internal.xds.ProtoFields.validRegex;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.meshlet.config.InboundPolicy;
import io.meshlet.internal.wire.WireNames;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Envoy's RBAC filter on an inbound listener: the service's allow list, as {@link InboundPolicy} grants. */
final class RbacFilter implements HttpFilterType {

  @Override
  public String name() {
    return WireNames.RBAC_FILTER;
  }

  @Override
  public String typeName() {
    return io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.getDescriptor().getFullName();
  }

  /** Read on inbound listeners only: it says what the service's own servers enforce. */
  @Override
  public boolean inboundOnly() {
    return true;
  }

  @Override
  public List<InboundPolicy.Grant> inboundGrants(Any typedConfig, String p, Errors e) {
    return rbac(typedConfig, p, e);
  }

  /**
   * An ALLOW RBAC: each policy becomes a grant of its permissions (paths, methods, and, or, not)
   * to its principals (exact authenticated SPIFFE IDs, or any).
   */
  private static List<InboundPolicy.Grant> rbac(Any typedConfig, String p, Errors e) {
    io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC config;
    try {
      config = typedConfig.unpack(io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.class);
    } catch (InvalidProtocolBufferException ex) {
      e.add(p + ".typed_config", typedConfig.getTypeUrl(), "an RBAC filter config");
      return List.of();
    }
    only(config, e, p + ".typed_config", "rules");
    var rules = config.getRules();
    only(rules, e, p + ".typed_config.rules", "action", "policies");
    if (rules.getAction() != io.envoyproxy.envoy.config.rbac.v3.RBAC.Action.ALLOW) {
      e.add(p + ".typed_config.rules.action", rules.getAction().name(), "ALLOW");
    }
    List<InboundPolicy.Grant> grants = new ArrayList<>();
    new java.util.TreeMap<>(rules.getPoliciesMap()).forEach((name, policy) -> {
      String pp = p + ".typed_config.rules.policies." + name;
      only(policy, e, pp, "permissions", "principals");
      List<InboundPolicy.Permission> permissions = new ArrayList<>();
      for (int i = 0; i < policy.getPermissionsCount(); i++) {
        permissions.add(permission(policy.getPermissions(i), pp + ".permissions[" + i + "]", e));
      }
      Set<String> ids = new java.util.TreeSet<>();
      boolean anyone = false;
      for (var principal : policy.getPrincipalsList()) {
        StringMatcher m = principal.getAuthenticated().getPrincipalName();
        if (principal.getAny()) {
          anyone = true;
        } else if (!principal.hasAuthenticated() || m.getMatchPatternCase() != StringMatcher.MatchPatternCase.EXACT) {
          e.add(pp + ".principals", principal.getIdentifierCase().name().toLowerCase(),
              "any, or authenticated principal_name exact SPIFFE IDs");
        } else {
          ids.add(m.getExact());
        }
      }
      // As in Envoy, a policy matches when any of its permissions does.
      InboundPolicy.Permission which = permissions.size() == 1
          ? permissions.get(0) : new InboundPolicy.Permission.Or(permissions);
      grants.add(new InboundPolicy.Grant(which, ids, anyone));
    });
    return grants;
  }

  private static InboundPolicy.Permission permission(io.envoyproxy.envoy.config.rbac.v3.Permission p, String path,
      Errors e) {
    switch (p.getRuleCase()) {
      case ANY:
        return new InboundPolicy.Permission.Any();
      case URL_PATH: {
        StringMatcher m = p.getUrlPath().getPath();
        only(m, e, path + ".url_path.path", "exact", "prefix");
        if (m.getMatchPatternCase() == StringMatcher.MatchPatternCase.EXACT) {
          return new InboundPolicy.Permission.Path(m.getExact(), false);
        }
        if (m.getMatchPatternCase() == StringMatcher.MatchPatternCase.PREFIX) {
          return new InboundPolicy.Permission.Path(m.getPrefix(), true);
        }
        e.add(path + ".url_path.path", m.getMatchPatternCase().name().toLowerCase(), "exact or prefix");
        return new InboundPolicy.Permission.Any();
      }
      case HEADER: {
        // exact_match is what control servers send now (C-core before 1.56 reads no string_match);
        // string_match exact is what they sent before.
        HeaderMatcher h = p.getHeader();
        boolean exact = h.getHeaderMatchSpecifierCase() == HeaderMatcher.HeaderMatchSpecifierCase.EXACT_MATCH;
        boolean stringExact = h.hasStringMatch()
            && h.getStringMatch().getMatchPatternCase() == StringMatcher.MatchPatternCase.EXACT
            && !h.getStringMatch().getIgnoreCase();
        if (!h.getName().equals(":method") || !(exact || stringExact) || h.getInvertMatch()) {
          e.add(path + ".header", h.getName(), ":method with exact_match or string_match exact");
          return new InboundPolicy.Permission.Any();
        }
        return new InboundPolicy.Permission.Method(exact ? h.getExactMatch() : h.getStringMatch().getExact());
      }
      case AND_RULES:
      case OR_RULES: {
        boolean and = p.getRuleCase() == io.envoyproxy.envoy.config.rbac.v3.Permission.RuleCase.AND_RULES;
        var set = and ? p.getAndRules() : p.getOrRules();
        List<InboundPolicy.Permission> parts = new ArrayList<>();
        for (int i = 0; i < set.getRulesCount(); i++) {
          parts.add(permission(set.getRules(i), path + (and ? ".and_rules" : ".or_rules") + ".rules[" + i + "]", e));
        }
        return and ? new InboundPolicy.Permission.And(parts) : new InboundPolicy.Permission.Or(parts);
      }
      case NOT_RULE:
        return new InboundPolicy.Permission.Not(permission(p.getNotRule(), path + ".not_rule", e));
      default:
        e.add(path, p.getRuleCase().name().toLowerCase(),
            "one of any, url_path, header (:method), and_rules, or_rules, not_rule");
        return new InboundPolicy.Permission.Any();
    }
  }
}
