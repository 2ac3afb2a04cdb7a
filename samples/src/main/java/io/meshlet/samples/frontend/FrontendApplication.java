package io.meshlet.samples.frontend;

import com.fasterxml.jackson.databind.JsonNode;
import io.grpc.CallOptions;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.meshlet.samples.SampleApps;
import io.meshlet.samples.inventory.InventoryApi;
import io.meshlet.spring.autoconfigure.MeshGrpcChannels;
import io.micrometer.tracing.Span;
import io.micrometer.tracing.Tracer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;
import org.springframework.web.client.RestClientException;

/**
 * The frontend: {@code GET /shop} calls the catalog over HTTP ({@code http://catalog/items},
 * through the starter's mesh-aware {@link RestClient.Builder}) and the inventory over gRPC
 * ({@code xds:///inventory}, through {@link MeshGrpcChannels}), and returns both answers. Which
 * catalog version answers, retries, timeouts, mTLS: all from mesh.yaml, none of it in this code.
 * The answer names the trace the request was served in ({@code traceId}): Micrometer Tracing's
 * OpenTelemetry bridge starts it, Meshlet's client span joins it and carries it to the catalog.
 */
@SpringBootApplication
public class FrontendApplication {

  public static void main(String[] args) {
    SampleApps.run(FrontendApplication.class, "frontend", args);
  }

  @RestController
  static class Shop {

    private final RestClient catalog;
    private final MeshGrpcChannels grpc;
    private final Tracer tracer;

    Shop(RestClient.Builder rest, MeshGrpcChannels grpc, Tracer tracer) {
      this.catalog = rest.baseUrl("http://catalog").build();
      this.grpc = grpc;
      this.tracer = tracer;
    }

    @GetMapping("/shop")
    ResponseEntity<Map<String, Object>> shop(@RequestParam(name = "item", defaultValue = "book") String item) {
      Map<String, Object> body = new LinkedHashMap<>();
      HttpStatus status = HttpStatus.OK;
      Span span = tracer.currentSpan();
      body.put("traceId", span == null ? null : span.context().traceId());
      try {
        body.put("catalog", catalog.get().uri("/items").retrieve().body(JsonNode.class));
      } catch (RestClientException e) {
        body.put("catalogError", e.getMessage());
        status = HttpStatus.BAD_GATEWAY;
      }
      try {
        body.put("inventory", ClientCalls.blockingUnaryCall(grpc.channel("inventory"), InventoryApi.STOCK,
            CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS), item));
      } catch (StatusRuntimeException e) {
        body.put("inventoryError", e.getStatus().toString());
        status = HttpStatus.BAD_GATEWAY;
      }
      return ResponseEntity.status(status).body(body);
    }
  }
}
