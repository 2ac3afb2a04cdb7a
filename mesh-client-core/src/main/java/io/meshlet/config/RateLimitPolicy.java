package io.meshlet.config;

import java.time.Duration;
import java.util.Objects;

/**
 * A token bucket each caller applies to a route (Envoy's local rate limit).
 *
 * @param maxTokens the bucket size (the burst)
 * @param tokensPerFill tokens added per fill
 * @param fillInterval how often tokens are added
 */
public record RateLimitPolicy(int maxTokens, int tokensPerFill, Duration fillInterval) {

  public RateLimitPolicy {
    Objects.requireNonNull(fillInterval, "fillInterval");
    if (maxTokens < 1 || tokensPerFill < 1 || fillInterval.isZero() || fillInterval.isNegative()) {
      throw new IllegalArgumentException("rate limit: max_tokens " + maxTokens + ", tokens_per_fill "
          + tokensPerFill + ", fill_interval " + fillInterval + " (expected: all > 0)");
    }
  }
}
