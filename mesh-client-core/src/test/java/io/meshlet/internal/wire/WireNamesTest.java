package io.meshlet.internal.wire;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WireNamesTest {

  @Test
  void namesTheResourcesOfAService() {
    assertThat(WireNames.cluster("catalog")).isEqualTo("catalog");
    assertThat(WireNames.cluster("catalog", "v2")).isEqualTo("catalog/v2");
    assertThat(WireNames.inbound("catalog")).isEqualTo("inbound|catalog");
    assertThat(WireNames.inbound("catalog")).startsWith(WireNames.INBOUND_PREFIX);
  }

  @Test
  void theServerListenerIsTheBootstrapTemplateFilledWithTheAddress() {
    assertThat(WireNames.serverListener("[::1]:50051"))
        .isEqualTo("grpc/server?xds.resource.listening_address=[::1]:50051")
        .isEqualTo(String.format(WireNames.SERVER_LISTENER_TEMPLATE, "[::1]:50051"));
  }
}
