package io.meshlet.okhttp;

import com.github.benmanes.caffeine.cache.Caffeine;
import io.meshlet.MeshClient;
import io.meshlet.config.EndpointConfig;
import io.meshlet.MeshRejection;
import io.meshlet.transport.MeshCalls;
import io.meshlet.transport.MeshRoute;
import io.meshlet.transport.Outcome;
import io.meshlet.transport.ResponseInfo;
import io.meshlet.transport.TryPlan;
import java.io.IOException;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okhttp3.internal.http2.ErrorCode;
import okhttp3.internal.http2.StreamResetException;

/**
 * The OkHttp application interceptor that sends calls to mesh services through Meshlet's policy
 * engine: {@code http://catalog/items} is routed, load balanced, retried, timed out, limited and
 * observed as the mesh config says, and sent to the endpoint picked. Calls to other hosts pass
 * through untouched.
 *
 * <p>Retries are made only for idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) whose
 * body, if any, can be sent again. When the mesh answers a call itself (an injected abort, a rate
 * limit, an overloaded cluster, a cluster with no endpoints) the response is synthesized as Envoy
 * would: the status, and a header {@code x-meshlet-fault}, {@code x-meshlet-ratelimited},
 * {@code x-meshlet-overloaded} or {@code x-meshlet-no-endpoints} set to {@code true}.
 *
 * <p>Thread-safe; one instance per {@link MeshClient}.
 */
public final class MeshOkHttpInterceptor implements Interceptor {

  private static final Set<String> IDEMPOTENT = Set.of("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE");
  private static final MediaType TEXT = MediaType.get("text/plain; charset=utf-8");

  private static final ResponseInfo<Response> RESPONSES = new ResponseInfo<>() {
    @Override
    public int status(Response response) {
      return response.code();
    }

    @Override
    public String header(Response response, String name) {
      return response.header(name);
    }

    @Override
    public void discard(Response response) {
      response.close();
    }

    @Override
    public Outcome classify(IOException e) {
      if (e instanceof StreamResetException reset && reset.errorCode == ErrorCode.REFUSED_STREAM) {
        return Outcome.REFUSED_STREAM;
      }
      return ResponseInfo.super.classify(e);
    }
  };

  /**
   * At most this many transparent resends per try: one per dead pooled connection met, so
   * normally one; more only when several pooled connections to the endpoint died together (up to
   * OkHttp's default of 5 idle connections per pool).
   */
  static final int MAX_TRANSPARENT_RESENDS = 5;

  private final MeshClient mesh;
  private final boolean mtlsCapable;
  /**
   * Per endpoint (by identity, weakly: an endpoint the config dropped is forgotten), its URLs.
   */
  /** The endpoints used last, by identity hash: racy reads and writes of immutable slots are fine. */
  private final Recent[] recentUrls = new Recent[16];
  private final Map<EndpointConfig, EndpointUrls> endpointUrls =
      Caffeine.newBuilder().weakKeys().<EndpointConfig, EndpointUrls>build().asMap();

  /** An interceptor for a client without mTLS: calls to services that require it fail. */
  public MeshOkHttpInterceptor(MeshClient mesh) {
    this(mesh, false);
  }

