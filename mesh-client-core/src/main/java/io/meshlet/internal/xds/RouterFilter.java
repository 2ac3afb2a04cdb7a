package io.meshlet.internal.xds;

import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.meshlet.internal.wire.WireNames;

/** Envoy's router filter: the last filter of every chain; nothing to configure. */
final class RouterFilter implements HttpFilterType {

  @Override
  public String name() {
    return WireNames.ROUTER_FILTER;
  }

  @Override
  public String typeName() {
    return Router.getDescriptor().getFullName();
  }
}
