package io.meshlet.internal.xds;

import static io.meshlet.internal.xds.ProtoFields.duration;
import static io.meshlet.internal.xds.ProtoFields.enforcing;
import static io.meshlet.internal.xds.ProtoFields.fieldNames;
import static io.meshlet.internal.xds.ProtoFields.isZero;
import static io.meshlet.internal.xds.ProtoFields.only;
import static io.meshlet.internal.xds.ProtoFields.perMillion;
import static io.meshlet.internal.xds.ProtoFields.u32;
import static io.meshlet.internal.xds.ProtoFields.validRegex;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit;
import io.meshlet.config.FaultPolicy;
import io.meshlet.config.RateLimitPolicy;
import io.meshlet.internal.wire.WireNames;
import java.time.Duration;
import java.util.Optional;

/** Envoy's local rate limit filter: a per-route token bucket ({@code typed_per_filter_config}). */
final class LocalRateLimitFilter implements HttpFilterType {

  @Override
  public String name() {
    return WireNames.RATE_LIMIT_FILTER;
  }

  @Override
  public String typeName() {
    return LocalRateLimit.getDescriptor().getFullName();
  }

  @Override
  public Message listenerSettings(Any typedConfig) throws InvalidProtocolBufferException {
    return typedConfig.unpack(LocalRateLimit.class).toBuilder().clearStatPrefix().build();
  }

  @Override
  public boolean overridable() {
    return true;
  }

  @Override
  public void applyOverride(Any config, String p, Errors e, RouteOverrides out) {
    out.rateLimit = Optional.ofNullable(rateLimit(config, p, e));
  }

  static RateLimitPolicy rateLimit(Any config, String p, Errors e) {
    LocalRateLimit l;
    try {
      l = config.unpack(LocalRateLimit.class);
    } catch (InvalidProtocolBufferException ex) {
      e.add(p, config.getTypeUrl(), "a LocalRateLimit");
      return null;
    }
    only(l, e, p, "stat_prefix", "token_bucket", "filter_enabled", "filter_enforced");
    if (!l.hasTokenBucket()) {
      return null;
    }
    // Envoy enables and enforces the limit on a share of requests, 0% of them when unset.
    int enabled = l.hasFilterEnabled() ? perMillion(l.getFilterEnabled().getDefaultValue()) : 0;
    int enforced = l.hasFilterEnforced() ? perMillion(l.getFilterEnforced().getDefaultValue()) : 0;
    if ((enabled != 0 && enabled != FaultPolicy.MILLION) || (enforced != 0 && enforced != FaultPolicy.MILLION)) {
      e.add(p + ".filter_enabled", "enabled " + enabled / 10_000.0 + "%, enforced " + enforced / 10_000.0 + "%",
          "0% or 100% each: Meshlet limits all requests of a route or none");
      return null;
    }
    var b = l.getTokenBucket();
    int maxTokens = u32(b.getMaxTokens());
    int perFill = b.hasTokensPerFill() ? u32(b.getTokensPerFill().getValue()) : 1;
    Duration fill = duration(b.getFillInterval());
    if (maxTokens < 1 || perFill < 1 || fill.isZero() || fill.isNegative()) {
      e.add(p + ".token_bucket", "max_tokens " + maxTokens + ", tokens_per_fill " + perFill
          + ", fill_interval " + fill, "max_tokens >= 1, tokens_per_fill >= 1, fill_interval > 0");
      return null;
    }
    if (enabled == 0 || enforced == 0) {
      return null;
    }
    return new RateLimitPolicy(maxTokens, perFill, fill);
  }
}
