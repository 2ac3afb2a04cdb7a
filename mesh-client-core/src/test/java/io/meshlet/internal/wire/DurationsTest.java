package io.meshlet.internal.wire;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {

  @Test
  void readsEachUnit() {
    assertThat(Durations.parse("250ms")).contains(Duration.ofMillis(250));
    assertThat(Durations.parse("2s")).contains(Duration.ofSeconds(2));
    assertThat(Durations.parse("1m")).contains(Duration.ofMinutes(1));
    assertThat(Durations.parse("1h")).contains(Duration.ofHours(1));
    assertThat(Durations.parse(" 3s ")).contains(Duration.ofSeconds(3));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "1.5s", "2", "-1s", "1d", "s", "1234567890s", "1 s"})
  void refusesWhatIsNotADuration(String text) {
    assertThat(Durations.parse(text)).isEmpty();
  }

  @Test
  void writesInTheLargestUnitThatHoldsItWhole() {
    assertThat(Durations.format(Duration.ofMillis(250))).isEqualTo("250ms");
    assertThat(Durations.format(Duration.ofMillis(1500))).isEqualTo("1500ms");
    assertThat(Durations.format(Duration.ofSeconds(90))).isEqualTo("90s");
    assertThat(Durations.format(Duration.ofMinutes(2))).isEqualTo("2m");
    assertThat(Durations.format(Duration.ofDays(30))).isEqualTo("720h");
    assertThat(Durations.format(Duration.ZERO)).isEqualTo("0ms");
  }

  @ParameterizedTest
  @ValueSource(strings = {"250ms", "1500ms", "90s", "2m", "720h", "0ms"})
  void whatItWritesItReadsBack(String text) {
    assertThat(Durations.format(Durations.parse(text).orElseThrow())).isEqualTo(text);
  }
}
