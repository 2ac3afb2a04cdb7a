package io.meshlet.internal.policy;

import io.meshlet.MeshRejection;
import io.meshlet.UnknownServiceException;
import io.meshlet.transport.Outcome;
import io.meshlet.transport.ResponseInfo;
import io.meshlet.transport.TryPlan;
import io.meshlet.transport.TrySender;
import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.config.RateLimitPolicy;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Envoy's local rate limit token bucket (envoy.filters.http.local_ratelimit, {@code token_bucket}):
 * a burst of at most {@code max_tokens}, {@code tokens_per_fill} added every {@code fill_interval},
 * never more than {@code max_tokens} held. Time is an injected clock; nothing sleeps.
 */
class TokenBucketTest {

  /** Starts far from 0, as System.nanoTime() does. */
  private final AtomicLong now = new AtomicLong(987_654_321_000L);

  private TokenBucket bucket(int maxTokens, int tokensPerFill, Duration fillInterval) {
    return new TokenBucket(new RateLimitPolicy(maxTokens, tokensPerFill, fillInterval), now::get);
  }

  private void advance(Duration d) {
    now.addAndGet(d.toNanos());
  }

  private static int take(TokenBucket b, int tries) {
    int granted = 0;
    for (int i = 0; i < tries; i++) {
      if (b.tryAcquire()) {
        granted++;
      }
    }
    return granted;
  }

  @Test
  void aFullBucketGrantsABurstOfMaxTokensAndNoMore() {
    TokenBucket b = bucket(10, 2, Duration.ofSeconds(1));

    assertThat(take(b, 25)).isEqualTo(10);
    assertThat(b.tryAcquire()).isFalse();
  }

  @Test
  void tokensComeBackOneFillAtATimeAtTheFillInterval() {
    TokenBucket b = bucket(10, 2, Duration.ofSeconds(1));
    take(b, 10);

    advance(Duration.ofMillis(999));
    assertThat(b.tryAcquire()).as("no token before the fill").isFalse();
    advance(Duration.ofMillis(1));
    assertThat(take(b, 5)).as("tokens_per_fill at the fill").isEqualTo(2);
  }

  @Test
  void theSteadyRateIsTokensPerFillPerFillInterval() {
    TokenBucket b = bucket(10, 2, Duration.ofSeconds(1));
    take(b, 10);

    int granted = 0;
    // One minute of callers asking 100 times every 100 ms.
    for (int step = 0; step < 600; step++) {
      advance(Duration.ofMillis(100));
      granted += take(b, 100);
    }

    assertThat(granted).isEqualTo(60 * 2);
  }

  @Test
  void noDoubleBurstAtAWindowBoundary() {
    // A fixed window of "10 per 5 s" would grant 10 just before a boundary and 10 more just
    // after it. The bucket grants the burst once; after it, only what has been refilled.
    TokenBucket b = bucket(10, 2, Duration.ofSeconds(1));
    advance(Duration.ofMillis(4_999));
    assertThat(take(b, 20)).isEqualTo(10);

    advance(Duration.ofMillis(2));
    assertThat(take(b, 20)).as("across the boundary").isEqualTo(2);
    assertThat(b.available()).isZero();
  }

  @Test
  void anIdleBucketRefillsOnlyUpToMaxTokens() {
    TokenBucket b = bucket(10, 2, Duration.ofSeconds(1));
    take(b, 10);

    advance(Duration.ofHours(10));

    assertThat(b.available()).isEqualTo(10);
    assertThat(take(b, 25)).isEqualTo(10);
  }

  @Test
  void partlyEmptiedBucketsGainWholeFillsCountedFromTheStart() {
    // Fills happen at start + k * fill_interval (Envoy's fill timer), not a fill after each call.
    TokenBucket b = bucket(5, 1, Duration.ofMillis(100));
    take(b, 3);
    advance(Duration.ofMillis(250));

    assertThat(b.available()).as("2 left + 2 fills").isEqualTo(4);
    advance(Duration.ofMillis(50));
    assertThat(b.available()).as("a third fill at 300 ms, capped at max_tokens").isEqualTo(5);
  }

  @Test
  void aFillLargerThanTheBucketStillHoldsOnlyMaxTokens() {
    TokenBucket b = bucket(3, 100, Duration.ofSeconds(1));
    take(b, 3);

    advance(Duration.ofSeconds(1));

    assertThat(take(b, 10)).isEqualTo(3);
  }
}
