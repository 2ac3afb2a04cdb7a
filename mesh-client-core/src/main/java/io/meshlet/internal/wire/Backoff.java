package io.meshlet.internal.wire;

import java.util.concurrent.ThreadLocalRandom;

/** Exponential backoff with jitter: one formula for retries and reconnects on both sides. */
public final class Backoff {

  private Backoff() {}

  /** The cap of the n-th backoff (n >= 1): {@code base} doubling per step, never above {@code max}. */
  public static long cap(long base, long max, int n) {
    base = Math.max(1, base);
    max = Math.max(1, max);
    int shift = Math.min(Math.max(0, n - 1), 62);
    return base > (max >> shift) ? max : Math.min(max, base << shift);
  }

  /** Envoy's fully jittered backoff: random in [0, cap). */
  public static long fullJitter(long base, long max, int n) {
    return ThreadLocalRandom.current().nextLong(cap(base, max, n));
  }

  /** Jittered down by up to half: random in [cap/2, cap], for reconnects that should not all retry at once. */
  public static long halfJitter(long base, long max, int n) {
    long cap = cap(base, max, n);
    return cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1);
  }
}
