package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.MeshClient;
import io.meshlet.config.InboundPolicy;
import io.meshlet.config.InboundPolicy.Grant;
import io.meshlet.config.InboundPolicy.Permission;
import io.meshlet.config.MtlsMode;
import io.meshlet.spring.autoconfigure.MeshletInboundGuard.Server;
import io.meshlet.spring.autoconfigure.MeshletInboundGuard.Verdict;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.beans.factory.support.StaticListableBeanFactory;
import org.springframework.mock.web.MockFilterChain;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

/** The rule {@link MeshletInboundGuard} keeps: what each server can give under each policy. */
class MeshletInboundGuardTest {

  //                                                    name       mtls   plain  authz  identity
  static final Server TOMCAT_UNDER_THE_MESH = new Server("Tomcat", true, false, true, true);
  static final Server TOMCAT_STARTED_PLAINTEXT = new Server("Tomcat", false, true, true, true);
  static final Server TOMCAT_WITHOUT_IDENTITY = new Server("Tomcat", false, true, true, false);
  static final Server TOMCAT_WITHOUT_MESH_CLIENT_HTTP = new Server("Tomcat", false, true, false, true);
  static final Server UNDERTOW_WITHOUT_IDENTITY = new Server("Undertow", false, true, true, false);
  static final Server JETTY_UNDER_THE_MESH = new Server("Jetty", true, true, true, true);
  static final Server JETTY_WITHOUT_IDENTITY = new Server("Jetty", false, true, true, false);
  static final Server JETTY_WITHOUT_MESH_CLIENT_HTTP = new Server("Jetty", false, true, false, true);
  static final Server NETTY_UNDER_THE_MESH = new Server(MeshletInboundGuard.NETTY, true, false, true, true);
  static final Server NETTY_STARTED_PLAINTEXT = new Server(MeshletInboundGuard.NETTY, false, true, true, true);
  static final Server NETTY_WITHOUT_IDENTITY = new Server(MeshletInboundGuard.NETTY, false, true, true, false);
  static final Server REACTIVE_TOMCAT = new Server(MeshletInboundGuard.REACTIVE + " Tomcat", false, true, true, true);

  static final String ESCAPE =
      "or set meshlet.inbound.enabled=false to take responsibility for the inbound policy yourself";

  static InboundPolicy policy(MtlsMode mode, boolean allowList) {
    return new InboundPolicy(mode, allowList
        ? Optional.of(List.of(new Grant(new Permission.Any(), Set.of("spiffe://example.org/service/frontend"), false)))
        : Optional.empty());
  }

