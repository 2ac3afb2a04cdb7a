package io.meshlet.okhttp;

import io.meshlet.MeshClient;
import io.meshlet.identity.WorkloadIdentity;
import java.util.function.Supplier;
import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;

/**
 * Entry point of Meshlet's OkHttp integration.
 *
 * <pre>{@code
 * OkHttpClient http = MeshOkHttp.client(mesh);
 * // or keep your own settings:
 * OkHttpClient http = MeshOkHttp.decorate(new OkHttpClient.Builder().callTimeout(...), mesh).build();
 * }</pre>
 *
 * <p>Asynchronous calls ({@code enqueue}): every instance of a mesh service shares the service's
 * logical host ({@code catalog}), and OkHttp's {@link Dispatcher} runs at most
 * {@code maxRequestsPerHost} (5 by default) async calls per host at once, so it would hold a whole
 * service to 5 however many instances it has. The mesh raises that per-host cap to the dispatcher's
 * overall one ({@code maxRequests}, 64 by default) unless the application set its own; the limit per
 * service that counts is the mesh's circuit breaker ({@code circuitBreaker.maxRequests}).
 */
public final class MeshOkHttp {

  private MeshOkHttp() {}

  /** An {@link OkHttpClient} whose calls to mesh services go through the mesh. */
  public static OkHttpClient client(MeshClient mesh) {
    return decorate(new OkHttpClient.Builder(), mesh).build();
  }

  /**
   * An {@link OkHttpClient} that also does mTLS with mesh services that require it: it presents
   * the workload's current SVID (read at each handshake, so rotation needs no new client) and
   * accepts a mesh server only with the SPIFFE ID of the service called.
   */
  public static OkHttpClient client(MeshClient mesh, Supplier<WorkloadIdentity> identity) {
    return decorate(new OkHttpClient.Builder(), mesh, identity).build();
  }

  /** {@link #decorate(OkHttpClient.Builder, MeshClient)} with mTLS, as {@link #client(MeshClient, Supplier)}. */
  public static OkHttpClient.Builder decorate(OkHttpClient.Builder builder, MeshClient mesh,
      Supplier<WorkloadIdentity> identity) {
    raisePerHostCap(builder);
    builder.interceptors().add(0, new MeshOkHttpInterceptor(mesh, true));
    builder.networkInterceptors().add(new DeadConnectionWatch());
    return MeshTls.apply(builder, mesh, identity).retryOnConnectionFailure(false);
  }

  /**
   * Adds the mesh to a builder: the interceptor goes first among application interceptors, so
   * the ones added before it see one call and those after it see each try. Also turns off
   * OkHttp's own retry on connection failure, so that retries happen in exactly one layer, and
   * adds a network interceptor that tells the mesh's interceptor when a try went out on a pooled
   * connection that was dead, so that it can send the try again on a new connection (as OkHttp's
   * own retry would; see {@link MeshOkHttpInterceptor}).
   */
  public static OkHttpClient.Builder decorate(OkHttpClient.Builder builder, MeshClient mesh) {
    raisePerHostCap(builder);
    builder.interceptors().add(0, new MeshOkHttpInterceptor(mesh, false));
    builder.networkInterceptors().add(new DeadConnectionWatch());
    return builder.retryOnConnectionFailure(false);
  }

  /** OkHttp's default {@code maxRequestsPerHost}. */
  static final int DEFAULT_MAX_REQUESTS_PER_HOST = 5;

  /** See the class comment: the builder's dispatcher runs as many async calls per host as in all. */
  private static void raisePerHostCap(OkHttpClient.Builder builder) {
    // The builder does not expose its dispatcher; a client built from it shares the same instance.
    Dispatcher dispatcher = builder.build().dispatcher();
    if (dispatcher.getMaxRequestsPerHost() == DEFAULT_MAX_REQUESTS_PER_HOST) {
      dispatcher.setMaxRequestsPerHost(dispatcher.getMaxRequests());
    }
  }
}
