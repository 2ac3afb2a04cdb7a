package io.meshlet.controlplane.internal.source;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.meshlet.internal.wire.Durations;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The mesh as kept in etcd, under a key prefix ({@value #DEFAULT_PREFIX} unless set):
 *
 * <ul>
 *   <li>{@code <prefix>intent}: the mesh.yaml text, one key, so that every change is one atomic
 *       write; written only after it validated;
 *   <li>{@code <prefix>instances/<service>/<host:port>}: a self-registered instance as JSON,
 *       attached to the lease of the replica that holds the instance's xDS stream;
 *   <li>{@code <prefix>ca}: the mesh's CA as JSON (see {@code internal.ca.EtcdCa}): its roots in the clear and,
 *       with a key-encryption key, its private keys sealed with AES-256-GCM.
 * </ul>
 *
 * <p>Every call waits at most its timeout ({@link #DEFAULT_TIMEOUT} unless given) and reports an unreachable cluster as an
 * {@link IOException}. Thread-safe.
 */
public final class EtcdStore implements AutoCloseable {

  /** The key prefix unless set. */
  public static final String DEFAULT_PREFIX = "/meshlet/";
  /** How long one call to etcd may take unless told otherwise ({@code serve --etcd-timeout}). */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(3);

  /** The intent's text and the revision it was last written at. */
  public record Intent(String text, long modRevision) {}

  /** A value and the revision it was last written at. */
  public record Stored(String value, long modRevision) {}

  /** A consistent read of everything under the prefix. */
  public record Contents(Optional<Intent> intent, SortedMap<String, KeyValue> instances, Optional<Stored> ca,
      long revision) {}

  private volatile Client client;
  private volatile long reconnectedAt;
  private final String prefix;
  private final List<String> endpoints;
  private final Duration timeout;

  public EtcdStore(List<String> endpoints, String prefix) {
    this(endpoints, prefix, DEFAULT_TIMEOUT);
  }

  /** @param timeout how long one call may take before etcd counts as unreachable for it */
  public EtcdStore(List<String> endpoints, String prefix, Duration timeout) {
    this.endpoints = List.copyOf(endpoints);
    this.prefix = checkPrefix(prefix);
    this.timeout = timeout;
    this.client = newClient();
  }

  private Client newClient() {
    return Client.builder()
        .endpoints(endpoints.stream().map(URI::create).toArray(URI[]::new))
        .connectTimeout(Duration.ofSeconds(1))
        .retryMaxDuration(Duration.ofSeconds(2))
        .keepaliveTime(Duration.ofSeconds(5))
        .keepaliveTimeout(Duration.ofSeconds(2))
        .waitForReady(false)
        .build();
  }

  /**
   * Whether some endpoint accepts TCP connections again while calls still fail: gRPC's reconnect
   * backoff grows during a long outage (up to two minutes), so after one a fresh client is made
   * (at most every 5 s) to catch up as soon as etcd is back. Watches on the old client end; the
   * caller watches again.
   *
   * @return true when a fresh client was made
   */
  public synchronized boolean reconnectIfReachable() {
    long now = System.nanoTime();
    if (now - reconnectedAt < TimeUnit.SECONDS.toNanos(5) || !anyEndpointListens()) {
      return false;
    }
    reconnectedAt = now;
    Client old = client;
    client = newClient();
    old.close();
    return true;
  }

  private boolean anyEndpointListens() {
    for (String e : endpoints) {
      URI uri = URI.create(e);
      try (java.net.Socket s = new java.net.Socket()) {
        s.connect(new java.net.InetSocketAddress(uri.getHost(), uri.getPort()), 300);
        return true;
      } catch (IOException ex) {
        // try the next one
      }
    }
    return false;
  }

  /**
   * The endpoints written as {@code http://host:port[,http://host:port...]}.
   *
   * @throws IllegalArgumentException naming the endpoint that is not a URL of that shape
   */
  public static List<String> parseEndpoints(String text) {
    List<String> out = new ArrayList<>();
    for (String part : text.split(",")) {
      String e = part.trim();
      if (e.isEmpty()) {
        continue;
      }
      URI uri;
      try {
        uri = URI.create(e);
      } catch (IllegalArgumentException ex) {
        uri = null;
      }
      if (uri == null || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
          || uri.getHost() == null || uri.getPort() < 1) {
        throw new IllegalArgumentException("--etcd: '" + e + "' (expected: comma-separated client URLs such as "
            + "http://10.0.0.1:2379,http://10.0.0.2:2379)");
      }
      out.add(e);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("--etcd: '" + text + "' (expected: at least one client URL such as "
          + "http://127.0.0.1:2379)");
    }
    return out;
  }

  /** A prefix that starts and ends with {@code /}. */
  public static String checkPrefix(String prefix) {
    if (!prefix.startsWith("/") || !prefix.endsWith("/") || prefix.contains("//")) {
      throw new IllegalArgumentException("--etcd-prefix: '" + prefix + "' (expected: a key prefix that starts and "
          + "ends with '/', e.g. " + DEFAULT_PREFIX + ")");
    }
    return prefix;
  }

  public List<String> endpoints() {
    return endpoints;
  }

  public String prefix() {
    return prefix;
  }

  /** The key holding the intent. */
  public String intentKey() {
    return prefix + "intent";
  }

  /** The key holding the CA (see {@code internal.ca.EtcdCa}). */
  public String caKey() {
    return prefix + "ca";
  }

  /** The CA as stored, if one was written. */
  public Optional<Stored> readCa() throws IOException {
    GetResponse r = await(client.getKVClient().get(bytes(caKey())), "read " + caKey());
    return r.getKvs().stream().findFirst().map(kv -> new Stored(text(kv.getValue()), kv.getModRevision()));
  }

  /**
   * Writes the CA in one transaction if its key is still at {@code expectedModRevision}
   * ({@code 0}: only if there is none yet, so replicas starting together cannot overwrite each other).
   *
   * @return the revision written at, or empty when the key moved on (someone else wrote first)
   */
  public OptionalLong writeCa(String value, long expectedModRevision) throws IOException {
    ByteSequence key = bytes(caKey());
    TxnResponse r = await(client.getKVClient().txn()
        .If(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.modRevision(expectedModRevision)))
        .Then(Op.put(key, bytes(value), PutOption.DEFAULT)).commit(), "write " + caKey());
    return r.isSucceeded() ? OptionalLong.of(r.getHeader().getRevision()) : OptionalLong.empty();
  }

  /** The prefix under which instances are kept. */
  public String instancesPrefix() {
    return prefix + "instances/";
  }

  /** The key of one registered instance. */
  public String instanceKey(Registrations.Instance i) {
    return instancesPrefix() + i.service() + "/" + i.address();
  }

  /** Reads the intent and every instance at one revision. */
  public Contents readAll() throws IOException {
    GetResponse r = await(client.getKVClient().get(bytes(prefix),
        GetOption.builder().isPrefix(true).build()), "read " + prefix);
    Optional<Intent> intent = Optional.empty();
    Optional<Stored> ca = Optional.empty();
    SortedMap<String, KeyValue> instances = new TreeMap<>();
    for (KeyValue kv : r.getKvs()) {
      String key = text(kv.getKey());
      if (key.equals(intentKey())) {
        intent = Optional.of(new Intent(text(kv.getValue()), kv.getModRevision()));
      } else if (key.equals(caKey())) {
        ca = Optional.of(new Stored(text(kv.getValue()), kv.getModRevision()));
      } else if (key.startsWith(instancesPrefix())) {
        instances.put(key, kv);
      }
    }
    return new Contents(intent, instances, ca, r.getHeader().getRevision());
  }

  /** The intent, if one was written. */
  public Optional<Intent> readIntent() throws IOException {
    GetResponse r = await(client.getKVClient().get(bytes(intentKey())), "read " + intentKey());
    return r.getKvs().stream().findFirst().map(kv -> new Intent(text(kv.getValue()), kv.getModRevision()));
  }

  /**
   * Writes the intent in one transaction if its key is still at {@code expectedModRevision}
   * ({@code 0}: if there is no intent yet; negative: whatever is there).
   *
   * @return the revision written at, or empty when the key moved on (someone else wrote first)
   */
  public OptionalLong writeIntent(String text, long expectedModRevision) throws IOException {
    ByteSequence key = bytes(intentKey());
    Op put = Op.put(key, bytes(text), PutOption.DEFAULT);
    TxnResponse r;
    if (expectedModRevision < 0) {
      r = await(client.getKVClient().txn().Then(put).commit(), "write " + intentKey());
    } else {
      r = await(client.getKVClient().txn()
          .If(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.modRevision(expectedModRevision)))
          .Then(put).commit(), "write " + intentKey());
    }
    return r.isSucceeded() ? OptionalLong.of(r.getHeader().getRevision()) : OptionalLong.empty();
  }

  /** A new lease that lives {@code ttl} unless kept alive. */
  public long grantLease(Duration ttl) throws IOException {
    return await(client.getLeaseClient().grant(Math.max(1, ttl.toSeconds())), "grant a lease").getID();
  }

  /** Keeps a lease alive once; false when it has expired (or never existed). */
  public boolean keepAlive(long lease) throws IOException {
    try {
      return await(client.getLeaseClient().keepAliveOnce(lease), "keep lease alive").getTTL() > 0;
    } catch (IOException e) {
      if (e.getCause() != null && (e.getCause().getClass().getSimpleName().equals("NoSuchLeaseException")
          || String.valueOf(e.getCause().getMessage()).contains("lease not found"))) {
        return false;
      }
      throw e;
    }
  }

  /** Puts an instance with a lease; returns the revision it was written at. */
  public long putInstance(String key, String json, long lease) throws IOException {
    return await(client.getKVClient().put(bytes(key), bytes(json), PutOption.builder().withLeaseId(lease).build()),
        "write " + key).getHeader().getRevision();
  }

  /** Deletes an instance if it is still as written at {@code modRevision}; true if it was deleted. */
  public boolean deleteInstance(String key, long modRevision) throws IOException {
    ByteSequence k = bytes(key);
    return await(client.getKVClient().txn()
        .If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.modRevision(modRevision)))
        .Then(Op.delete(k, DeleteOption.DEFAULT)).commit(), "delete " + key).isSucceeded();
  }

  /** Watches everything under the prefix from a revision on. */
  public Watch.Watcher watch(long fromRevision, Watch.Listener listener) {
    return client.getWatchClient().watch(bytes(prefix),
        WatchOption.builder().isPrefix(true).withRevision(fromRevision).build(), listener);
  }

  @Override
  public void close() {
    client.close();
  }

  static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  static String text(ByteSequence b) {
    return b.toString(StandardCharsets.UTF_8);
  }

  private <T> T await(CompletableFuture<T> future, String what) throws IOException {
    try {
      return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      future.cancel(true);
      throw new IOException("etcd at " + String.join(",", endpoints) + ": cannot " + what + " within "
          + Durations.format(timeout) + " (serve --etcd-timeout)", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new IOException("etcd at " + String.join(",", endpoints) + ": cannot " + what + ": " + cause.getMessage(),
          cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for etcd to " + what, e);
    }
  }
}