  static Stream<Arguments> refusals() {
    return Stream.of(
        Arguments.of(policy(MtlsMode.STRICT, false), TOMCAT_STARTED_PLAINTEXT,
            "meshlet: service 'catalog' asks for mtls strict, but the embedded Tomcat server was started in plaintext,"
                + " as the mode at start-up asked, and cannot change while it serves: restart the service (with"
                + " meshlet.await-config-on-startup=true Tomcat starts with the mode the mesh asks then), " + ESCAPE),
        Arguments.of(policy(MtlsMode.STRICT, false), TOMCAT_WITHOUT_IDENTITY,
            "meshlet: service 'catalog' asks for mtls strict, but this application has no workload identity, so the"
                + " embedded Tomcat server cannot take mTLS: set meshlet.identity.source (ca or files), " + ESCAPE),
        Arguments.of(policy(MtlsMode.PERMISSIVE, true), TOMCAT_UNDER_THE_MESH,
            "meshlet: service 'catalog' asks for mtls permissive, but the embedded Tomcat server cannot take"
                + " plaintext and mTLS on one port: set mtls.mode strict (or off) for the service in the mesh config,"
                + " or use spring-boot-starter-jetty (exclude spring-boot-starter-tomcat) for a permissive rollout, "
                + ESCAPE),
        Arguments.of(policy(MtlsMode.PERMISSIVE, false), TOMCAT_STARTED_PLAINTEXT,
            "meshlet: service 'catalog' asks for mtls permissive, but the embedded Tomcat server cannot take"
                + " plaintext and mTLS on one port: set mtls.mode strict (or off) for the service in the mesh config,"
                + " or use spring-boot-starter-jetty (exclude spring-boot-starter-tomcat) for a permissive rollout, "
                + ESCAPE),
        Arguments.of(policy(MtlsMode.STRICT, false), UNDERTOW_WITHOUT_IDENTITY,
            "meshlet: service 'catalog' asks for mtls strict, but the embedded web server is Undertow, which the"
                + " starter cannot put under the mesh's mTLS: use spring-boot-starter-jetty (exclude"
                + " spring-boot-starter-undertow) or spring-boot-starter-tomcat and set meshlet.identity.source, "
                + ESCAPE),
        Arguments.of(policy(MtlsMode.STRICT, false), JETTY_WITHOUT_IDENTITY,
            "meshlet: service 'catalog' asks for mtls strict, but this application has no workload identity, so the"
                + " embedded Jetty server cannot take mTLS: set meshlet.identity.source (ca or files), " + ESCAPE),
        Arguments.of(policy(MtlsMode.PERMISSIVE, false), JETTY_WITHOUT_MESH_CLIENT_HTTP,
            "meshlet: service 'catalog' asks for mtls permissive, but the embedded Jetty server is not under the"
                + " mesh's mTLS without mesh-client-http: add io.meshlet:mesh-client-http, " + ESCAPE),
        Arguments.of(policy(MtlsMode.PERMISSIVE, true), NETTY_UNDER_THE_MESH,
            "meshlet: service 'catalog' asks for mtls permissive, but the embedded Reactor Netty server cannot take"
                + " plaintext and mTLS on one port: set mtls.mode strict (or off) for the service in the mesh config,"
                + " or serve it with Spring MVC on spring-boot-starter-jetty for a permissive rollout, " + ESCAPE),
        Arguments.of(policy(MtlsMode.STRICT, true), NETTY_WITHOUT_IDENTITY,
            "meshlet: service 'catalog' asks for mtls strict, but this application has no workload identity, so the"
                + " embedded Reactor Netty server cannot take mTLS: set meshlet.identity.source (ca or files), "
                + ESCAPE),
        Arguments.of(policy(MtlsMode.STRICT, false), NETTY_STARTED_PLAINTEXT,
            "meshlet: service 'catalog' asks for mtls strict, but the embedded Reactor Netty server was started in"
                + " plaintext, as the mode at start-up asked, and cannot change while it serves: restart the service"
                + " (with meshlet.await-config-on-startup=true Reactor Netty starts with the mode the mesh asks then), "
                + ESCAPE),
        Arguments.of(policy(MtlsMode.STRICT, false), REACTIVE_TOMCAT,
            "meshlet: service 'catalog' asks for mtls strict, but the embedded web server is reactive (WebFlux)"
                + " Tomcat, which the starter cannot put under the mesh's mTLS: run WebFlux on Reactor Netty"
                + " (spring-boot-starter-webflux's default server: remove spring-boot-starter-tomcat), " + ESCAPE),
        Arguments.of(policy(MtlsMode.OFF, true), TOMCAT_WITHOUT_MESH_CLIENT_HTTP,
            "meshlet: service 'catalog' has an authorization allow list, but nothing enforces it on the embedded"
                + " Tomcat server: add io.meshlet:mesh-client-http (its MeshServletFilter enforces it on any servlet"
                + " container), " + ESCAPE));
  }

  @ParameterizedTest
  @MethodSource("refusals")
  void whenTheMeshAsksForWhatTheServerCannotGiveThenItRefusesNamingWhatToChange(InboundPolicy policy, Server server,
      String message) {
    Verdict v = MeshletInboundGuard.decide("catalog", policy, server);
    assertThat(v.serving()).isFalse();
    assertThat(v.problem() + ": " + v.action()).isEqualTo(message);
  }

  static Stream<Arguments> served() {
    return Stream.of(
        Arguments.of(policy(MtlsMode.STRICT, true), JETTY_UNDER_THE_MESH),
        Arguments.of(policy(MtlsMode.PERMISSIVE, false), JETTY_UNDER_THE_MESH),
        Arguments.of(policy(MtlsMode.STRICT, true), TOMCAT_UNDER_THE_MESH),
        Arguments.of(policy(MtlsMode.OFF, false), TOMCAT_STARTED_PLAINTEXT),
        Arguments.of(policy(MtlsMode.OFF, false), TOMCAT_WITHOUT_MESH_CLIENT_HTTP),
        Arguments.of(policy(MtlsMode.OFF, false), UNDERTOW_WITHOUT_IDENTITY),
        Arguments.of(policy(MtlsMode.STRICT, true), NETTY_UNDER_THE_MESH),
        Arguments.of(policy(MtlsMode.OFF, false), NETTY_STARTED_PLAINTEXT),
        Arguments.of(policy(MtlsMode.OFF, false), REACTIVE_TOMCAT),
        Arguments.of(InboundPolicy.open(), JETTY_WITHOUT_IDENTITY),
        // Rules that open every request to anyone restrict nobody: nothing to enforce.
        Arguments.of(new InboundPolicy(MtlsMode.OFF, Optional.of(List.of(
            new Grant(new Permission.Any(), Set.of(), true)))), TOMCAT_WITHOUT_MESH_CLIENT_HTTP));
  }

