package io.meshlet.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class MeshGrpcChannelsTest {

  @Test
  void oneChannelPerServiceUntilClosedThenAllShutDown() {
    List<String> targets = new ArrayList<>();
    List<ManagedChannel> made = new ArrayList<>();
    AtomicInteger closed = new AtomicInteger();
    MeshGrpcChannels channels = new MeshGrpcChannels(service -> {
      targets.add(service);
      // A plain channel to a closed port: never used, only counted and shut down.
      ManagedChannel c = Grpc.newChannelBuilder("dns:///127.0.0.1:1", InsecureChannelCredentials.create()).build();
      made.add(c);
      return c;
    }, closed::incrementAndGet);

    ManagedChannel catalog = channels.channel("catalog");
    assertThat(channels.channel("catalog")).isSameAs(catalog);
    assertThat(channels.channel("payments")).isNotSameAs(catalog);
    assertThat(targets).containsExactly("catalog", "payments");

    channels.close();
    assertThat(made).allMatch(ManagedChannel::isTerminated);
    assertThat(closed).hasValue(1);
    assertThatThrownBy(() -> channels.channel("catalog"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("closed: no channel to service 'catalog'");
  }
}
