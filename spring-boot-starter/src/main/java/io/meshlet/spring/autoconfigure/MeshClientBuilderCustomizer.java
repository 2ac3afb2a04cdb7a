package io.meshlet.spring.autoconfigure;

import io.meshlet.MeshClient;

/**
 * Changes the {@link MeshClient.Builder} of the auto-configured {@link MeshClient} after the
 * {@code meshlet.*} properties are applied, e.g. to set reconnect backoff or an
 * {@code OpenTelemetry} instance. Beans of this type are applied in {@code @Order}.
 */
@FunctionalInterface
public interface MeshClientBuilderCustomizer {

  void customize(MeshClient.Builder builder);
}
