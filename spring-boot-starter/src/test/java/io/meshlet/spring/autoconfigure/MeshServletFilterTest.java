package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.MeshClient;
import io.meshlet.controlplane.internal.ca.CertificateAuthority;
import io.meshlet.identity.CertificateRequests;
import io.meshlet.okhttp.MeshServletFilter;
import jakarta.servlet.http.HttpServletRequest;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.springframework.mock.web.MockFilterChain;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

/**
 * {@link MeshServletFilter} on a servlet request as a container hands it over: the caller from the
 * TLS client certificate attribute, the normalized path handed on, a bad path refused. The mesh
 * client here has no config, so its service is open; MeshletTomcatIT shows refusals under an allow list.
 */
class MeshServletFilterTest {

  static X509Certificate svid(String service) throws Exception {
    CertificateAuthority ca = CertificateAuthority.create("example.org", Clock.systemUTC());
    return ca.sign(service, CertificateRequests.csr(CertificateRequests.newKeyPair(), service), Duration.ofHours(1));
  }

  static MeshClient openMesh() {
    return MeshClient.builder().serviceName("catalog").controlServers("127.0.0.1:1").xdsPlaintext().build();
  }

  @Test
  void theCallersSpiffeIdComesFromItsClientCertificateAndReachesTheApplication() throws Exception {
    MockHttpServletRequest request = new MockHttpServletRequest("GET", "/items");
    request.setAttribute(MeshServletFilter.CERTIFICATES_ATTRIBUTE, new X509Certificate[] {svid("frontend")});
    assertThat(MeshServletFilter.caller(request)).contains("spiffe://example.org/service/frontend");

    try (MeshClient mesh = openMesh()) {
      MockFilterChain chain = new MockFilterChain();
      new MeshServletFilter(mesh).doFilter(request, new MockHttpServletResponse(), chain);
      assertThat(chain.getRequest().getAttribute(MeshServletFilter.CALLER_ATTRIBUTE))
          .isEqualTo("spiffe://example.org/service/frontend");
    }
  }

  @Test
  void aCallerWithoutACertificateHasNoSpiffeId() {
    assertThat(MeshServletFilter.caller(new MockHttpServletRequest("GET", "/items"))).isEqualTo(Optional.empty());
  }

  @Test
  void theApplicationSeesTheNormalizedPath() throws Exception {
    MockHttpServletRequest request = new MockHttpServletRequest("GET", "/admin/../%69tems");
    try (MeshClient mesh = openMesh()) {
      MockFilterChain chain = new MockFilterChain();
      new MeshServletFilter(mesh).doFilter(request, new MockHttpServletResponse(), chain);
      HttpServletRequest seen = (HttpServletRequest) chain.getRequest();
      assertThat(seen.getRequestURI()).isEqualTo("/items");
      assertThat(seen.getRequestURL().toString()).isEqualTo("http://localhost/items");
      assertThat(seen.getAttribute(MeshServletFilter.CALLER_ATTRIBUTE)).isNull();
    }
  }

  @Test
  void aPathThatCannotBeNormalizedSafelyGets400() throws Exception {
    try (MeshClient mesh = openMesh()) {
      MockHttpServletResponse response = new MockHttpServletResponse();
      MockFilterChain chain = new MockFilterChain();
      new MeshServletFilter(mesh).doFilter(new MockHttpServletRequest("GET", "/a%2Fb"), response, chain);
      assertThat(response.getStatus()).isEqualTo(400);
      assertThat(response.getContentAsString()).startsWith("bad request path /a%2Fb: an encoded slash");
      assertThat(chain.getRequest()).isNull();
    }
  }
}
