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
 * <p>A send is watched when its request carries a {@link Send} tag; every exchange is remembered
 * so that a connection first used by a call outside the mesh counts as reused too. The chain runs
 * on the calling thread, so a {@link Send} is written and read by one thread.
 */
final class DeadConnectionWatch implements Interceptor {

  /**
   * Connections seen, weakly and by identity. Caffeine's concurrent map, not a synchronized
   * WeakHashMap: every exchange of the client passes here, and the request path takes no global lock.
   */
  private final Map<Connection, Boolean> used =
      Caffeine.newBuilder().weakKeys().<Connection, Boolean>build().asMap();

  /**
   * Connections seen last, weakly, in a table by identity hash: a hit is an array read and a
   * {@code WeakReference.get}, where a read of Caffeine's weak map costs about ten times that (a
   * lookup key, the read buffer); the map stays the record of every connection seen.
   */
  private final java.lang.ref.WeakReference<?>[] recent = new java.lang.ref.WeakReference<?>[32];

  private boolean seenBefore(Connection connection) {
    int i = System.identityHashCode(connection) & (recent.length - 1);
    java.lang.ref.WeakReference<?> r = recent[i];
    if (r != null && r.get() == connection) {
      return true;
    }
    // A read first: a connection is seen once and reused many times, and a read takes none of the
    // write path's cost (Caffeine's putIfAbsent made a weak reference and took the write buffer).
    boolean seen = used.get(connection) != null || used.putIfAbsent(connection, Boolean.TRUE) != null;
    recent[i] = new java.lang.ref.WeakReference<>(connection);
    return seen;
  }

  /** What happened to one send of a try (one {@code proceed} of the application interceptor). */
  static final class Send {
    private int exchanges;
    private boolean reused;
    private IOException failure;

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
    Send send = chain.request().tag(Send.class);
    if (send == null) {
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
