package io.meshlet.okhttp;

import io.meshlet.controlplane.testing.MeshFile;

import static io.meshlet.okhttp.TestMesh.count;
import static io.meshlet.okhttp.TestMesh.get;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.meshlet.MeshClient;
import io.meshlet.controlplane.ControlServer;
import io.meshlet.UnknownServiceException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Routing through the real control server: weighted splits, path matches (prefix, exact,
 * regex), header matches (exact, regex, present), first match wins, round robin over a cluster,
 * and which hosts the interceptor takes at all.
 */
class OkHttpRoutingIT {

  @TempDir static Path dir;
  static TestMesh mesh;
  static WireMockServer v1;
  static WireMockServer v2;
  static WireMockServer v3;
  static MeshClient client;
  static OkHttpClient http;

  @BeforeAll
  static void start() throws Exception {
    mesh = new TestMesh();
    v1 = mesh.upstream("v1");
    v2 = mesh.upstream("v2");
    v3 = mesh.upstream("v3");
    MeshFile file = new MeshFile(dir).write("""
        services:
          catalog:
            endpoints:
              - { address: 127.0.0.1:%d, labels: { version: v1 } }
              - { address: 127.0.0.1:%d, labels: { version: v2 } }
              - { address: 127.0.0.1:%d, labels: { version: v3 } }
            subsets: { v1: { version: v1 }, v2: { version: v2 }, v3: { version: v3 } }
            routes:
              - match: { path: /exact }
                to: [ { subset: v3 } ]
              - match: { pathRegex: "/items/[0-9]+" }
                to: [ { subset: v2 } ]
              - match: { pathPrefix: /api/v3/ }
                to: [ { subset: v3 } ]
              - match: { pathPrefix: /api/, headers: { x-canary: "true" } }
                to: [ { subset: v2 } ]
              - match: { headers: { x-user: { regex: "tester-[a-z]+" } } }
                to: [ { subset: v3 } ]
              - match: { headers: { x-debug: { present: true } } }
                to: [ { subset: v2 } ]
              - match: { pathPrefix: /split/ }
                to: [ { subset: v1, weight: 70 }, { subset: v2, weight: 30 } ]
              - match: { pathPrefix: /three/ }
                to: [ { subset: v1, weight: 50 }, { subset: v2, weight: 30 }, { subset: v3, weight: 20 } ]
              - to: [ { subset: v1 } ]
          search:
            endpoints:
              - { address: 127.0.0.1:%d }
              - { address: 127.0.0.1:%d }
          docs:
            endpoints:
              - { address: 127.0.0.1:%d }
            routes:
              - match: { pathPrefix: /docs/ }
                to: [ {} ]
          shop.internal:
            endpoints:
              - { address: 127.0.0.1:%d }
        """.formatted(v1.port(), v2.port(), v3.port(), v1.port(), v2.port(), v3.port(), v3.port()));
    ControlServer server = mesh.controlServer(file.path());
    client = mesh.meshClient(server.xdsPort());
    http = mesh.http(client);
  }

  @AfterAll
  static void stop() throws Exception {
    if (mesh != null) {
      mesh.close();
    }
  }

  private static String body(String url, String... headers) throws Exception {
    TestMesh.Reply r = get(http, url, headers);
    assertThat(r.code()).as("status of %s", url).isEqualTo(200);
    return r.body();
  }

  /** Where n calls went, by upstream name. */
  private static Map<String, Integer> spread(String url, int n) throws Exception {
    Map<String, Integer> seen = new TreeMap<>();
    for (int i = 0; i < n; i++) {
      seen.merge(body(url), 1, Integer::sum);
    }
    return seen;
  }

  /** Asserts a binomial count is within 4 standard deviations of its mean. */
  private static void assertBinomial(String what, int count, int n, double p) {
    double mean = n * p;
    double tolerance = 4 * Math.sqrt(n * p * (1 - p));
    assertThat((double) count).as("%s: %d of %d (expected %.0f +- %.0f)", what, count, n, mean, tolerance)
        .isBetween(mean - tolerance, mean + tolerance);
  }

  @Test
  void weightedSplitFollowsTheWeights() throws Exception {
    int n = 1000;
    Map<String, Integer> two = spread("http://catalog/split/items", n);
    assertThat(two.keySet()).containsOnly("v1", "v2");
    assertBinomial("v2 of a 70/30 split", two.getOrDefault("v2", 0), n, 0.3);

    Map<String, Integer> three = spread("http://catalog/three/items", n);
    assertThat(three.keySet()).containsOnly("v1", "v2", "v3");
    assertBinomial("v1 of a 50/30/20 split", three.get("v1"), n, 0.5);
    assertBinomial("v2 of a 50/30/20 split", three.get("v2"), n, 0.3);
    assertBinomial("v3 of a 50/30/20 split", three.get("v3"), n, 0.2);
  }

