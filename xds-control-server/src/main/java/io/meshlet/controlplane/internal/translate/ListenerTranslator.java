package io.meshlet.controlplane.internal.translate;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.listener.v3.ApiListener;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.internal.net.HostPort;
import io.meshlet.internal.wire.WireNames;
import java.util.ArrayList;
import java.util.List;

/**
 * Listeners: the API listener each client asks for by service name, the {@code inbound|<service>}
 * listener carrying a service's inbound policy, and grpc-java's server listeners with their RBAC
 * filter and TLS.
 */
final class ListenerTranslator {

  private ListenerTranslator() {}

  /**
   * What a service's own servers enforce, for Meshlet's servers (gRPC clients never ask for it):
   * its mTLS mode in the listener's {@code meshlet} metadata, and its authorization as an RBAC
   * filter, callers whose SPIFFE ID is on the allow list and nobody else.
   */
  static Listener inboundListener(ServiceSpec service, io.meshlet.controlplane.intent.MtlsSpec.Mode mtls) {
    HttpConnectionManager.Builder hcm = HttpConnectionManager.newBuilder()
        .setStatPrefix(WireNames.inbound(service.name()))
        .setRds(Rds.newBuilder().setRouteConfigName(service.name()).setConfigSource(XdsTranslator.ads()));
    service.authorization().ifPresent(a -> hcm.addHttpFilters(rbacFilter(a)));
    hcm.addHttpFilters(HttpFilter.newBuilder().setName(WireNames.ROUTER_FILTER)
        .setTypedConfig(Any.pack(Router.getDefaultInstance())));
    com.google.protobuf.Struct meshlet = com.google.protobuf.Struct.newBuilder()
        .putFields(WireNames.MTLS_KEY, com.google.protobuf.Value.newBuilder().setStringValue(mtls.name().toLowerCase()).build())
        .build();
    return Listener.newBuilder().setName(WireNames.inbound(service.name()))
        .setMetadata(io.envoyproxy.envoy.config.core.v3.Metadata.newBuilder().putFilterMetadata(WireNames.MESHLET_METADATA, meshlet))
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(hcm.build()))).build();
  }

  /**
   * The listener an {@code XdsServerBuilder} serving a gRPC service at {@code address} asks for:
   * under strict mTLS, it requires a client certificate from the trust bundle; with an authorization
   * policy, it allows only the listed SPIFFE IDs (RBAC).
   */
  static Listener serverListener(MeshConfig mesh, ServiceSpec service, String address) {
    HostPort hostPort = HostPort.parse(address).orElseThrow();
    String host = hostPort.host();
    int port = hostPort.port();
    HttpConnectionManager.Builder hcm = HttpConnectionManager.newBuilder()
        .setStatPrefix(WireNames.inbound(service.name()))
        .setRouteConfig(RouteConfiguration.newBuilder().setName(WireNames.inbound(service.name()))
            .addVirtualHosts(VirtualHost.newBuilder().setName(service.name()).addDomains("*")
                .addRoutes(Route.newBuilder()
                    .setMatch(io.envoyproxy.envoy.config.route.v3.RouteMatch.newBuilder().setPrefix("/"))
                    .setNonForwardingAction(io.envoyproxy.envoy.config.route.v3.NonForwardingAction.getDefaultInstance()))));
    service.authorization().ifPresent(a -> hcm.addHttpFilters(rbacFilter(a)));
    hcm.addHttpFilters(HttpFilter.newBuilder().setName(WireNames.ROUTER_FILTER).setTypedConfig(Any.pack(Router.getDefaultInstance())));
    io.envoyproxy.envoy.config.listener.v3.FilterChain.Builder chain = io.envoyproxy.envoy.config.listener.v3.FilterChain
        .newBuilder()
        .setName(WireNames.inbound(service.name()))
        .addFilters(io.envoyproxy.envoy.config.listener.v3.Filter.newBuilder()
            .setName("envoy.filters.network.http_connection_manager").setTypedConfig(Any.pack(hcm.build())));
    // Permissive servers get no TLS context: grpc-java then uses the server's fallback
    // credentials (MeshGrpc.serverCredentials), which take mTLS and plaintext on one port.
    if (service.mtlsMode(mesh) == io.meshlet.controlplane.intent.MtlsSpec.Mode.STRICT) {
      var provider = io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateProviderPluginInstance.newBuilder()
          .setInstanceName(WireNames.CERTIFICATE_PROVIDER);
      var tls = io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext.newBuilder()
          .setRequireClientCertificate(com.google.protobuf.BoolValue.of(true))
          .setCommonTlsContext(io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext.newBuilder()
              .setTlsCertificateProviderInstance(provider.clone().setCertificateName("default"))
              .setValidationContext(io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext
                  .newBuilder().setCaCertificateProviderInstance(provider.clone().setCertificateName("ROOTCA"))))
          .build();
      chain.setTransportSocket(io.envoyproxy.envoy.config.core.v3.TransportSocket.newBuilder()
          .setName("envoy.transport_sockets.tls").setTypedConfig(Any.pack(tls)));
    }
    return Listener.newBuilder()
        .setName(WireNames.serverListener(address))
        .setAddress(io.envoyproxy.envoy.config.core.v3.Address.newBuilder().setSocketAddress(
            SocketAddress.newBuilder().setAddress(host).setPortValue(port)))
        .addFilterChains(chain)
        .build();
  }

  /**
   * A service's authorization as an ALLOW RBAC filter (a request passes when any policy matches).
   * Rules are tried in order, so rule {@code i} matches its own paths minus those of earlier
   * rules ({@code rule-<i>}); the service-wide allow list covers what no rule matches
   * ({@code default}). An empty allow list becomes no policy: nobody is allowed.
   */
  static HttpFilter rbacFilter(io.meshlet.controlplane.intent.AuthorizationSpec authz) {
    io.envoyproxy.envoy.config.rbac.v3.RBAC.Builder rules = io.envoyproxy.envoy.config.rbac.v3.RBAC.newBuilder()
        .setAction(io.envoyproxy.envoy.config.rbac.v3.RBAC.Action.ALLOW);
    List<io.envoyproxy.envoy.config.rbac.v3.Permission> earlier = new ArrayList<>();
    for (int i = 0; i < authz.rules().size(); i++) {
      io.meshlet.controlplane.intent.AuthorizationSpec.Rule rule = authz.rules().get(i);
      io.envoyproxy.envoy.config.rbac.v3.Permission match = ruleMatch(rule);
      if (!rule.allow().isEmpty()) {
        rules.putPolicies("rule-" + i, policy(andNot(match, earlier), rule.allow()));
      }
      earlier.add(match);
    }
    io.envoyproxy.envoy.config.rbac.v3.Permission rest = earlier.isEmpty()
        ? io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setAny(true).build()
        : io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setNotRule(anyOf(earlier)).build();
    if (authz.allow().isEmpty()) {
      rules.putPolicies("default", io.envoyproxy.envoy.config.rbac.v3.Policy.newBuilder().addPermissions(rest)
          .addPrincipals(io.envoyproxy.envoy.config.rbac.v3.Principal.newBuilder().setAny(true)).build());
    } else if (!authz.allow().get().isEmpty()) {
      rules.putPolicies("default", policy(rest, authz.allow().get()));
    }
    return HttpFilter.newBuilder().setName(WireNames.RBAC_FILTER).setTypedConfig(Any.pack(
        io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.newBuilder().setRules(rules).build())).build();
  }

  static io.envoyproxy.envoy.config.rbac.v3.Policy policy(
      io.envoyproxy.envoy.config.rbac.v3.Permission permission, List<String> allow) {
    io.envoyproxy.envoy.config.rbac.v3.Policy.Builder policy = io.envoyproxy.envoy.config.rbac.v3.Policy.newBuilder()
        .addPermissions(permission);
    for (String id : allow) {
      policy.addPrincipals(io.envoyproxy.envoy.config.rbac.v3.Principal.newBuilder().setAuthenticated(
          io.envoyproxy.envoy.config.rbac.v3.Principal.Authenticated.newBuilder()
              .setPrincipalName(StringMatcher.newBuilder().setExact(id))));
    }
    return policy.build();
  }

  /** A rule's path (exact or prefix) and, if it names any, one of its HTTP methods. */
  static io.envoyproxy.envoy.config.rbac.v3.Permission ruleMatch(
      io.meshlet.controlplane.intent.AuthorizationSpec.Rule rule) {
    StringMatcher.Builder path = StringMatcher.newBuilder();
    if (rule.prefix()) {
      path.setPrefix(rule.path());
    } else {
      path.setExact(rule.path());
    }
    io.envoyproxy.envoy.config.rbac.v3.Permission byPath = io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder()
        .setUrlPath(io.envoyproxy.envoy.type.matcher.v3.PathMatcher.newBuilder().setPath(path)).build();
    if (rule.methods().isEmpty()) {
      return byPath;
    }
    List<io.envoyproxy.envoy.config.rbac.v3.Permission> methods = new ArrayList<>();
    for (String m : rule.methods()) {
      // exact_match, not string_match: C-core before 1.56 refuses a string_match header in RBAC.
      methods.add(io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setHeader(
          io.envoyproxy.envoy.config.route.v3.HeaderMatcher.newBuilder().setName(":method")
              .setExactMatch(m)).build());
    }
    return io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setAndRules(
        io.envoyproxy.envoy.config.rbac.v3.Permission.Set.newBuilder().addRules(byPath).addRules(anyOf(methods)))
        .build();
  }

  static io.envoyproxy.envoy.config.rbac.v3.Permission anyOf(
      List<io.envoyproxy.envoy.config.rbac.v3.Permission> permissions) {
    return permissions.size() == 1 ? permissions.get(0) : io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder()
        .setOrRules(io.envoyproxy.envoy.config.rbac.v3.Permission.Set.newBuilder().addAllRules(permissions)).build();
  }

  static io.envoyproxy.envoy.config.rbac.v3.Permission andNot(
      io.envoyproxy.envoy.config.rbac.v3.Permission match, List<io.envoyproxy.envoy.config.rbac.v3.Permission> earlier) {
    if (earlier.isEmpty()) {
      return match;
    }
    return io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setAndRules(
        io.envoyproxy.envoy.config.rbac.v3.Permission.Set.newBuilder().addRules(match)
            .addRules(io.envoyproxy.envoy.config.rbac.v3.Permission.newBuilder().setNotRule(anyOf(earlier))))
        .build();
  }

  static Listener listener(ServiceSpec service) {
    HttpConnectionManager.Builder hcm = HttpConnectionManager.newBuilder()
        .setStatPrefix(service.name())
        .setRds(Rds.newBuilder().setRouteConfigName(service.name()).setConfigSource(XdsTranslator.ads()));
    boolean faults = service.routes().stream().anyMatch(r -> r.faults().isPresent());
    boolean rateLimits = service.routes().stream().anyMatch(r -> r.rateLimit().isPresent());
    if (faults) {
      hcm.addHttpFilters(HttpFilter.newBuilder().setName(WireNames.FAULT_FILTER)
          .setTypedConfig(Any.pack(HTTPFault.getDefaultInstance())));
    }
    if (rateLimits) {
      // grpc-java has no local rate limit filter: optional, so it skips it instead of NACKing.
      // Meshlet's own clients enforce it.
      hcm.addHttpFilters(HttpFilter.newBuilder().setName(WireNames.RATE_LIMIT_FILTER).setIsOptional(true)
          .setTypedConfig(Any.pack(LocalRateLimit.newBuilder().setStatPrefix(service.name()).build())));
    }
    hcm.addHttpFilters(HttpFilter.newBuilder().setName(WireNames.ROUTER_FILTER)
        .setTypedConfig(Any.pack(Router.getDefaultInstance())));
    return Listener.newBuilder()
        .setName(service.name())
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(hcm.build())))
        .build();
  }
}