  MeshOkHttpInterceptor(MeshClient mesh, boolean mtlsCapable) {
    this.mesh = mesh;
    this.mtlsCapable = mtlsCapable;
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    Request request = chain.request();
    HttpUrl url = request.url();
    String host = url.host();
    if (!mesh.isMeshHost(host)) {
      return chain.proceed(request);
    }
    MeshCalls calls = mesh.calls();
    MeshRoute route = calls.route(host, url.encodedPath(), request::header);
    // Every value of the hash header, joined by ',', as grpc-java hashes it (XdsNameResolver).
    String hashKey = null;
    if (route.rule().hashHeader().isPresent()) {
      java.util.List<String> values = request.headers(route.rule().hashHeader().get());
      hashKey = values.isEmpty() ? null : String.join(",", values);
    }
    boolean replayable = IDEMPOTENT.contains(request.method())
        && (request.body() == null || !request.body().isOneShot());
    String authority = url.port() == HttpUrl.defaultPort(url.scheme()) ? host : host + ":" + url.port();
    boolean mtls = route.mtls();
    if (mtls && !mtlsCapable) {
      throw new java.io.IOException("service '" + host + "' requires mTLS (cluster '" + route.clusterName()
          + "'), but this OkHttpClient has no workload identity: build it with MeshOkHttp.client(mesh, identity)");
    }
    try {
      // Headers the call's request has not got are added, not set: Request.Builder.header removes
      // every header of that name first, a scan and a list rewrite per header and try.
      boolean noHeaders = request.headers().size() == 0;
      return calls.execute(route, hashKey, replayable, t -> {
        Request.Builder b = request.newBuilder().url(endpointUrl(t.endpoint(), mtls, url));
        setHeader(b, request, noHeaders, "Host", authority);
        for (Map.Entry<String, String> h : t.headers().entrySet()) {
          setHeader(b, request, noHeaders, h.getKey(), h.getValue());
        }
        return send(chain, b.build(), t);
      }, RESPONSES);
    } catch (MeshRejection r) {
      return new Response.Builder()
          .request(request)
          .protocol(Protocol.HTTP_1_1)
          .code(r.status())
          .message(r.reason().name())
          .header(r.reason().header(), "true")
          .body(ResponseBody.create(r.getMessage() + "\n", TEXT))
          .build();
    }
  }

  /** Sets a header of the try's request: added when the call's request has none of that name. */
  private static void setHeader(Request.Builder b, Request request, boolean noHeaders, String name, String value) {
    if (noHeaders || request.header(name) == null) {
      b.addHeader(name, value);
    } else {
      b.header(name, value);
    }
  }

  /**
   * The call's URL sent to an endpoint: scheme, host and port of the endpoint, path, query and
   * fragment of the call. Starts from a URL per endpoint made once, because {@link
   * HttpUrl.Builder#host} canonicalizes the host (IDNA mapping) each time it is called: a tenth of
   * the client's CPU per call in the profile (docs/benchmarks.md).
   */
  private HttpUrl endpointUrl(EndpointConfig endpoint, boolean https, HttpUrl url) {
    // First a small table by identity (a read of an array slot), then the weak map (Caffeine's
    // read path was a quarter of this method's cost in the profile).
    int i = System.identityHashCode(endpoint) & (recentUrls.length - 1);
    Recent r = recentUrls[i];
    if (r == null || r.endpoint != endpoint) {
      EndpointUrls urls = endpointUrls.get(endpoint);
      if (urls == null) {
        urls = endpointUrls.computeIfAbsent(endpoint, EndpointUrls::new);
      }
      r = new Recent(endpoint, urls);
      recentUrls[i] = r;
    }
    return r.urls.of(https, url);
  }

  /**
   * A slot of {@link #recentUrls}. Holds its endpoint strongly: at most 16 endpoints outlive
   * their config until their slot is taken, bounded.
   */
  private record Recent(EndpointConfig endpoint, EndpointUrls urls) {}

  /**
   * One endpoint's base URLs (http [0], https [1]), made once, and the last URL rewritten to it:
   * calls to a service mostly repeat a few URLs, and a hit costs a comparison of the URL strings.
   */
  private static final class EndpointUrls {
    // Host and port, not the EndpointConfig: a value holding its weak key would keep it forever.
    private final String host;
    private final int port;
    private final HttpUrl[] bases = new HttpUrl[2];
    /** {original, rewritten}, swapped as one; races only replace it with an equal-valued pair. */
    private volatile HttpUrl[] last;

    EndpointUrls(EndpointConfig endpoint) {
      this.host = endpoint.host();
      this.port = endpoint.port();
    }

