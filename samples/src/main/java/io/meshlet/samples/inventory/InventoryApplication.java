package io.meshlet.samples.inventory;

import io.grpc.BindableService;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCalls;
import io.meshlet.samples.SampleApps;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;

/**
 * The inventory service over gRPC: the starter serves every {@link BindableService} bean on
 * {@code meshlet.grpc.server-port} through grpc-java's {@code XdsServerBuilder}, with mTLS and the
 * allow list from mesh.yaml, and registers the server as an instance of {@code inventory}
 * (see {@code inventory.yml}).
 */
@SpringBootApplication
public class InventoryApplication {

  public static void main(String[] args) {
    SampleApps.run(InventoryApplication.class, "inventory", args);
  }

  @Bean
  BindableService inventory(@Value("${meshlet.grpc.server-port}") int port) {
    return () -> ServerServiceDefinition.builder(InventoryApi.SERVICE)
        .addMethod(InventoryApi.STOCK, ServerCalls.asyncUnaryCall((item, response) -> {
          response.onNext(item + ": " + (Math.abs(item.hashCode()) % 20 + 1) + " in stock (inventory :" + port + ")");
          response.onCompleted();
        }))
        .build();
  }
}
