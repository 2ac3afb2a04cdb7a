package io.meshlet.samples.catalog;

import io.meshlet.inbound.MeshJetty;
import io.meshlet.samples.SampleApps;
import jakarta.servlet.http.HttpServletRequest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The catalog service over HTTP: {@code GET /items} lists the items and says which version and
 * instance answered and who called. Run as v1 or v2 with {@code --catalog.version=v2}; the
 * instance registers itself in the mesh with the label {@code version} (see {@code catalog.yml}).
 * Jetty with the starter gives it mTLS and the allow list of mesh.yaml.
 */
@SpringBootApplication
public class CatalogApplication {

  public static void main(String[] args) {
    SampleApps.run(CatalogApplication.class, "catalog", args);
  }

  @RestController
  static class Items {

    private final String version;

    Items(@Value("${catalog.version}") String version) {
      this.version = version;
    }

    @GetMapping("/items")
    Map<String, Object> items(HttpServletRequest request) {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("version", version);
      body.put("port", request.getLocalPort());
      body.put("caller", request.getAttribute(MeshJetty.CALLER_ATTRIBUTE));   // null for plaintext
      body.put("items", "v1".equals(version)
          ? List.of(Map.of("id", "book", "price", 12), Map.of("id", "lamp", "price", 30))
          : List.of(Map.of("id", "book", "price", 12, "rating", 4.5), Map.of("id", "lamp", "price", 28, "rating", 4.1)));
      return body;
    }
  }
}
