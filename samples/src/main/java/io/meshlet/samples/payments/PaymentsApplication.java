package io.meshlet.samples.payments;

import io.meshlet.samples.SampleApps;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;
import org.springframework.web.client.RestClientException;

/**
 * A service that is in the mesh (it has its own identity, {@code spiffe://example.org/service/payments})
 * but is not allowed to call the catalog: {@code GET /peek} tries {@code http://catalog/items} and
 * reports what came back, which mesh.yaml's {@code authorization} on the catalog makes a 403.
 */
@SpringBootApplication
public class PaymentsApplication {

  public static void main(String[] args) {
    SampleApps.run(PaymentsApplication.class, "payments", args);
  }

  @RestController
  static class Peek {

    private final RestClient catalog;

    Peek(RestClient.Builder rest) {
      this.catalog = rest.baseUrl("http://catalog").build();
    }

    @GetMapping("/peek")
    Map<String, Object> peek() {
      Map<String, Object> result = new LinkedHashMap<>();
      try {
        catalog.get().uri("/items").exchange((request, response) -> {
          result.put("status", response.getStatusCode().value());
          result.put("denied", response.getHeaders().getFirst("x-meshlet-denied"));
          result.put("body", new String(response.getBody().readAllBytes(), StandardCharsets.UTF_8));
          return null;
        });
      } catch (RestClientException e) {
        result.put("error", e.getMessage());
      }
      return result;
    }
  }
}
