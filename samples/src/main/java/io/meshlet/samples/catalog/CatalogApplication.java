package io.meshlet.samples.catalog;

import io.meshlet.inbound.MeshServletFilter;
import io.meshlet.samples.SampleApps;
import io.micrometer.tracing.Span;
import io.micrometer.tracing.Tracer;
import jakarta.servlet.http.HttpServletRequest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.web.embedded.tomcat.TomcatConnectorCustomizer;
import org.springframework.boot.web.embedded.tomcat.TomcatContextCustomizer;
import org.springframework.boot.web.embedded.tomcat.TomcatProtocolHandlerCustomizer;
import org.springframework.boot.web.embedded.tomcat.TomcatServletWebServerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The catalog service over HTTP: {@code GET /items} lists the items and says which version and
 * instance answered and who called. Run as v1 or v2 with {@code --catalog.version=v2}; the
 * instance registers itself in the mesh with the label {@code version} (see {@code catalog.yml}).
 * It runs on Tomcat, Spring Boot's default server, declared here because the samples' jar also
 * holds Jetty for the other apps: with the starter, Tomcat's connector takes only mTLS with the
 * workload's rotating SVID (mesh.yaml's {@code mtls: strict}), and {@code MeshServletFilter} enforces
 * the allow list. It also says which trace it served the call in, so the demo can show one trace id
 * across frontend and catalog.
 */
@SpringBootApplication
public class CatalogApplication {

  public static void main(String[] args) {
    SampleApps.run(CatalogApplication.class, "catalog", args);
  }

  /** Tomcat, with the customizers Boot's own Tomcat configuration would give it. */
  @Bean
  TomcatServletWebServerFactory tomcat(ObjectProvider<TomcatConnectorCustomizer> connectors,
      ObjectProvider<TomcatContextCustomizer> contexts, ObjectProvider<TomcatProtocolHandlerCustomizer<?>> protocols) {
    TomcatServletWebServerFactory factory = new TomcatServletWebServerFactory();
    factory.getTomcatConnectorCustomizers().addAll(connectors.orderedStream().toList());
    factory.getTomcatContextCustomizers().addAll(contexts.orderedStream().toList());
    factory.getTomcatProtocolHandlerCustomizers().addAll(protocols.orderedStream().toList());
    return factory;
  }

  @RestController
  static class Items {

    private final String version;
    private final Tracer tracer;

    Items(@Value("${catalog.version}") String version, Tracer tracer) {
      this.version = version;
      this.tracer = tracer;
    }

    @GetMapping("/items")
    Map<String, Object> items(HttpServletRequest request) {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("version", version);
      body.put("port", request.getLocalPort());
      body.put("caller", request.getAttribute(MeshServletFilter.CALLER_ATTRIBUTE));   // null for plaintext
      Span span = tracer.currentSpan();
      body.put("traceId", span == null ? null : span.context().traceId());
      body.put("items", "v1".equals(version)
          ? List.of(Map.of("id", "book", "price", 12), Map.of("id", "lamp", "price", 30))
          : List.of(Map.of("id", "book", "price", 12, "rating", 4.5), Map.of("id", "lamp", "price", 28, "rating", 4.1)));
      return body;
    }
  }
}
