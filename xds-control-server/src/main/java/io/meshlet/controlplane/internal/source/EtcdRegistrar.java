package io.meshlet.controlplane.internal.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the instances registered on this replica's xDS streams to etcd, each attached to this
 * replica's lease, and keeps the lease alive. A replica that dies stops renewing it, so etcd
 * drops the instances it held after the lease TTL, unless their workloads reconnected to another
 * replica first: that replica writes them again under its own lease.
 *
 * <p>An instance whose stream ends is deleted only if its key is still as this replica wrote it,
 * so a workload that already moved to another replica keeps its registration. A replica that
 * shuts down deletes nothing: its workloads reconnect elsewhere within the TTL.
 *
 * <p>Works on its own thread; failed writes are retried each second until etcd answers.
 */
public final class EtcdRegistrar implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EtcdRegistrar.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private record Written(String json, long modRevision, long lease) {}

  private final EtcdStore store;
  private final Registrations registrations;
  private final Duration ttl;
  private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "meshlet-etcd-registrar");
    t.setDaemon(true);
    return t;
  });
  // Only touched on `executor`.
  private final Map<String, Written> written = new HashMap<>();
  private long lease;
  private boolean failing;

  public EtcdRegistrar(EtcdStore store, Registrations registrations, Duration ttl) {
    this.store = store;
    this.registrations = registrations;
    this.ttl = ttl;
  }

  /** Starts keeping the lease alive (every third of the TTL) and writing the instances. */
  public void start() {
    long every = Math.max(200, ttl.toMillis() / 3);
    executor.scheduleWithFixedDelay(this::renew, 0, every, TimeUnit.MILLISECONDS);
    executor.scheduleWithFixedDelay(this::sync, 1, 1, TimeUnit.SECONDS);
  }

  /** The registered instances changed: write them. */
  public void changed() {
    executor.execute(this::sync);
  }

  private void renew() {
    try {
      if (lease != 0 && store.keepAlive(lease)) {
        recovered();
        return;
      }
      if (lease != 0) {
        log.warn("lease {} expired (etcd was unreachable for longer than {}); registering this replica's "
            + "instances again under a new lease", Long.toHexString(lease), ttl);
      }
      lease = store.grantLease(ttl);
      recovered();
      written.clear();
      sync();
    } catch (IOException e) {
      failed(e);
    }
  }

  private void sync() {
    if (lease == 0) {
      return;
    }
    Map<String, String> desired = new LinkedHashMap<>();
    for (Registrations.Instance i : registrations.liveInstances()) {
      desired.putIfAbsent(store.instanceKey(i), json(i));
    }
    try {
      for (Map.Entry<String, String> e : desired.entrySet()) {
        Written w = written.get(e.getKey());
        if (w == null || !w.json().equals(e.getValue()) || w.lease() != lease) {
          long rev = store.putInstance(e.getKey(), e.getValue(), lease);
          written.put(e.getKey(), new Written(e.getValue(), rev, lease));
          recovered();
        }
      }
      for (String key : written.keySet().toArray(String[]::new)) {
        if (!desired.containsKey(key)) {
          if (!store.deleteInstance(key, written.get(key).modRevision())) {
            log.info("{} is held by another replica now; left as it is", key);
          }
          written.remove(key);
          recovered();
        }
      }
    } catch (IOException e) {
      failed(e);
    }
  }

  private void recovered() {
    if (failing) {
      failing = false;
      log.info("etcd answers the registrar again");
    }
  }

  private void failed(IOException e) {
    if (!failing) {
      failing = true;
      log.warn("cannot keep this replica's registered instances in etcd ({}); retrying", e.getMessage());
    }
  }

  private static String json(Registrations.Instance i) {
    try {
      return JSON.writeValueAsString(i);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Stops writing; the lease is left to expire, so this replica's workloads can move first. */
  @Override
  public void close() {
    executor.shutdownNow();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
