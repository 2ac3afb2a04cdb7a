package io.meshlet.controlplane.internal.serving;

import static io.meshlet.controlplane.internal.serving.AdsService.CLUSTER;
import static io.meshlet.controlplane.internal.serving.AdsService.ENDPOINTS;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.rpc.Status;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.meshlet.controlplane.testing.Await;
import io.meshlet.controlplane.testing.RawAdsClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The ADS server follows Envoy's xDS protocol document, case by case, on raw streams over
 * loopback: state of the world and delta; subscribe, unsubscribe, resubscribe at an unchanged
 * version, NACK of the first response and of an update, stale nonces, wildcard with names,
 * reconnects that name what they have, removal.
 *
 * <p>Each case asserts the exact responses on the wire, and their absence without sleeping: a
 * <em>barrier</em> request for a resource of another type is answered in order on the same
 * stream, after anything the steps before it caused; so if the next response is the barrier's,
 * nothing else was sent.
 */
class AdsConformanceTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  /** A type only the barrier uses; its resources are named barrier-1, barrier-2, ... */
  private static final String BARRIER = "type.googleapis.com/meshlet.test.Barrier";

  private final Map<String, Integer> clusters = new TreeMap<>();
  private AdsService ads;
  private Server server;
  private RawAdsClient raw;

  @BeforeEach
  void start() throws IOException {
    ads = new AdsService(new AdsStreamListener() {});
    clusters.putAll(Map.of("a", 1, "b", 1, "c", 1));
    publish();
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(ads).build().start();
    raw = new RawAdsClient(server.getPort());
  }

  @AfterEach
  void stop() throws InterruptedException {
    raw.close();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  // --- state of the world -------------------------------------------------------------------------

  @Test
  void sotwNamedSubscriptionGetsExactlyTheNamedResourcesAndAnAckGetsNothing() {
    try (Sotw s = sotw()) {
      DiscoveryResponse r = s.request(CLUSTER, "", "", "a", "b");
      assertThat(names(r)).containsExactly("a", "b");
      assertThat(r.getVersionInfo()).isEqualTo(typeVersion(CLUSTER));
      s.ack(r, "a", "b");
      s.barrier();
    }
  }

  @Test
  void sotwCanaryRollbackResendsAClusterDroppedAndAskedForAgainAtAnUnchangedVersion() {
    // java-control-plane#339: the version did not change, so SimpleCache never sent 'b' again.
    try (Sotw s = sotw()) {
      DiscoveryResponse r = s.request(CLUSTER, "", "", "a", "b");
      assertThat(names(r)).containsExactly("a", "b");
      DiscoveryResponse dropped = s.ackAndExpect(r, "a");
      assertThat(names(dropped)).as("clusters are full state: the response without b").containsExactly("a");
      assertThat(dropped.getVersionInfo()).isEqualTo(r.getVersionInfo());
      DiscoveryResponse back = s.ackAndExpect(dropped, "a", "b");
      assertThat(names(back)).containsExactly("a", "b");
      assertThat(back.getVersionInfo()).isEqualTo(r.getVersionInfo());
      s.ack(back, "a", "b");
      s.barrier();
    }
  }

  @Test
  void sotwEndpointsResubscribedAtAnUnchangedVersionAreSentAgain() {
    try (Sotw s = sotw()) {
      DiscoveryResponse r = s.request(ENDPOINTS, "", "", "a");
      assertThat(names(r)).containsExactly("a");
      DiscoveryResponse more = s.ackAndExpect(r, "a", "b");
      assertThat(names(more)).containsExactly("a", "b");
      DiscoveryResponse fewer = s.ackAndExpect(more, "b");
      assertThat(names(fewer)).containsExactly("b");
      DiscoveryResponse again = s.ackAndExpect(fewer, "a", "b");
      assertThat(names(again)).containsExactly("a", "b");
    }
  }

  @Test
  void sotwNackOfTheFirstResponseIsNotAnsweredUntilTheResourcesChange() {
    try (Sotw s = sotw()) {
      DiscoveryResponse r = s.request(CLUSTER, "", "", "a");
      s.nack(r, "", "a");
      s.barrier();
      s.nack(r, "", "a");     // a client that repeats itself does not start a storm either
      s.barrier();
      clusters.put("a", 2);
      publish();
      DiscoveryResponse next = s.next();
      assertThat(next.getVersionInfo()).isEqualTo(typeVersion(CLUSTER)).isNotEqualTo(r.getVersionInfo());
      assertThat(names(next)).containsExactly("a");
    }
  }

  @Test
  void sotwNackOfAnUpdateKeepsTheClientOnItsVersionAndTheNextChangeIsSent() {
    try (Sotw s = sotw()) {
      DiscoveryResponse v1 = s.request(CLUSTER, "", "", "a", "b");
      s.ack(v1, "a", "b");
      clusters.put("a", 2);
      publish();
      DiscoveryResponse v2 = s.next();
      assertThat(names(v2)).containsExactly("a", "b");
      s.nack(v2, v1.getVersionInfo(), "a", "b");
      s.barrier();
      clusters.put("b", 2);
      publish();
      DiscoveryResponse v3 = s.next();
      assertThat(v3.getVersionInfo()).isNotIn(v1.getVersionInfo(), v2.getVersionInfo());
    }
  }

  @Test
  void sotwUpdatesWaitForTheAnswerToTheResponseBefore() {
    try (Sotw s = sotw()) {
      DiscoveryResponse v1 = s.request(CLUSTER, "", "", "a");
      clusters.put("a", 2);
      publish();
      clusters.put("a", 3);
      publish();
      s.barrier();    // v1 is not answered yet: nothing more of this type goes out
      s.ack(v1, "a");
      DiscoveryResponse latest = s.next();
      assertThat(latest.getVersionInfo()).as("only the newest, not each version in between")
          .isEqualTo(typeVersion(CLUSTER));
      s.ack(latest, "a");
      s.barrier();
    }
  }

  @Test
  void sotwRequestWithAStaleNonceGetsNoResponseButItsSubscriptionCounts() {
    try (Sotw s = sotw()) {
      DiscoveryResponse v1 = s.request(CLUSTER, "", "", "a");
      s.ack(v1, "a");
      clusters.put("a", 2);
      publish();
      DiscoveryResponse v2 = s.next();
      // Sent before the client read v2: it answers v1's nonce and adds b.
      s.send(CLUSTER, v1.getVersionInfo(), v1.getNonce(), "a", "b");
      s.barrier();
      DiscoveryResponse withB = s.ackAndExpect(v2, "a", "b");
      assertThat(names(withB)).containsExactly("a", "b");
    }
  }

  @Test
  void sotwLegacyWildcardGetsEveryClusterAndRemovalsAsAResponseWithoutThem() {
    try (Sotw s = sotw()) {
      DiscoveryResponse r = s.request(CLUSTER, "", "");
      assertThat(names(r)).containsExactly("a", "b", "c");
      s.ack(r);                                     // an empty list later keeps the wildcard
      clusters.remove("b");
      clusters.put("d", 1);
      publish();
      DiscoveryResponse next = s.next();
      assertThat(names(next)).containsExactly("a", "c", "d");
    }
  }

  @Test
  void sotwExplicitWildcardWithNamesGetsEverythingAndNamesAloneLeaveWildcard() {
    try (Sotw s = sotw()) {
      DiscoveryResponse r = s.request(CLUSTER, "", "", "*", "a", "zzz");
      assertThat(names(r)).containsExactly("a", "b", "c");
      DiscoveryResponse named = s.ackAndExpect(r, "a");
      assertThat(names(named)).containsExactly("a");
    }
  }

  @Test
  void sotwEmptyListAfterNamesUnsubscribesEverything() {
    try (Sotw s = sotw()) {
      DiscoveryResponse r = s.request(CLUSTER, "", "", "a");
      DiscoveryResponse none = s.ackAndExpect(r);
      assertThat(names(none)).isEmpty();
      clusters.put("a", 2);
      publish();
      s.ack(none);
      s.barrier();
    }
  }

  @Test
  void sotwNamedResourceThatAppearsLaterIsSent() {
    try (Sotw s = sotw()) {
      s.send(ENDPOINTS, "", "", "z");
      s.barrier();     // endpoints that do not exist: no response (absence says nothing for EDS)
      clusters.put("z", 1);
      publish();
      DiscoveryResponse r = s.next();
      assertThat(names(r)).containsExactly("z");
    }
  }

  @Test
  void sotwNamedClustersThatDoNotExistGetAnEmptyResponse() {
    try (Sotw s = sotw()) {
      DiscoveryResponse r = s.request(CLUSTER, "", "", "nope");
      assertThat(names(r)).as("full-state type: the client learns at once that it does not exist").isEmpty();
    }
  }

  @Test
  void sotwAddingANameThatDoesNotExistIsAnsweredSoTheClientNeedNotWaitOutItsTimer() {
    // An on-demand client (MeshClient, or grpc-java with a new xds:/// target) adds a name: the
    // response selects the same resources, but only a response says 'nope' does not exist.
    try (Sotw s = sotw()) {
      DiscoveryResponse r = s.request(CLUSTER, "", "", "a");
      s.ack(r, "a", "nope");
      DiscoveryResponse again = s.next();
      assertThat(names(again)).containsExactly("a");
      s.ack(again, "a", "nope");
      s.barrier();     // the same subscription ACKed: nothing more
    }
  }

  @Test
  void sotwReconnectWithTheCurrentVersionIsQuietForAWildcardAndAnsweredOnceForNames() {
    try (Sotw s = sotw()) {
      s.send(CLUSTER, typeVersion(CLUSTER), "");
      s.barrier();
    }
    try (Sotw s = sotw()) {
      DiscoveryResponse r = s.request(CLUSTER, typeVersion(CLUSTER), "", "a");
      assertThat(names(r)).containsExactly("a");
      s.ack(r, "a");
      s.barrier();
    }
    try (Sotw s = sotw()) {
      String old = typeVersion(CLUSTER);
      clusters.put("c", 2);
      publish();
      DiscoveryResponse r = s.request(CLUSTER, old, "");
      assertThat(names(r)).as("a reconnect behind the current version").containsExactly("a", "b", "c");
    }
  }

  @Test
  void sotwRequestWithoutTypeUrlEndsTheStreamWithInvalidArgument() {
    try (Sotw s = sotw()) {
      s.stream.send(DiscoveryRequest.newBuilder().setNode(RawAdsClient.node("no-type")).build());
      Await.until("the stream to end", TIMEOUT, () -> s.stream.error() != null);
      assertThat(s.stream.poll(Duration.ZERO)).isNull();
      assertThat(s.stream.error()).hasMessageContaining("INVALID_ARGUMENT").hasMessageContaining("type_url");
    }
  }

  // --- delta --------------------------------------------------------------------------------------

  @Test
  void deltaNamedSubscriptionGetsOnlyTheNamedResourcesEachWithItsVersion() {
    try (Delta d = delta()) {
      DeltaDiscoveryResponse r = d.subscribe(CLUSTER, "a", "b");
      assertThat(byName(r)).containsOnlyKeys("a", "b");
      assertThat(byName(r).get("a").getVersion()).isNotEmpty();
      assertThat(r.getRemovedResourcesList()).isEmpty();
      d.ack(r);
      d.barrier();
    }
  }

  @Test
  void deltaUpdateCarriesOnlyTheChangedResources() {
    try (Delta d = delta()) {
      DeltaDiscoveryResponse r = d.subscribe(CLUSTER, "a", "b");
      d.ack(r);
      clusters.put("b", 2);
      publish();
      DeltaDiscoveryResponse update = d.next();
      assertThat(byName(update)).containsOnlyKeys("b");
      assertThat(byName(update).get("b").getVersion()).isNotEqualTo(byName(r).get("b").getVersion());
    }
  }

  @Test
  void deltaEditsInARowEachCarryOnlyTheirOwnChangeAndARemoval() {
    try (Delta d = delta()) {
      d.ack(d.subscribe(CLUSTER, "a", "b"));
      clusters.put("a", 2);
      publish();
      DeltaDiscoveryResponse first = d.next();
      assertThat(byName(first)).containsOnlyKeys("a");
      d.ack(first);
      clusters.put("b", 2);
      clusters.put("d", 1);       // not subscribed: not sent
      publish();
      DeltaDiscoveryResponse second = d.next();
      assertThat(byName(second)).containsOnlyKeys("b");
      d.ack(second);
      clusters.remove("a");
      publish();
      DeltaDiscoveryResponse third = d.next();
      assertThat(third.getResourcesList()).isEmpty();
      assertThat(third.getRemovedResourcesList()).containsExactly("a");
      d.ack(third);
      d.barrier();
    }
  }

  @Test
  void deltaChangesPublishedWhileAResponseIsUnansweredComeInOneResponseAfterTheAnswer() {
    try (Delta d = delta()) {
      DeltaDiscoveryResponse r = d.subscribe(CLUSTER, "a", "b", "c");
      clusters.put("a", 2);
      publish();
      clusters.put("b", 2);
      publish();
      d.barrier();                // nothing while the first response is unanswered
      d.ack(r);
      DeltaDiscoveryResponse both = d.next();
      assertThat(byName(both)).containsOnlyKeys("a", "b");
      assertThat(both.getSystemVersionInfo()).isEqualTo(typeVersion(CLUSTER));
    }
  }

  @Test
  void sotwStreamsWithTheSameSubscriptionGetTheSameResourcesEachWithItsOwnNonce() {
    try (Sotw one = sotw(); Sotw two = sotw()) {
      DiscoveryResponse a = one.request(CLUSTER, "", "", "a", "c");
      DiscoveryResponse b = two.request(CLUSTER, "", "", "a", "c");
      assertThat(names(a)).containsExactly("a", "c");
      assertThat(b.getResourcesList()).isEqualTo(a.getResourcesList());
      assertThat(b.getVersionInfo()).isEqualTo(a.getVersionInfo()).isEqualTo(typeVersion(CLUSTER));
      assertThat(a.getNonce()).isNotEmpty();
      assertThat(b.getNonce()).isNotEmpty();
      one.ack(a, "a", "c");
      one.barrier();
    }
  }

  @Test
  void deltaUnsubscribeIsQuietAndResubscribeAtAnUnchangedVersionSendsItAgain() {
    try (Delta d = delta()) {
      DeltaDiscoveryResponse r = d.subscribe(CLUSTER, "a", "b");
      d.ack(r);
      d.stream.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(CLUSTER).addResourceNamesUnsubscribe("b").build());
      d.barrier();
      DeltaDiscoveryResponse back = d.subscribe(CLUSTER, "b");
      assertThat(byName(back)).containsOnlyKeys("b");
    }
  }

  @Test
  void deltaNackOfTheFirstResponseIsNotAnsweredUntilTheResourceChanges() {
    try (Delta d = delta()) {
      DeltaDiscoveryResponse r = d.subscribe(CLUSTER, "a");
      d.nack(r);
      d.barrier();
      clusters.put("c", 2);        // not subscribed: still nothing
      publish();
      d.barrier();
      clusters.put("a", 2);
      publish();
      assertThat(byName(d.next())).containsOnlyKeys("a");
    }
  }

  @Test
  void deltaRemovalAndSubscriptionsToMissingNamesAreSaidInRemovedResources() {
    try (Delta d = delta()) {
      DeltaDiscoveryResponse r = d.subscribe(CLUSTER, "a", "b", "nope");
      assertThat(byName(r)).containsOnlyKeys("a", "b");
      assertThat(r.getRemovedResourcesList()).containsExactly("nope");
      d.ack(r);
      clusters.remove("b");
      publish();
      DeltaDiscoveryResponse removal = d.next();
      assertThat(removal.getResourcesList()).isEmpty();
      assertThat(removal.getRemovedResourcesList()).containsExactly("b");
      d.ack(removal);
      clusters.put("b", 1);
      publish();
      assertThat(byName(d.next())).containsOnlyKeys("b");
    }
  }

  @Test
  void deltaReconnectWithInitialResourceVersionsGetsOnlyWhatChanged() {
    Map<String, String> had;
    try (Delta d = delta()) {
      DeltaDiscoveryResponse r = d.subscribe(CLUSTER, "a", "b", "c");
      had = new TreeMap<>();
      byName(r).forEach((name, res) -> had.put(name, res.getVersion()));
    }
    clusters.put("a", 2);
    clusters.remove("c");
    publish();
    try (Delta d = delta()) {
      d.stream.send(DeltaDiscoveryRequest.newBuilder().setNode(RawAdsClient.node("delta-reconnect"))
          .setTypeUrl(CLUSTER).addAllResourceNamesSubscribe(List.of("a", "b", "c"))
          .putAllInitialResourceVersions(had).build());
      DeltaDiscoveryResponse r = d.next();
      assertThat(byName(r)).containsOnlyKeys("a");
      assertThat(r.getRemovedResourcesList()).containsExactly("c");
      d.ack(r);
      d.barrier();
    }
  }

  @Test
  void deltaLegacyWildcardGetsEverythingAndNewResources() {
    try (Delta d = delta()) {
      d.stream.send(DeltaDiscoveryRequest.newBuilder().setNode(RawAdsClient.node("delta-wildcard"))
          .setTypeUrl(CLUSTER).build());
      DeltaDiscoveryResponse r = d.next();
      assertThat(byName(r)).containsOnlyKeys("a", "b", "c");
      d.ack(r);
      clusters.put("d", 1);
      publish();
      assertThat(byName(d.next())).containsOnlyKeys("d");
    }
  }

  @Test
  void deltaSubscriptionInARequestWithAStaleNonceIsStillTaken() {
    try (Delta d = delta()) {
      DeltaDiscoveryResponse r1 = d.subscribe(CLUSTER, "a");
      d.ack(r1);
      clusters.put("a", 2);
      publish();
      DeltaDiscoveryResponse r2 = d.next();
      d.stream.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(CLUSTER).setResponseNonce(r1.getNonce())
          .addResourceNamesSubscribe("b").build());
      d.barrier();    // r2 is not answered yet
      d.ack(r2);
      assertThat(byName(d.next())).containsOnlyKeys("b");
    }
  }

  // --- harness ------------------------------------------------------------------------------------

  private void publish() {
    List<Cluster> cs = new ArrayList<>();
    List<ClusterLoadAssignment> eps = new ArrayList<>();
    clusters.forEach((name, generation) -> {
      cs.add(Cluster.newBuilder().setName(name).setAltStatName(name + "-" + generation).build());
      eps.add(ClusterLoadAssignment.newBuilder().setClusterName(name)
          .addEndpoints(LocalityLbEndpoints.newBuilder().setPriority(generation)).build());
    });
    List<Cluster> barriers = new ArrayList<>();
    for (int i = 1; i <= 50; i++) {
      barriers.add(Cluster.newBuilder().setName("barrier-" + i).build());
    }
    ads.publish(ResourceSnapshot.builder()
        .add(CLUSTER, "c" + clusters, cs, Cluster::getName)
        .add(ENDPOINTS, "e" + clusters, eps, ClusterLoadAssignment::getClusterName)
        .add(BARRIER, "barriers", barriers, Cluster::getName)
        .build());
  }

  private String typeVersion(String typeUrl) {
    return ads.snapshot().type(typeUrl).version();
  }

  private Sotw sotw() {
    return new Sotw(raw.sotw());
  }

  private Delta delta() {
    return new Delta(raw.delta());
  }

  private static List<String> names(DiscoveryResponse r) {
    List<String> out = new ArrayList<>();
    for (Any any : r.getResourcesList()) {
      out.add(name(any));
    }
    return out;
  }

  private static String name(Any any) {
    try {
      Message m = any.is(Cluster.class) ? any.unpack(Cluster.class) : any.unpack(ClusterLoadAssignment.class);
      return m instanceof Cluster c ? c.getName() : ((ClusterLoadAssignment) m).getClusterName();
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }

  private static Map<String, Resource> byName(DeltaDiscoveryResponse r) {
    Map<String, Resource> out = new LinkedHashMap<>();
    for (Resource res : r.getResourcesList()) {
      assertThat(out.put(res.getName(), res)).as("%s sent twice", res.getName()).isNull();
    }
    return out;
  }

  /** A state-of-the-world stream with the test's vocabulary. */
  private static final class Sotw implements AutoCloseable {
    final RawAdsClient.Stream<DiscoveryRequest, DiscoveryResponse> stream;
    int barriers;
    String barrierNonce = "";
    boolean first = true;

    Sotw(RawAdsClient.Stream<DiscoveryRequest, DiscoveryResponse> stream) {
      this.stream = stream;
    }

    void send(String type, String version, String nonce, String... names) {
      DiscoveryRequest.Builder b = DiscoveryRequest.newBuilder().setTypeUrl(type).setVersionInfo(version)
          .setResponseNonce(nonce).addAllResourceNames(Arrays.asList(names));
      if (first) {
        b.setNode(RawAdsClient.node("conformance"));
        first = false;
      }
      stream.send(b.build());
    }

    DiscoveryResponse request(String type, String version, String nonce, String... names) {
      send(type, version, nonce, names);
      DiscoveryResponse r = next();
      assertThat(r.getTypeUrl()).isEqualTo(type);
      return r;
    }

    void ack(DiscoveryResponse r, String... names) {
      send(r.getTypeUrl(), r.getVersionInfo(), r.getNonce(), names);
    }

    DiscoveryResponse ackAndExpect(DiscoveryResponse r, String... names) {
      ack(r, names);
      DiscoveryResponse next = next();
      assertThat(next.getTypeUrl()).isEqualTo(r.getTypeUrl());
      return next;
    }

    void nack(DiscoveryResponse r, String lastGood, String... names) {
      stream.send(DiscoveryRequest.newBuilder().setTypeUrl(r.getTypeUrl()).setVersionInfo(lastGood)
          .setResponseNonce(r.getNonce()).addAllResourceNames(Arrays.asList(names))
          .setErrorDetail(Status.newBuilder().setCode(3).setMessage("cannot read it")).build());
    }

    DiscoveryResponse next() {
      DiscoveryResponse r = stream.next(TIMEOUT);
      assertThat(r.getTypeUrl()).as("a response before the barrier's").isNotEqualTo(BARRIER);
      return r;
    }

    /** Proves that nothing was sent since the last response read. */
    void barrier() {
      String name = "barrier-" + (++barriers);
      send(BARRIER, "", barrierNonce, name);
      DiscoveryResponse r = stream.next(TIMEOUT);
      assertThat(r.getTypeUrl()).as("the next response (expected: only the barrier's)").isEqualTo(BARRIER);
      assertThat(names(r)).containsExactly(name);
      barrierNonce = r.getNonce();
    }

    @Override
    public void close() {
      stream.close();
    }
  }

  /** An incremental stream with the test's vocabulary. */
  private static final class Delta implements AutoCloseable {
    final RawAdsClient.Stream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> stream;
    int barriers;
    String barrierNonce = "";
    boolean first = true;

    Delta(RawAdsClient.Stream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> stream) {
      this.stream = stream;
    }

    DeltaDiscoveryResponse subscribe(String type, String... names) {
      DeltaDiscoveryRequest.Builder b = DeltaDiscoveryRequest.newBuilder().setTypeUrl(type)
          .addAllResourceNamesSubscribe(Arrays.asList(names));
      if (first) {
        b.setNode(RawAdsClient.node("conformance-delta"));
        first = false;
      }
      stream.send(b.build());
      DeltaDiscoveryResponse r = next();
      assertThat(r.getTypeUrl()).isEqualTo(type);
      return r;
    }

    void ack(DeltaDiscoveryResponse r) {
      stream.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(r.getTypeUrl()).setResponseNonce(r.getNonce()).build());
    }

    void nack(DeltaDiscoveryResponse r) {
      stream.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(r.getTypeUrl()).setResponseNonce(r.getNonce())
          .setErrorDetail(Status.newBuilder().setCode(3).setMessage("cannot read it")).build());
    }

    DeltaDiscoveryResponse next() {
      DeltaDiscoveryResponse r = stream.next(TIMEOUT);
      assertThat(r.getTypeUrl()).as("a response before the barrier's").isNotEqualTo(BARRIER);
      return r;
    }

    void barrier() {
      String name = "barrier-" + (++barriers);
      DeltaDiscoveryRequest.Builder b = DeltaDiscoveryRequest.newBuilder().setTypeUrl(BARRIER)
          .setResponseNonce(barrierNonce).addResourceNamesSubscribe(name);
      stream.send(b.build());
      DeltaDiscoveryResponse r = stream.next(TIMEOUT);
      assertThat(r.getTypeUrl()).as("the next response (expected: only the barrier's)").isEqualTo(BARRIER);
      assertThat(byName(r)).containsOnlyKeys(name);
      barrierNonce = r.getNonce();
    }

    @Override
    public void close() {
      stream.close();
    }
  }
}
