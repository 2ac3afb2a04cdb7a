package io.meshlet.internal.policy;

import io.meshlet.config.RateLimitPolicy;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A token bucket as Envoy's local rate limit filter keeps one ({@code token_bucket}): it starts
 * full with {@code max_tokens}; every {@code fill_interval}, counted from its creation, it gains
 * {@code tokens_per_fill}, never holding more than {@code max_tokens}; each call takes one token
 * or is refused. A burst is thus at most {@code max_tokens} and the long-run rate
 * {@code tokens_per_fill} per {@code fill_interval}; a caller that empties the bucket just before a
 * fill gets {@code tokens_per_fill} more after it, not another full bucket.
 *
 * <p>Thread-safe and lock-free: the fill count and the tokens live in one {@code long} updated by
 * compare-and-set; nothing is allocated per call. Time comes from the injected nano clock.
 */
public final class TokenBucket {

  /** Tokens take the low 24 bits of the state; larger buckets hold this many. */
  static final long MAX_TOKENS = (1L << 24) - 1;
  private static final int TOKEN_BITS = 24;

  private final long maxTokens;
  private final long tokensPerFill;
  private final long fillIntervalNanos;
  private final LongSupplier nanoTime;
  private final long start;
  /** The number of fills applied (high 40 bits) and the tokens left (low 24 bits). */
  private final AtomicLong state;

  /** A full bucket for the policy, filling from now. */
  public TokenBucket(RateLimitPolicy policy, LongSupplier nanoTime) {
    this.maxTokens = Math.min(policy.maxTokens(), MAX_TOKENS);
    this.tokensPerFill = Math.min(policy.tokensPerFill(), MAX_TOKENS);
    this.fillIntervalNanos = Math.max(1, policy.fillInterval().toNanos());
    this.nanoTime = nanoTime;
    this.start = nanoTime.getAsLong();
    this.state = new AtomicLong(maxTokens);
  }

  /** Takes a token if there is one. */
  public boolean tryAcquire() {
    long fillsNow = (nanoTime.getAsLong() - start) / fillIntervalNanos;
    while (true) {
      long s = state.get();
      long fills = s >>> TOKEN_BITS;
      long tokens = s & MAX_TOKENS;
      if (fillsNow > fills) {
        long due = fillsNow - fills;
        // No overflow: a bucket refilled from empty in this many fills is full anyway.
        tokens = due >= (maxTokens + tokensPerFill - 1) / tokensPerFill
            ? maxTokens : Math.min(maxTokens, tokens + due * tokensPerFill);
        fills = fillsNow;
      }
      if (tokens == 0) {
        return false;
      }
      if (state.compareAndSet(s, fills << TOKEN_BITS | (tokens - 1))) {
        return true;
      }
    }
  }

  /** The tokens left now, for diagnostics and tests. */
  long available() {
    long fillsNow = (nanoTime.getAsLong() - start) / fillIntervalNanos;
    long s = state.get();
    long fills = s >>> TOKEN_BITS;
    long tokens = s & MAX_TOKENS;
    if (fillsNow <= fills) {
      return tokens;
    }
    long due = fillsNow - fills;
    return due >= (maxTokens + tokensPerFill - 1) / tokensPerFill
        ? maxTokens : Math.min(maxTokens, tokens + due * tokensPerFill);
  }
}
