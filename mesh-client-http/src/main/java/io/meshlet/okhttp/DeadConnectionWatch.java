package io.meshlet.okhttp;

import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ProtocolException;
import java.util.Map;
import okhttp3.Connection;
import okhttp3.Interceptor;
import okhttp3.Response;
import okhttp3.internal.http2.StreamResetException;

/**
 * The network interceptor that tells {@link MeshOkHttpInterceptor} whether a send failed on a
 * pooled connection that was dead. Only a network interceptor sees the connection an exchange
 * goes out on ({@link Chain#connection()} is null for application interceptors), and OkHttp's
 * public {@link Connection} does not say whether it carried exchanges before, so this remembers
 * the connections it has seen (weakly: a connection the pool dropped is forgotten).
 *
 * <p>A send is watched from {@link #watch} to {@link Send#end}: the chain of a call runs on one
 * thread (the caller's, or the dispatcher's for an enqueued call), so the send is held by that
 * thread, for that call, and written and read by that thread only. It used to be a tag of the
 * try's request: {@code Request.tag} and {@code Request.Builder.tag} cost more per send than a
 * thread-local (docs/benchmarks.md, issue 17). Every exchange is remembered so that a connection
 * first used by a call outside the mesh counts as reused too.
 */
final class DeadConnectionWatch implements Interceptor {

  /**
   * Connections seen, weakly and by identity. Caffeine's concurrent map, not a synchronized
   * WeakHashMap: every exchange of the client passes here, and the request path takes no global lock.
   */
  private final Map<Connection, Boolean> used =
      Caffeine.newBuilder().weakKeys().<Connection, Boolean>build().asMap();

  /**
   * Connections seen last, weakly, in a table by identity hash, each looked for in {@link #PROBES}
   * slots from its own: a hit is a few array reads and {@code WeakReference.get}s, where a read of
   * Caffeine's weak map costs about ten times that (a lookup key, the read buffer); the map stays
   * the record of every connection seen. With one slot per connection and 32 slots, connections
   * whose slots collided kept evicting each other: in the profile most exchanges missed the table.
   */
  private final java.lang.ref.WeakReference<?>[] recent = new java.lang.ref.WeakReference<?>[128];
  private static final int PROBES = 4;

  private boolean seenBefore(Connection connection) {
    int mask = recent.length - 1;
    int home = System.identityHashCode(connection);
    int free = -1;
    for (int p = 0; p < PROBES; p++) {
      int i = (home + p) & mask;
      java.lang.ref.WeakReference<?> r = recent[i];
      Object held = r == null ? null : r.get();
      if (held == connection) {
        return true;
      }
      if (held == null && free < 0) {
        free = i;
      }
    }
    // A read first: a connection is seen once and reused many times, and a read takes none of the
    // write path's cost (Caffeine's putIfAbsent made a weak reference and took the write buffer).
    boolean seen = used.get(connection) != null || used.putIfAbsent(connection, Boolean.TRUE) != null;
    // An empty or cleared slot, else the home slot (racy writes of whole references are fine: a
    // connection not found here is found in the map).
    recent[free >= 0 ? free : home & mask] = new java.lang.ref.WeakReference<>(connection);
    return seen;
  }

  /** The send in progress on this thread, if any; a send's call tells it apart from a nested call's. */
  private static final ThreadLocal<Send> SENDING = new ThreadLocal<>();

  /**
   * Watches the exchanges of one send of {@code call} made by this thread until {@link Send#end},
   * which the caller must call (in a {@code finally}).
   */
  static Send watch(okhttp3.Call call) {
    Send send = new Send(call, SENDING.get());
    SENDING.set(send);
    return send;
  }

  /** What happened to one send of a try (one {@code proceed} of the application interceptor). */
  static final class Send {
    private final okhttp3.Call call;
    /** The send this one is nested in (a call made inside another's chain on the same thread), or null. */
    private final Send outer;
    private int exchanges;
    private boolean reused;
    private IOException failure;

    private Send(okhttp3.Call call, Send outer) {
      this.call = call;
      this.outer = outer;
    }

    /** Exchanges of this send seen by the network interceptor (for tests). */
    int exchanges() {
      return exchanges;
    }

    /** Whether the send's last exchange went out on a connection seen before (for tests). */
    boolean reused() {
      return reused;
    }

    /** Ends the watch: the thread's send is again the one this was nested in. */
    void end() {
      SENDING.set(outer);
    }

    /**
     * Whether {@code e} is the failure of this send's only exchange, on a connection that had
     * carried exchanges before, before the response headers were read, and of a kind a dead
     * connection gives (end of stream, reset, broken pipe, a shut down HTTP/2 connection) rather
     * than a timeout, a cancel, a malformed response or a stream the server reset.
     */
    boolean diedOnReusedConnection(IOException e) {
      return e == failure && exchanges == 1 && reused
          && !(e instanceof InterruptedIOException)
          && !(e instanceof ProtocolException)
          && !(e instanceof StreamResetException);
    }
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    Connection connection = chain.connection();
    boolean reused = connection != null && seenBefore(connection);
    Send send = SENDING.get();
    if (send == null || send.call != chain.call()) {
      return chain.proceed(chain.request());
    }
    send.exchanges++;
    send.reused = reused;
    try {
      return chain.proceed(chain.request());
    } catch (IOException e) {
      // Thrown by proceed: the response headers were not read (a response is returned once they are).
      send.failure = e;
      throw e;
    }
  }
}