  @ParameterizedTest
  @MethodSource("served")
  void whenTheServerCanGiveWhatTheMeshAsksThenItServes(InboundPolicy policy, Server server) {
    assertThat(MeshletInboundGuard.decide("catalog", policy, server)).isEqualTo(Verdict.serve(null));
  }

  @Test
  void whenTheMeshTurnsMtlsOffUnderATomcatStartedWithMtlsThenItServesWithAWarningToRestart() {
    Verdict v = MeshletInboundGuard.decide("catalog", policy(MtlsMode.OFF, false), TOMCAT_UNDER_THE_MESH);
    assertThat(v.serving()).isTrue();
    assertThat(v.warning()).isEqualTo("meshlet: service 'catalog' has mtls.mode off, but the embedded Tomcat server"
        + " was started under strict mTLS and cannot change while it serves: callers without a certificate cannot"
        + " connect until the service is restarted");
  }

  @Test
  void anAllowListWithoutMtlsIsServedWithAWarningThatCallersCannotBeIdentified() {
    Verdict v = MeshletInboundGuard.decide("catalog", policy(MtlsMode.OFF, true), TOMCAT_STARTED_PLAINTEXT);
    assertThat(v.serving()).isTrue();
    assertThat(v.warning()).isEqualTo("meshlet: service 'catalog' has an authorization allow list while mtls.mode"
        + " is off: callers present no certificate, so only requests its rules open to anyone are served and the"
        + " others get 403 (set mtls.mode permissive or strict so that callers can be identified)");
  }

  @Test
  void beforeTheFirstConfigEveryRequestGets503() throws Exception {
    try (MeshClient mesh = MeshClient.builder().serviceName("catalog").controlServers("127.0.0.1:1").xdsPlaintext()
        .build()) {
      StaticListableBeanFactory beans = new StaticListableBeanFactory();
      beans.addBean("mesh", mesh);
      MeshletInboundGuard guard = new MeshletInboundGuard("catalog", beans.getBeanProvider(MeshClient.class),
          () -> TOMCAT_STARTED_PLAINTEXT, Duration.ofSeconds(1), false);
      guard.start();   // no config: start-up goes on, requests are turned away

      MockHttpServletResponse response = new MockHttpServletResponse();
      MockFilterChain chain = new MockFilterChain();
      guard.filter().doFilter(new MockHttpServletRequest("GET", "/items"), response, chain);

      assertThat(response.getStatus()).isEqualTo(503);
      assertThat(response.getContentAsString()).isEqualTo("meshlet: service 'catalog' has no mesh config yet, so its"
          + " inbound policy (mtls.mode, authorization) is not known: not serving until the first config arrives;"
          + " set meshlet.await-config-on-startup=true to start listening only once it is here\n");
      assertThat(chain.getRequest()).isNull();
      guard.stop();
    }
  }

  @Test
  void onWebFluxBeforeTheFirstConfigEveryRequestGets503() throws Exception {
    try (MeshClient mesh = MeshClient.builder().serviceName("catalog").controlServers("127.0.0.1:1").xdsPlaintext()
        .build()) {
      StaticListableBeanFactory beans = new StaticListableBeanFactory();
      beans.addBean("mesh", mesh);
      MeshletInboundGuard guard = new MeshletInboundGuard("catalog", beans.getBeanProvider(MeshClient.class),
          () -> NETTY_STARTED_PLAINTEXT, Duration.ofSeconds(1), false);
      guard.start();

      org.springframework.mock.web.server.MockServerWebExchange exchange =
          org.springframework.mock.web.server.MockServerWebExchange.from(
              org.springframework.mock.http.server.reactive.MockServerHttpRequest.get("/items"));
      boolean[] passed = {false};
      new MeshletInboundGate(guard).filter(exchange, e -> {
        passed[0] = true;
        return reactor.core.publisher.Mono.empty();
      }).block(Duration.ofSeconds(5));

      assertThat(exchange.getResponse().getStatusCode().value()).isEqualTo(503);
      assertThat(exchange.getResponse().getBodyAsString().block(Duration.ofSeconds(5))).startsWith(
          "meshlet: service 'catalog' has no mesh config yet");
      assertThat(passed[0]).isFalse();
      guard.stop();
    }
  }
}
