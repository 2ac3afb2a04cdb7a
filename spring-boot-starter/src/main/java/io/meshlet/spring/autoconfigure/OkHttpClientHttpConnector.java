package io.meshlet.spring.autoconfigure;

import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.io.IOException;
import java.net.URI;
import java.util.List;
import java.util.function.Function;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.Headers;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.reactivestreams.Publisher;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferFactory;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.core.io.buffer.DefaultDataBufferFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ResponseCookie;
import org.springframework.http.client.reactive.AbstractClientHttpRequest;
import org.springframework.http.client.reactive.ClientHttpConnector;
import org.springframework.http.client.reactive.ClientHttpRequest;
import org.springframework.http.client.reactive.ClientHttpResponse;
import org.springframework.util.LinkedMultiValueMap;
import org.springframework.util.MultiValueMap;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A {@link ClientHttpConnector} for Spring's {@code WebClient} that sends each exchange through a
 * mesh-aware {@link OkHttpClient} with {@link Call#enqueue}: routing, retries (and their backoff),
 * timeouts, the breaker, ejection and mTLS run on OkHttp's dispatcher threads, never on the thread
 * that subscribes (a Reactor Netty event loop in a WebFlux application). The exchange's OpenTelemetry
 * context at subscription is made current for the mesh's interceptor, so Meshlet's client span is a
 * child of the caller's span.
 *
 * <p>Bodies are buffered: the request body is joined before the call is enqueued, and the response
 * body is read on the dispatcher thread before the response is emitted (no streaming, as for
 * retries the request body must be replayable anyway). Cancelling the subscription cancels the call.
 * Thread-safe.
 */
public final class OkHttpClientHttpConnector implements ClientHttpConnector {

  private final OkHttpClient okHttp;
  private final DataBufferFactory buffers = DefaultDataBufferFactory.sharedInstance;

  /** Sends through the given client (the starter's mesh-aware {@code OkHttpClient} bean). */
  public OkHttpClientHttpConnector(OkHttpClient okHttp) {
    OkHttpClient.Builder b = okHttp.newBuilder();
    b.interceptors().add(0, CONTEXT);
    this.okHttp = b.build();
  }

  /** Makes the caller's context current for the interceptors after it (the mesh's first). */
  private static final Interceptor CONTEXT = chain -> {
    Context context = chain.request().tag(Context.class);
    if (context == null) {
      return chain.proceed(chain.request());
    }
    try (Scope ignored = context.makeCurrent()) {
      return chain.proceed(chain.request());
    }
  };

  @Override
  public Mono<ClientHttpResponse> connect(org.springframework.http.HttpMethod method, URI uri,
      Function<? super ClientHttpRequest, Mono<Void>> requestCallback) {
    Context context = Context.current();
    OkRequest request = new OkRequest(method, uri, buffers);
    return requestCallback.apply(request).then(Mono.defer(() -> request.body()
        .flatMap(body -> send(request.toOkHttp(body, context)))));
  }

  private Mono<ClientHttpResponse> send(Request request) {
    return Mono.create(sink -> {
      Call call = okHttp.newCall(request);
      sink.onCancel(call::cancel);
      call.enqueue(new Callback() {
        @Override
        public void onFailure(Call c, IOException e) {
          sink.error(e);
        }

        @Override
        public void onResponse(Call c, Response response) {
          try (response) {
            ResponseBody body = response.body();
            byte[] bytes = body != null ? body.bytes() : new byte[0];
            sink.success(new OkResponse(response, bytes, buffers));
          } catch (IOException | RuntimeException e) {
            sink.error(e);
          }
        }
      });
    });
  }

  /** The request Spring's {@code WebClient} writes: headers, cookies and one buffered body. */
  private static final class OkRequest extends AbstractClientHttpRequest {
    private final org.springframework.http.HttpMethod method;
    private final URI uri;
    private final DataBufferFactory buffers;
    private Mono<byte[]> body = Mono.just(new byte[0]);

    OkRequest(org.springframework.http.HttpMethod method, URI uri, DataBufferFactory buffers) {
      this.method = method;
      this.uri = uri;
      this.buffers = buffers;
    }

    Mono<byte[]> body() {
      return body;
    }

    @Override
    public org.springframework.http.HttpMethod getMethod() {
      return method;
    }

    @Override
    public URI getURI() {
      return uri;
    }

    @Override
    public DataBufferFactory bufferFactory() {
      return buffers;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T getNativeRequest() {
      return (T) this;
    }

    @Override
    public Mono<Void> writeWith(Publisher<? extends DataBuffer> publisher) {
      return doCommit(() -> {
        body = DataBufferUtils.join(publisher).map(b -> {
          byte[] bytes = new byte[b.readableByteCount()];
          b.read(bytes);
          DataBufferUtils.release(b);
          return bytes;
        }).defaultIfEmpty(new byte[0]).cache();
        return Mono.empty();
      });
    }

    @Override
    public Mono<Void> writeAndFlushWith(Publisher<? extends Publisher<? extends DataBuffer>> publisher) {
      return writeWith(Flux.from(publisher).flatMap(Flux::from));
    }

    @Override
    public Mono<Void> setComplete() {
      return doCommit();
    }

    @Override
    protected void applyHeaders() {}

    @Override
    protected void applyCookies() {}

    Request toOkHttp(byte[] bytes, Context context) {
      Headers.Builder headers = new Headers.Builder();
      getHeaders().forEach((name, values) -> values.forEach(v -> headers.addUnsafeNonAscii(name, v)));
      getCookies().forEach((name, cookies) -> cookies.forEach(c -> headers.add("Cookie", c.getName() + "=" + c.getValue())));
      String m = method.name();
      RequestBody rb = null;
      if (bytes.length > 0 || m.equals("POST") || m.equals("PUT") || m.equals("PATCH")) {
        String type = getHeaders().getFirst(HttpHeaders.CONTENT_TYPE);
        rb = RequestBody.create(bytes, type != null ? MediaType.parse(type) : null);
      }
      return new Request.Builder().url(uri.toString()).headers(headers.build()).method(m, rb)
          .tag(Context.class, context).build();
    }
  }

  /** OkHttp's response, with its body read already. */
  private static final class OkResponse implements ClientHttpResponse {
    private final int status;
    private final HttpHeaders headers = new HttpHeaders();
    private final byte[] body;
    private final DataBufferFactory buffers;

    OkResponse(Response response, byte[] body, DataBufferFactory buffers) {
      this.status = response.code();
      response.headers().forEach(p -> headers.add(p.getFirst(), p.getSecond()));
      this.body = body;
      this.buffers = buffers;
    }

    @Override
    public HttpStatusCode getStatusCode() {
      return HttpStatusCode.valueOf(status);
    }

    @Override
    public MultiValueMap<String, ResponseCookie> getCookies() {
      MultiValueMap<String, ResponseCookie> out = new LinkedMultiValueMap<>();
      List<String> set = headers.get(HttpHeaders.SET_COOKIE);
      if (set != null) {
        for (String s : set) {
          java.net.HttpCookie.parse(s).forEach(c -> out.add(c.getName(),
              ResponseCookie.from(c.getName(), c.getValue()).build()));
        }
      }
      return out;
    }

    @Override
    public HttpHeaders getHeaders() {
      return headers;
    }

    @Override
    public Flux<DataBuffer> getBody() {
      return body.length == 0 ? Flux.empty() : Flux.defer(() -> Flux.just(buffers.wrap(body)));
    }
  }
}
