package io.meshlet.controlplane.internal.intent;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.MeshConfigParser;
import io.meshlet.controlplane.internal.metrics.ServerMetrics;
import io.meshlet.controlplane.internal.serving.AdsService;
import io.meshlet.controlplane.internal.serving.AdsStreamListener;
import io.meshlet.controlplane.internal.source.MeshState;
import io.meshlet.controlplane.internal.source.Registrations;
import io.meshlet.controlplane.internal.translate.XdsTranslator;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Thousands of mutations of a valid mesh.yaml (lines dropped, duplicated, re-indented, values
 * replaced, the file cut short, junk inserted): the parser never fails with anything but a
 * {@link MeshConfigException} whose every violation names the file and what was expected; what it
 * accepts translates to consistent resources; and a refused file leaves the served config as it was.
 *
 * <p>The mutations come from a seeded {@link Random}, so a failure names its try and replays the
 * same way; {@code -Dmeshlet.mutation.seed=N} explores other files.
 */
class MeshConfigMutationTest {

  static final String VALID = MeshConfigParserTest.DESIGN_SAMPLE;
  static final long SEED = Long.getLong("meshlet.mutation.seed", 2026L);
  static final int TRIES = 2000;
  static final List<String> KINDS = List.of("drop", "duplicate", "indent", "dedent", "value", "value", "value",
      "cut", "junk");

  static final List<String> VALUES = List.of("-1", "0", "abc", "{}", "[]", "999999999999", "true", "off", "''",
      "1h", "0ms", "spiffe://x", "/", "[ { subset: v9 } ]", "{ a: b }", "~", "null", "\"\\u0000\"", "*anchor",
      "&a [1]", "!!binary AAAA", "\"unterminated", "100%", "1e309", "-0.0", "[[[[[]]]]]", "{ mode: strict }");

  /** One edit of the file, described so a failing case reads well. */
  record Mutation(String kind, int line, int pick) {
    String apply(String text) {
      List<String> lines = new ArrayList<>(List.of(text.split("\n", -1)));
      int i = Math.floorMod(line, lines.size());
      String l = lines.get(i);
      switch (kind) {
        case "drop" -> lines.remove(i);
        case "duplicate" -> lines.add(i, l);
        case "indent" -> lines.set(i, "  " + l);
        case "dedent" -> lines.set(i, l.replaceFirst("^ {1,2}", ""));
        case "value" -> {
          int colon = l.indexOf(':');
          String v = VALUES.get(Math.floorMod(pick, VALUES.size()));
          lines.set(i, colon < 0 ? l + " " + v : l.substring(0, colon + 1) + " " + v);
        }
        case "cut" -> {
          return text.isEmpty() ? text : text.substring(0, Math.floorMod(pick, text.length()));
        }
        case "junk" -> lines.set(i, l.substring(0, Math.floorMod(pick, l.length() + 1)) + "\t:{[&*!|>%@`"
            + l.substring(Math.floorMod(pick, l.length() + 1)));
        default -> throw new IllegalArgumentException(kind);
      }
      return String.join("\n", lines);
    }
  }

  /** One to four edits. */
  static List<Mutation> mutations(Random random) {
    List<Mutation> out = new ArrayList<>();
    for (int i = 1 + random.nextInt(4); i > 0; i--) {
      out.add(new Mutation(KINDS.get(random.nextInt(KINDS.size())), random.nextInt(201), random.nextInt(10_001)));
    }
    return out;
  }

  /** Runs {@code check} on {@code tries} mutated files; a failure names the try and its edits. */
  static void forMutations(int tries, ThrowingCheck check) throws Exception {
    Random random = new Random(SEED);
    for (int t = 0; t < tries; t++) {
      List<Mutation> mutations = mutations(random);
      try {
        check.run(mutations);
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("try " + t + " (seed " + SEED + ") with " + mutations + ": " + e.getMessage(), e);
      }
    }
  }

  interface ThrowingCheck {
    void run(List<Mutation> mutations) throws Exception;
  }

  static String mutate(List<Mutation> mutations) {
    String text = VALID;
    for (Mutation m : mutations) {
      text = m.apply(text);
    }
    return text;
  }

  @Test
  void aMutatedFileIsAcceptedWholeOrRefusedWithReasons() throws Exception {
    int[] accepted = {0};
    forMutations(TRIES, mutations -> accepted[0] += acceptedWholeOrRefusedWithReasons(mutations) ? 1 : 0);
    // Neither outcome may be rare, or the mutations test little.
    assertThat(accepted[0]).as("mutated files accepted, of %d", TRIES).isGreaterThan(TRIES / 100);
    assertThat(TRIES - accepted[0]).as("mutated files refused, of %d", TRIES).isGreaterThan(TRIES / 5);
  }

  /** Returns whether the file was accepted; fails unless it was accepted whole or refused with reasons. */
  static boolean acceptedWholeOrRefusedWithReasons(List<Mutation> mutations) {
    String text = mutate(mutations);
    MeshConfig config;
    try {
      config = MeshConfigParser.parse(text, "mesh.yaml");
    } catch (MeshConfigException e) {
      assertThat(e.violations()).isNotEmpty();
      assertThat(e.violations()).allSatisfy(v -> {
        assertThat(v.toString()).startsWith("mesh.yaml");
        assertThat(v.toString()).contains("(expected: ");
      });
      return false;
    }
    // Accepted: it translates, and every reference resolves.
    XdsTranslator.translate(config).ensureConsistent();
    return true;
  }

  @Test
  void aRefusedFileChangesNothingServed() throws Exception {
    forMutations(300, MeshConfigMutationTest::refusedChangesNothing);
  }

  static void refusedChangesNothing(List<Mutation> mutations) throws Exception {
    MeshState state = new MeshState(new AdsService(new AdsStreamListener() {}), new ServerMetrics(),
        Clock.systemUTC(), new Registrations(Optional.empty(), Duration.ZERO, Clock.systemUTC())::instances);
    state.apply(MeshConfigParser.parse(VALID, "mesh.yaml"), "mesh.yaml");
    String before = state.served().orElseThrow().version();
    try {
      MeshConfig accepted = MeshConfigParser.parse(mutate(mutations), "mesh.yaml");
      state.apply(accepted, "mesh.yaml");
      // Accepted: served whole, nothing of the old file mixed in.
      assertThat(state.served().orElseThrow().config()).isEqualTo(accepted);
    } catch (MeshConfigException e) {
      state.refuse("mesh.yaml", e.violations());
      assertThat(state.served().orElseThrow().version()).isEqualTo(before);
      assertThat(state.lastRefusal()).isPresent();
    }
  }
}
