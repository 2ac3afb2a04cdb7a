package io.meshlet.controlplane.internal.serving;

import static io.meshlet.controlplane.internal.serving.AdsService.CLUSTER;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.protobuf.ProtoUtils;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** What serving shares between streams: selections, their serialized responses, and the diff per publish. */
class ResourceSnapshotTest {

  private static ResourceSnapshot snapshot(Map<String, Integer> clusters) {
    List<Cluster> cs = clusters.entrySet().stream()
        .map(e -> Cluster.newBuilder().setName(e.getKey()).setAltStatName(e.getKey() + "-" + e.getValue()).build())
        .toList();
    return ResourceSnapshot.builder().add(CLUSTER, "v" + clusters.hashCode(), cs, Cluster::getName).build();
  }

  @Test
  void equalSubscriptionsShareOneSelectionAndOneSerializedResponse() {
    ResourceSnapshot.TypeResources t = snapshot(Map.of("a", 1, "b", 1, "c", 1)).type(CLUSTER);
    ResourceSnapshot.Selection one = t.select(new TreeSet<>(List.of("a", "c", "x")));
    ResourceSnapshot.Selection two = t.select(new TreeSet<>(List.of("c", "a", "x")));
    assertThat(two).isSameAs(one);
    assertThat(two.sotwBody()).isSameAs(one.sotwBody());
    assertThat(one.entries()).extracting(ResourceSnapshot.Entry::name).containsExactly("a", "c");
  }

  @Test
  void aPreparedResponseReadsAsTheMessageWithItsNonce() throws Exception {
    ResourceSnapshot.TypeResources t = snapshot(Map.of("a", 1, "b", 2)).type(CLUSTER);
    ResourceSnapshot.Selection all = t.all();
    DiscoveryResponse.Builder expected = DiscoveryResponse.newBuilder().setTypeUrl(CLUSTER)
        .setVersionInfo(t.version()).setNonce("12345");
    for (ResourceSnapshot.Entry e : all.entries()) {
      expected.addResources(e.any());
    }
    AdsService.PreparedResponse p = new AdsService.PreparedResponse(CLUSTER, t.version(), "12345", all.sotwBody());
    assertThat(p.toMessage()).isEqualTo(expected.build());
    assertThat(p.toMessage().getResourcesList()).extracting(Any::getTypeUrl).containsOnly(CLUSTER);
    // and through the marshaller's stream, as gRPC reads it
    try (var in = new AdsService.PreparedResponses<>(ProtoUtils.marshaller(DiscoveryResponse.getDefaultInstance()))
        .stream(p)) {
      assertThat(DiscoveryResponse.parseFrom(in)).isEqualTo(expected.build());
    }
  }

  @Test
  void aPreparedDeltaResponseReadsAsTheMessageWithItsNonceAndEqualContentIsSerializedOnce() throws Exception {
    ResourceSnapshot.TypeResources t = snapshot(Map.of("a", 1, "b", 2)).type(CLUSTER);
    List<ResourceSnapshot.Entry> sent = List.of(t.byName().get("b"), t.byName().get("a"));
    byte[] body = t.deltaBody(sent, List.of("gone", "x"));
    DeltaDiscoveryResponse expected = DeltaDiscoveryResponse.newBuilder().setTypeUrl(CLUSTER)
        .setSystemVersionInfo(t.version()).addResources(sent.get(0).delta()).addResources(sent.get(1).delta())
        .addRemovedResources("gone").addRemovedResources("x").setNonce("7").build();
    AdsService.PreparedResponse p = new AdsService.PreparedResponse(CLUSTER, t.version(), "7", body);
    assertThat(p.toDeltaMessage()).isEqualTo(expected);
    try (var in = new AdsService.PreparedResponses<>(
        ProtoUtils.marshaller(DeltaDiscoveryResponse.getDefaultInstance())).stream(p)) {
      assertThat(DeltaDiscoveryResponse.parseFrom(in)).isEqualTo(expected);
    }
    // the same content (another list with the same entries) is the same bytes; other content is not
    assertThat(t.deltaBody(new java.util.ArrayList<>(sent), List.of("gone", "x"))).isSameAs(body);
    assertThat(t.deltaBody(sent, List.of("gone"))).isNotSameAs(body);
    assertThat(t.deltaBody(List.of(sent.get(0)), List.of("gone", "x"))).isNotSameAs(body);
  }

  @Test
  void aPublishedSnapshotKnowsWhatChangedSinceTheOneBefore() {
    ResourceSnapshot before = snapshot(Map.of("a", 1, "b", 1, "c", 1));
    ResourceSnapshot after = snapshot(Map.of("a", 1, "b", 2, "d", 1));
    after.diffAgainst(before);
    ResourceSnapshot.TypeResources t = after.type(CLUSTER);
    assertThat(t.previousSerial()).isEqualTo(before.type(CLUSTER).serial());
    assertThat(t.changed()).containsExactly("b", "d");
    assertThat(t.removed()).containsExactly("c");
  }

  @Test
  void theInternerSharesEqualValuesAndStopsGrowingAtItsBound() {
    Interner<Set<String>> interner = new Interner<>(2);
    Set<String> a = new HashSet<>(Set.of("x", "y"));
    assertThat(interner.intern(a)).isSameAs(a);
    assertThat(interner.intern(new HashSet<>(Set.of("y", "x")))).isSameAs(a);
    interner.intern(Set.of("z"));
    Set<String> past = Set.of("w");
    assertThat(interner.intern(past)).isSameAs(past);
    assertThat(interner.size()).isEqualTo(2);
  }
}
