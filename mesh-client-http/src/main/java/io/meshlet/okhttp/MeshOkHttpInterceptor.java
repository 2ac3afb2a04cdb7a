package io.meshlet.okhttp;

import io.meshlet.MeshClient;
import io.meshlet.policy.MeshRejection;
import io.meshlet.policy.Outcome;
import io.meshlet.policy.PolicyEngine;
import io.meshlet.policy.ResponseInfo;
import java.io.IOException;
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

  private final MeshClient mesh;
  private final boolean mtlsCapable;

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
    PolicyEngine.Route route = mesh.route(host, url.encodedPath(), request::header);
    // Every value of the hash header, joined by ',', as grpc-java hashes it (XdsNameResolver).
    String hashKey = route.rule().hashHeader()
        .map(h -> request.headers(h).isEmpty() ? null : String.join(",", request.headers(h)))
        .orElse(null);
    boolean replayable = IDEMPOTENT.contains(request.method())
        && (request.body() == null || !request.body().isOneShot());
    String authority = url.port() == HttpUrl.defaultPort(url.scheme()) ? host : host + ":" + url.port();
    boolean mtls = route.cluster() != null && route.cluster().config().mtls();
    if (mtls && !mtlsCapable) {
      throw new java.io.IOException("service '" + host + "' requires mTLS (cluster '" + route.cluster().name()
          + "'), but this OkHttpClient has no workload identity: build it with MeshOkHttp.client(mesh, identity)");
    }
    String scheme = mtls ? "https" : "http";
    try {
      return mesh.engine().execute(route, hashKey, replayable, t -> {
        Request.Builder b = request.newBuilder()
            .url(url.newBuilder().scheme(scheme).host(t.endpoint().host()).port(t.endpoint().port()).build())
            .header("Host", authority);
        t.headers().forEach(b::header);
        int ms = (int) Math.max(1, Math.min(Integer.MAX_VALUE, t.timeout().toMillis()));
        Chain timed = chain;
        if (ms < chain.readTimeoutMillis() || chain.readTimeoutMillis() == 0) {
          timed = timed.withReadTimeout(ms, TimeUnit.MILLISECONDS).withWriteTimeout(ms, TimeUnit.MILLISECONDS);
        }
        if (ms < chain.connectTimeoutMillis() || chain.connectTimeoutMillis() == 0) {
          timed = timed.withConnectTimeout(ms, TimeUnit.MILLISECONDS);
        }
        return timed.proceed(b.build());
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
}