  @Test
  void exactPathMatchesOnlyThatPath() throws Exception {
    assertThat(body("http://catalog/exact")).isEqualTo("v3");
    assertThat(body("http://catalog/exact?page=2")).as("the query is not part of the path").isEqualTo("v3");
    assertThat(body("http://catalog/exact/more")).isEqualTo("v1");
    assertThat(body("http://catalog/exactly")).isEqualTo("v1");
  }

  @Test
  void regexPathMustMatchTheWholePath() throws Exception {
    assertThat(body("http://catalog/items/42")).isEqualTo("v2");
    assertThat(body("http://catalog/items/42/reviews")).isEqualTo("v1");
    assertThat(body("http://catalog/items/abc")).isEqualTo("v1");
    assertThat(body("http://catalog/prefix/items/42")).isEqualTo("v1");
  }

  @Test
  void prefixAndHeaderMatchesAreCombined() throws Exception {
    assertThat(body("http://catalog/api/v3/items")).isEqualTo("v3");
    assertThat(body("http://catalog/api/v3")).as("prefix /api/v3/ needs the slash").isEqualTo("v1");
    assertThat(body("http://catalog/api/items", "x-canary", "true")).isEqualTo("v2");
    assertThat(body("http://catalog/api/items", "X-Canary", "true")).as("header names are case-insensitive")
        .isEqualTo("v2");
    assertThat(body("http://catalog/api/items", "x-canary", "false")).isEqualTo("v1");
    assertThat(body("http://catalog/other", "x-canary", "true")).as("the prefix must hold too").isEqualTo("v1");
  }

  @Test
  void headerRegexAndPresenceMatch() throws Exception {
    assertThat(body("http://catalog/anything", "x-user", "tester-bob")).isEqualTo("v3");
    assertThat(body("http://catalog/anything", "x-user", "tester-Bob")).isEqualTo("v1");
    assertThat(body("http://catalog/anything", "x-user", "a-tester-bob")).isEqualTo("v1");
    assertThat(body("http://catalog/anything", "x-debug", "")).isEqualTo("v2");
    assertThat(body("http://catalog/anything", "x-debug", "0")).isEqualTo("v2");
  }

  @Test
  void firstMatchingRouteWins() throws Exception {
    assertThat(body("http://catalog/exact", "x-debug", "1")).isEqualTo("v3");
    assertThat(body("http://catalog/items/7", "x-user", "tester-bob")).isEqualTo("v2");
    assertThat(body("http://catalog/split/x", "x-debug", "1")).isEqualTo("v2");
  }

  @Test
  void roundRobinSpreadsEvenlyAndKeepsTheServiceAsHost() throws Exception {
    Map<String, Integer> seen = spread("http://search/q?term=x", 100);
    assertThat(seen).containsExactlyInAnyOrderEntriesOf(Map.of("v1", 50, "v2", 50));
    assertThat(count(v1, "search", "/q") + count(v2, "search", "/q")).isEqualTo(100);
    assertThat(body("http://search:8080/q")).isIn("v1", "v2");
    assertThat(count(v1, "search:8080", "/q") + count(v2, "search:8080", "/q")).isEqualTo(1);
  }

  @Test
  void aPathNoRouteTakesFailsFast() {
    assertThatThrownBy(() -> get(http, "http://docs/other"))
        .isInstanceOf(UnknownServiceException.class)
        .hasMessage("service 'docs': no route matches /other (routes: 1)");
  }

  @Test
  void unknownServiceFailsFastNamingTheKnownOnes() {
    assertThatThrownBy(() -> get(http, "http://catalgo/items"))
        .isInstanceOf(UnknownServiceException.class)
        .hasMessage("service 'catalgo' is not in the mesh (known: catalog, docs, search, shop.internal)");
  }

  @Test
  void dottedHostsPassThroughUnlessTheMeshKnowsThem() throws Exception {
    List<String> lookups = new CopyOnWriteArrayList<>();
    OkHttpClient withDns = mesh.http(MeshOkHttp.decorate(new OkHttpClient.Builder(), client)
        .dns(host -> {
          lookups.add(host);
          if (host.equals("example.invalid")) {
            return List.of(InetAddress.getLoopbackAddress());
          }
          throw new UnknownHostException(host + " (test DNS knows only example.invalid)");
        })
        .build());

    // Not a mesh service: OkHttp resolves and connects to it itself.
    TestMesh.Reply direct = get(withDns, "http://example.invalid:" + v1.port() + "/direct");
    assertThat(direct.code()).isEqualTo(200);
    assertThat(direct.body()).isEqualTo("v1");
    assertThat(lookups).containsExactly("example.invalid");
    assertThat(count(v1, "example.invalid:" + v1.port(), "/direct")).isEqualTo(1);

    assertThatThrownBy(() -> get(withDns, "http://nowhere.invalid/x"))
        .isInstanceOf(UnknownHostException.class)
        .isNotInstanceOf(UnknownServiceException.class);

    // A mesh service whose name has a dot: the mesh takes it, no DNS lookup.
    lookups.clear();
    assertThat(get(withDns, "http://shop.internal/cart").body()).isEqualTo("v3");
    assertThat(lookups).isEmpty();
  }
}
