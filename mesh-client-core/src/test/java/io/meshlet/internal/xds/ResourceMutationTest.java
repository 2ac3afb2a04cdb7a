package io.meshlet.internal.xds;

import static io.meshlet.internal.xds.XdsFixtures.assignment;
import static io.meshlet.internal.xds.XdsFixtures.circuitBreakers;
import static io.meshlet.internal.xds.XdsFixtures.cluster;
import static io.meshlet.internal.xds.XdsFixtures.listener;
import static io.meshlet.internal.xds.XdsFixtures.millis;
import static io.meshlet.internal.xds.XdsFixtures.outlierDetection;
import static io.meshlet.internal.xds.XdsFixtures.prefix;
import static io.meshlet.internal.xds.XdsFixtures.retryPolicy;
import static io.meshlet.internal.xds.XdsFixtures.route;
import static io.meshlet.internal.xds.XdsFixtures.routeConfiguration;
import static io.meshlet.internal.xds.XdsFixtures.weighted;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.meshlet.internal.xds.ResourceException;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Valid resources of each type, with up to five fields anywhere in them set to random values,
 * cleared, or given extra elements, thousands of times: the parser returns records or refuses
 * with a {@link ResourceException} naming the resource, and never fails any other way. (A refusal
 * is a NACK; {@code AdsClientTest} shows the last good snapshot staying.)
 *
 * <p>Each try has its own seed drawn from one seeded {@link Random}, so a failure names the seed
 * that replays it; {@code -Dmeshlet.mutation.seed=N} explores others.
 */
class ResourceMutationTest {

  static final long SEED = Long.getLong("meshlet.mutation.seed", 2026L);
  static final int TRIES = 4000;

  static final List<String> STRINGS = List.of("", "catalog", "catalog/v9", "/", "(", "[a-", ".*", "x".repeat(300),
      "envoy.filters.http.rbac", "type.googleapis.com/google.protobuf.Empty", "10.0.0.1", "::1", "-1", "\u0000");

  static final List<Message> VALID = List.of(
      listener("catalog"),
      routeConfiguration("catalog", route(prefix("/"), weighted("catalog/v1", 90, "catalog/v2", 10)
          .setTimeout(millis(2000)).setRetryPolicy(retryPolicy("5xx,reset", 3, 500, 25, 250)))),
      cluster("catalog/v1").setCircuitBreakers(circuitBreakers(100, 50, 3))
          .setOutlierDetection(outlierDetection(5, Duration.ofSeconds(10), Duration.ofSeconds(30), 50)).build(),
      assignment("catalog/v1", "10.0.0.1:8080", "10.0.0.2:8080"));

  @Test
  void aMutatedResourceParsesOrIsRefusedByName() {
    Random tries = new Random(SEED);
    int parsed = 0;
    for (int t = 0; t < TRIES; t++) {
      int which = tries.nextInt(VALID.size());
      long seed = tries.nextLong();
      int edits = 1 + tries.nextInt(5);
      try {
        parsed += parsesOrIsRefusedByName(which, seed, edits) ? 1 : 0;
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("try " + t + ": resource " + which + ", seed " + seed + ", " + edits + " edits: "
            + e.getMessage(), e);
      }
    }
    // Otherwise the mutations test nothing (all refused, or all harmless).
    assertThat(parsed).as("mutated resources that still parse, of %d", TRIES).isGreaterThan(TRIES * 5 / 100);
    assertThat(TRIES - parsed).as("mutated resources refused, of %d", TRIES).isGreaterThan(TRIES * 20 / 100);
  }

  /** Returns whether the mutated resource parsed; fails if it was refused in any other way than by name. */
  static boolean parsesOrIsRefusedByName(int which, long seed, int edits) {
    Random random = new Random(seed);
    Message.Builder b = VALID.get(which).toBuilder();
    for (int i = 0; i < edits; i++) {
      mutate(b, random, 0);
    }
    Message m = b.build();
    try {
      if (m instanceof Listener l) {
        ResourceParser.listener(l);
      } else if (m instanceof RouteConfiguration rc) {
        ResourceParser.routeConfiguration("catalog", rc, Set.of(io.meshlet.internal.wire.WireNames.FAULT_FILTER,
            io.meshlet.internal.wire.WireNames.RATE_LIMIT_FILTER));
      } else if (m instanceof Cluster c) {
        ResourceParser.cluster(c);
      } else {
        ResourceParser.endpoints((ClusterLoadAssignment) m);
      }
      return true;
    } catch (ResourceException e) {
      assertThat(e.getMessage()).matches("(?s)(listener|route configuration|cluster|endpoint assignment"
          + ") '.*': .+");
      return false;
    }
  }

  /** Sets, clears or extends one field somewhere in the message tree. */
  static void mutate(Message.Builder b, Random random, int depth) {
    List<FieldDescriptor> fields = b.getDescriptorForType().getFields();
    if (fields.isEmpty()) {
      return;
    }
    FieldDescriptor f = fields.get(random.nextInt(fields.size()));
    // Descend into a set message field most of the time, so edits land deep as well as shallow.
    if (depth < 6 && random.nextInt(3) > 0) {
      List<FieldDescriptor> set = b.getAllFields().keySet().stream()
          .filter(d -> d.getJavaType() == FieldDescriptor.JavaType.MESSAGE).toList();
      if (!set.isEmpty()) {
        FieldDescriptor d = set.get(random.nextInt(set.size()));
        if (d.isRepeated()) {
          int n = b.getRepeatedFieldCount(d);
          if (n > 0) {
            int i = random.nextInt(n);
            Message.Builder child = ((Message) b.getRepeatedField(d, i)).toBuilder();
            mutate(child, random, depth + 1);
            b.setRepeatedField(d, i, child.build());
            return;
          }
        } else {
          Message.Builder child = ((Message) b.getField(d)).toBuilder();
          mutate(child, random, depth + 1);
          b.setField(d, child.build());
          return;
        }
      }
    }
    if (random.nextInt(4) == 0) {
      b.clearField(f);
      return;
    }
    Object value = randomValue(f, b, random);
    if (f.isRepeated()) {
      b.addRepeatedField(f, value);
    } else {
      b.setField(f, value);
    }
  }

  static Object randomValue(FieldDescriptor f, Message.Builder b, Random random) {
    return switch (f.getJavaType()) {
      case INT -> random.nextBoolean() ? random.nextInt() : random.nextInt(200) - 50;
      case LONG -> random.nextBoolean() ? random.nextLong() : (long) random.nextInt(200) - 50;
      case FLOAT -> List.of(Float.NaN, -1f, 0f, 1e30f, 0.5f).get(random.nextInt(5));
      case DOUBLE -> List.of(Double.NaN, Double.POSITIVE_INFINITY, -1d, 0d, 100.5d).get(random.nextInt(5));
      case BOOLEAN -> random.nextBoolean();
      case STRING -> STRINGS.get(random.nextInt(STRINGS.size()));
      case BYTE_STRING -> ByteString.copyFrom(new byte[] {(byte) random.nextInt(), (byte) random.nextInt()});
      case ENUM -> {
        var values = f.getEnumType().getValues();
        yield values.get(random.nextInt(values.size()));
      }
      case MESSAGE -> b.newBuilderForField(f).build();
    };
  }
}