    HttpUrl of(boolean https, HttpUrl url) {
      HttpUrl[] l = last;
      if (l != null && l[0].equals(url) && l[1].isHttps() == https) {
        return l[1];
      }
      int i = https ? 1 : 0;
      HttpUrl base = bases[i];
      if (base == null) {
        // A benign race: two threads may both make it; they make equal URLs.
        base = new HttpUrl.Builder().scheme(https ? "https" : "http").host(host).port(port).build();
        bases[i] = base;
      }
      HttpUrl rewritten = base.newBuilder()
          .encodedPath(url.encodedPath())
          .encodedQuery(url.encodedQuery())
          .encodedFragment(url.encodedFragment())
          .encodedUsername(url.encodedUsername())
          .encodedPassword(url.encodedPassword())
          .build();
      last = new HttpUrl[] {url, rewritten};
      return rewritten;
    }
  }

  /**
   * Sends one try, within its timeout, and sends it again when it failed on a pooled connection
   * that turned out dead: the upstream had closed it (a keep-alive timeout) and the failure (end
   * of stream, reset, broken pipe) came before any response, so the request, written into a closed
   * socket, never reached the application. Plain OkHttp recovers from that with its retry on connection failure, which
   * {@link MeshOkHttp} turns off so that the policy engine is the one layer that retries; grpc-java
   * resends such streams transparently too (gRFC A6).
   *
   * <p>Why here: this is the transport step of the engine's try, the one place that calls
   * {@code proceed} and so can send again with the same endpoint, headers and what is left of the
   * try's timeout. The engine sees one try with one outcome: no retry is counted, the retry budget
   * is not touched, the retry policy need not allow resets, and outlier detection does not hear of
   * the dead connection (the endpoint did nothing wrong). {@link TryPlan#resentTransparently} reports
   * it. Which connection a send went out on, and whether it was reused, only a network interceptor
   * sees ({@link DeadConnectionWatch}, installed by {@link MeshOkHttp}; without it nothing is resent).
   *
   * <p>Never resent: a request whose body cannot be sent again (one-shot or duplex), a failure on
   * a new connection (the upstream itself fails: the engine's retry policy decides), a timeout or
   * cancel, a failure after response headers came (those surface after {@code proceed} returned,
   * while the body is read). Any method is resent, as OkHttp and Go's {@code net/http} resend on
   * a dead reused connection (a connection that dies while the upstream works on the request is
   * rare, and then looks the same). OkHttp gives the resend
   * another connection (the dead one takes no new exchanges); should that be a pooled one that
   * died as well, it is resent again, up to {@link #MAX_TRANSPARENT_RESENDS}.
   */
  private static Response send(Chain chain, Request request, TryPlan t) throws IOException {
    okhttp3.RequestBody body = chain.request().body();
    boolean resendable = body == null || !(body.isOneShot() || body.isDuplex());
    long deadline = System.nanoTime() + t.timeout().toNanos();
    IOException previous = null;
    for (int resends = 0; ; resends++) {
      long left = deadline - System.nanoTime();
      DeadConnectionWatch.Send send = DeadConnectionWatch.watch(chain.call());
      try {
        return timed(chain, left).proceed(request);
      } catch (IOException e) {
        if (previous != null && previous != e) {
          e.addSuppressed(previous);
        }
        if (!resendable || resends >= MAX_TRANSPARENT_RESENDS || !send.diedOnReusedConnection(e)
            || chain.call().isCanceled() || deadline - System.nanoTime() <= 0) {
          throw e;
        }
        t.resentTransparently(e);
        previous = e;
      } finally {
        send.end();
      }
    }
  }

  /** The chain with OkHttp's connect, read and write timeouts lowered to what is left of the try. */
  private static Chain timed(Chain chain, long nanos) {
    int ms = (int) Math.max(1, Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(nanos)));
    Chain timed = chain;
    if (ms < chain.readTimeoutMillis() || chain.readTimeoutMillis() == 0) {
      timed = timed.withReadTimeout(ms, TimeUnit.MILLISECONDS).withWriteTimeout(ms, TimeUnit.MILLISECONDS);
    }
    if (ms < chain.connectTimeoutMillis() || chain.connectTimeoutMillis() == 0) {
      timed = timed.withConnectTimeout(ms, TimeUnit.MILLISECONDS);
    }
    return timed;
  }
}
