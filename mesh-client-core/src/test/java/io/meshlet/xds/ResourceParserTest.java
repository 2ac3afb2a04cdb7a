package io.meshlet.xds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.Any;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.listener.v3.ApiListener;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.meshlet.config.ClusterConfig;
import io.meshlet.config.RouteTable;
import io.meshlet.xds.ResourceParser.ResourceException;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ResourceParserTest {

  static final ConfigSource ADS = ConfigSource.newBuilder().setAds(AggregatedConfigSource.getDefaultInstance()).build();

  static Listener listener(HttpFilter... filters) {
    HttpConnectionManager.Builder hcm = HttpConnectionManager.newBuilder()
        .setRds(Rds.newBuilder().setRouteConfigName("svc").setConfigSource(ADS));
    for (HttpFilter f : filters) {
      hcm.addHttpFilters(f);
    }
    hcm.addHttpFilters(HttpFilter.newBuilder().setName("envoy.filters.http.router")
        .setTypedConfig(Any.pack(Router.getDefaultInstance())));
    return Listener.newBuilder().setName("svc")
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(hcm.build()))).build();
  }

  static RouteConfiguration routes(RouteAction.Builder action) {
    return RouteConfiguration.newBuilder().setName("svc").addVirtualHosts(VirtualHost.newBuilder()
        .setName("svc").addDomains("*").addRoutes(Route.newBuilder()
            .setMatch(RouteMatch.newBuilder().setPrefix("/")).setRoute(action))).build();
  }

  static Cluster.Builder cluster() {
    return Cluster.newBuilder().setName("svc").setType(Cluster.DiscoveryType.EDS)
        .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(ADS));
  }

  @Test
  void acceptsWhatTheControlServerEmits() throws Exception {
    assertThat(ResourceParser.listener(listener()).routeConfigName()).isEqualTo("svc");
    RouteTable table = ResourceParser.routeConfiguration("svc", routes(RouteAction.newBuilder().setCluster("svc")
        .setTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(2))), Set.of());
    assertThat(table.rules()).singleElement().satisfies(r -> {
      assertThat(r.timeout()).contains(Duration.ofSeconds(2));
      assertThat(r.name()).isEqualTo("svc#0");
    });
    ClusterConfig c = ResourceParser.cluster(cluster().setLbPolicy(Cluster.LbPolicy.LEAST_REQUEST).build());
    assertThat(c.loadBalancing()).isEqualTo(ClusterConfig.LoadBalancing.LEAST_REQUEST);
  }

  @Test
  void aRouteWithoutATimeoutGetsEnvoysDefault() throws Exception {
    RouteTable table = ResourceParser.routeConfiguration("svc", routes(RouteAction.newBuilder().setCluster("svc")), Set.of());
    assertThat(table.rules().get(0).timeout()).contains(Duration.ofSeconds(15));
  }

  @Test
  void refusesFieldsItDoesNotImplementNamingThem() {
    ResourceException e = catchThrowableOfType(ResourceException.class, () -> ResourceParser.routeConfiguration("svc",
        routes(RouteAction.newBuilder().setCluster("svc").setPrefixRewrite("/v2")), Set.of()));
    assertThat(e).hasMessage("route configuration 'svc': virtual_hosts[0].routes[0].route.prefix_rewrite: set "
        + "(expected: only fields Meshlet implements: cluster, weighted_clusters, timeout, max_stream_duration, "
        + "retry_policy, hash_policy)");

    e = catchThrowableOfType(ResourceException.class, () -> ResourceParser.routeConfiguration("svc",
        routes(RouteAction.newBuilder().setCluster("svc").setRetryPolicy(
            io.envoyproxy.envoy.config.route.v3.RetryPolicy.newBuilder().setRetryOn("5xx,envoy-ratelimited"))), Set.of()));
    assertThat(e.getMessage()).startsWith("route configuration 'svc': virtual_hosts[0].routes[0].route.retry_policy"
        + ".retry_on: envoy-ratelimited (expected: conditions Meshlet implements");

    e = catchThrowableOfType(ResourceException.class,
        () -> ResourceParser.cluster(cluster().setType(Cluster.DiscoveryType.STATIC).build()));
    assertThat(e).hasMessage("cluster 'svc': type: STATIC (expected: EDS)");

    e = catchThrowableOfType(ResourceException.class, () -> ResourceParser.cluster(cluster()
        .setOutlierDetection(OutlierDetection.newBuilder().setConsecutive5Xx(UInt32Value.of(3))).build()));
    assertThat(e).hasMessage("cluster 'svc': outlier_detection.enforcing_success_rate: unset (100) "
        + "(expected: 0: Meshlet implements consecutive-error ejection, not success-rate ejection)");

    e = catchThrowableOfType(ResourceException.class, () -> ResourceParser.listener(listener(
        HttpFilter.newBuilder().setName("envoy.filters.http.ext_authz").build())));
    assertThat(e.getMessage()).startsWith("listener 'svc': api_listener.api_listener.http_filters[0].name: "
        + "envoy.filters.http.ext_authz () (expected: one of envoy.filters.http.router");
  }

  @Test
  void optionalFiltersItDoesNotKnowAreSkipped() throws Exception {
    assertThat(ResourceParser.listener(listener(HttpFilter.newBuilder().setName("envoy.filters.http.ext_authz")
        .setIsOptional(true).build())).filters()).containsExactly("envoy.filters.http.router");
  }
}
