package io.meshlet.internal.xds;

import static io.meshlet.internal.xds.ProtoFields.duration;
import static io.meshlet.internal.xds.ProtoFields.enforcing;
import static io.meshlet.internal.xds.ProtoFields.fieldNames;
import static io.meshlet.internal.xds.ProtoFields.isZero;
import static io.meshlet.internal.xds.ProtoFields.only;
import static io.meshlet.internal.xds.ProtoFields.perMillion;
import static io.meshlet.internal.xds.ProtoFields.u32;
import static io.meshlet.internal.xds.ProtoFields.validRegex;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.meshlet.config.InboundPolicy;
import io.meshlet.internal.wire.WireNames;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Parses LDS: a client's {@code Listener} (an API listener whose HTTP connection manager takes its
 * routes over ADS) and a service's inbound listener ({@code inbound|<service>}), whose mTLS mode and
 * RBAC say what its own servers enforce. HTTP filters are looked up in the {@link FilterRegistry}.
 */
final class ListenerParser {

  private ListenerParser() {}

  static ListenerResource listener(Listener l) throws ResourceException {
    Errors e = new Errors("listener '" + l.getName() + "'");
    boolean inbound = l.getName().startsWith(WireNames.INBOUND_PREFIX);
    if (inbound) {
      only(l, e, "", "name", "api_listener", "metadata");
    } else {
      only(l, e, "", "name", "api_listener");
    }
    io.meshlet.config.MtlsMode mtls = inbound ? inboundMtls(l, e) : io.meshlet.config.MtlsMode.OFF;
    if (!l.hasApiListener()) {
      e.add("api_listener", "missing", "an API listener holding an HttpConnectionManager");
      e.throwIfAny();
    }
    HttpConnectionManager hcm;
    try {
      hcm = l.getApiListener().getApiListener().unpack(HttpConnectionManager.class);
    } catch (InvalidProtocolBufferException ex) {
      e.add("api_listener.api_listener", l.getApiListener().getApiListener().getTypeUrl(),
          "an envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
      throw new ResourceException(String.join("; ", e.messages));
    }
    String p = "api_listener.api_listener";
    only(hcm, e, p, "stat_prefix", "rds", "http_filters", "codec_type");
    if (!hcm.hasRds()) {
      e.add(p + ".rds", "missing", "route configuration over RDS (rds.route_config_name)");
    } else if (!hcm.getRds().getConfigSource().hasAds()) {
      e.add(p + ".rds.config_source",
          hcm.getRds().getConfigSource().getConfigSourceSpecifierCase().name().toLowerCase(), "ads");
    }
    Set<String> filters = new HashSet<>();
    java.util.Optional<List<InboundPolicy.Grant>> allow = java.util.Optional.empty();
    String lastKnown = null;
    for (int i = 0; i < hcm.getHttpFiltersCount(); i++) {
      HttpFilter f = hcm.getHttpFilters(i);
      String fp = p + ".http_filters[" + i + "]";
      String type = f.getTypedConfig().getTypeUrl();
      HttpFilterType filter = FilterRegistry.DEFAULT.get(f.getName());
      if (filter != null && filter.inboundOnly()) {
        if (inbound) {
          allow = java.util.Optional.of(filter.inboundGrants(f.getTypedConfig(), fp, e));
          filters.add(f.getName());
          continue;
        }
        filter = null;
      }
      boolean known = filter != null && type.endsWith(filter.typeName());
      if (known) {
        filters.add(f.getName());
        lastKnown = f.getName();
        // Filter-wide settings would apply to every route; Meshlet reads faults and limits per route.
        try {
          Message config = filter.listenerSettings(f.getTypedConfig());
          if (config != null && !config.getAllFields().isEmpty()) {
            e.add(fp + ".typed_config", fieldNames(config) + " set", "no filter-wide settings (Meshlet applies "
                + f.getName() + " per route, from typed_per_filter_config)");
          }
        } catch (InvalidProtocolBufferException ex) {
          e.add(fp + ".typed_config", "unreadable " + type, "a valid " + type);
        }
      } else if (!f.getIsOptional()) {
        e.add(fp + ".name", f.getName() + " (" + type + ")",
            "one of " + FilterRegistry.DEFAULT.listenerFilterNames() + ", or is_optional: true");
      }
    }
    if (hcm.getHttpFiltersCount() > 0 && !WireNames.ROUTER_FILTER.equals(lastKnown)) {
      e.add(p + ".http_filters", lastKnown == null || !filters.contains(WireNames.ROUTER_FILTER)
          ? "no router filter" : "router filter before " + lastKnown, "the last filter to be " + WireNames.ROUTER_FILTER);
    }
    e.throwIfAny();
    String service = inbound ? l.getName().substring(WireNames.INBOUND_PREFIX.length()) : l.getName();
    return new ListenerResource(l.getName(), service, hcm.getRds().getRouteConfigName(), Set.copyOf(filters),
        inbound, new io.meshlet.config.InboundPolicy(mtls, allow));
  }

  /** An inbound listener's {@code metadata.filter_metadata.meshlet.mtls}: off, permissive or strict. */
  private static io.meshlet.config.MtlsMode inboundMtls(Listener l, Errors e) {
    var metadata = l.getMetadata();
    only(metadata, e, "metadata", "filter_metadata");
    for (String key : metadata.getFilterMetadataMap().keySet()) {
      if (!key.equals(WireNames.MESHLET_METADATA)) {
        e.add("metadata.filter_metadata." + key, "set", "only the " + WireNames.MESHLET_METADATA + " namespace");
      }
    }
    var fields = metadata.getFilterMetadataOrDefault(WireNames.MESHLET_METADATA, com.google.protobuf.Struct.getDefaultInstance())
        .getFieldsMap();
    String p = "metadata.filter_metadata." + WireNames.MESHLET_METADATA;
    for (String key : fields.keySet()) {
      if (!key.equals(WireNames.MTLS_KEY)) {
        e.add(p + "." + key, "set", "only mtls");
      }
    }
    Value v = fields.get(WireNames.MTLS_KEY);
    if (v == null) {
      return io.meshlet.config.MtlsMode.OFF;
    }
    switch (v.getStringValue()) {
      case "off":
        return io.meshlet.config.MtlsMode.OFF;
      case "permissive":
        return io.meshlet.config.MtlsMode.PERMISSIVE;
      case "strict":
        return io.meshlet.config.MtlsMode.STRICT;
      default:
        e.add(p + ".mtls", v.hasStringValue() ? v.getStringValue() : v.getKindCase().name().toLowerCase(),
            "one of off, permissive, strict");
        return io.meshlet.config.MtlsMode.OFF;
    }
  }
}
