package io.meshlet.controlplane.internal.source;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.internal.intent.MeshYamlReader;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the mesh kept in etcd (see {@link EtcdStore} for the keys): the intent, validated by
 * {@link MeshYamlReader} exactly like a file, and every registered instance, ordered by key.
 * Every replica that follows the same etcd builds the same snapshot, with the same content-hash
 * versions.
 *
 * <p>When etcd cannot be reached the last good snapshot keeps being served; a probe each second
 * notices, {@link #unreachableSince()} reports it, and once etcd answers again everything is
 * read afresh and watched from that revision on. Changes are applied on the given executor,
 * one at a time.
 */
public final class EtcdSource implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EtcdSource.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  /** How long the watch may lag behind a probe's read before everything is read afresh. */
  private static final int STALE_PROBES = 3;

  private final EtcdStore store;
  private final MeshState state;
  private final ScheduledExecutorService executor;
  private final Clock clock;
  private final ScheduledExecutorService monitor = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "meshlet-etcd-monitor");
    t.setDaemon(true);
    return t;
  });

  // Guarded by running on `executor` (and by `this` in loadInitial, before the executor is used).
  private final SortedMap<String, Long> instanceRevisions = new TreeMap<>();
  private final SortedMap<String, Registrations.Instance> instanceMap = new TreeMap<>();
  private long intentRevision;
  private long revision;
  private long watchGeneration;
  private Watch.Watcher watcher;
  private int staleProbes;

  private volatile java.util.function.Consumer<Optional<EtcdStore.Stored>> caListener = ca -> {};
  private volatile List<Registrations.Instance> instances = List.of();
  private volatile Instant unreachableSince;
  private volatile boolean resyncNeeded;
  private volatile boolean closed;

  public EtcdSource(EtcdStore store, MeshState state, ScheduledExecutorService executor, Clock clock) {
    this.store = store;
    this.state = state;
    this.executor = executor;
    this.clock = clock;
  }

  /**
   * Reads the intent and the instances now and serves them. When etcd holds no intent yet and
   * a seed file is given, the file is validated and written first (only if there is still none).
   *
   * @throws MeshConfigException when the intent (or the seed) is invalid; nothing is served then
   * @throws IOException when etcd cannot be reached or holds no intent and there is no seed
   */
  public synchronized MeshConfig loadInitial(Optional<java.nio.file.Path> seed) throws IOException, MeshConfigException {
    EtcdStore.Contents contents = store.readAll();
    if (contents.intent().isEmpty()) {
      if (seed.isEmpty()) {
        throw new IOException("etcd at " + String.join(",", store.endpoints()) + " holds no intent at "
            + store.intentKey() + " (expected: one written by `import mesh.yaml --etcd ...`, or give --config FILE "
            + "to seed it)");
      }
      String text = java.nio.file.Files.readString(seed.get());
      MeshYamlReader.parse(text, seed.get().getFileName().toString());
      if (store.writeIntent(text, 0).isPresent()) {
        log.info("etcd held no intent: seeded {} from {}", store.intentKey(), seed.get());
      }
      contents = store.readAll();
    }
    EtcdStore.Intent intent = contents.intent().orElseThrow(() -> new IOException("intent vanished at start"));
    MeshConfig config = MeshYamlReader.parse(intent.text(), store.intentKey());
    intentRevision = intent.modRevision();
    replaceInstances(contents.instances());
    revision = contents.revision();
    state.apply(config, source());
    return config;
  }

  /** Starts watching from the revision read by {@link #loadInitial}, and probing etcd. */
  public void start() {
    executor.execute(() -> watchFrom(revision + 1));
    monitor.scheduleWithFixedDelay(this::probe, 1, 1, TimeUnit.SECONDS);
  }

  /**
   * Called on the executor with the CA key's value (empty once deleted) on every change the watch
   * sees, and after every fresh read (so possibly with a value already seen).
   */
  public void onCaChange(java.util.function.Consumer<Optional<EtcdStore.Stored>> listener) {
    this.caListener = listener;
  }

  /** Every registered instance in etcd, ordered by key. */
  public List<Registrations.Instance> instances() {
    return instances;
  }

  /** Since when etcd could not be reached, or empty when it can. */
  public Optional<Instant> unreachableSince() {
    return Optional.ofNullable(unreachableSince);
  }

  public EtcdStore store() {
    return store;
  }

  /** The revision at which the intent being followed was written. */
  public long intentRevision() {
    return intentRevision;
  }

  private String source() {
    return "etcd " + store.intentKey() + "@" + intentRevision;
  }

  private void watchFrom(long from) {
    if (closed) {
      return;
    }
    if (watcher != null) {
      watcher.close();
    }
    long generation = ++watchGeneration;
    watcher = store.watch(from, new Watch.Listener() {
      @Override
      public void onNext(WatchResponse response) {
        executor.execute(() -> {
          if (generation == watchGeneration) {
            onEvents(response);
          }
        });
      }

      @Override
      public void onError(Throwable error) {
        if (!closed) {
          log.warn("etcd watch failed: {}; will read everything afresh once etcd answers", error.toString());
          resyncNeeded = true;
        }
      }

      @Override
      public void onCompleted() {
        if (!closed) {
          resyncNeeded = true;
        }
      }
    });
  }

  private void onEvents(WatchResponse response) {
    boolean intentChanged = false;
    boolean instancesChanged = false;
    String intentText = null;
    Optional<EtcdStore.Stored> ca = null;
    for (WatchEvent e : response.getEvents()) {
      KeyValue kv = e.getKeyValue();
      String key = EtcdStore.text(kv.getKey());
      long rev = kv.getModRevision();
      revision = Math.max(revision, rev);
      if (key.equals(store.intentKey())) {
        if (e.getEventType() == WatchEvent.EventType.PUT && rev > intentRevision) {
          intentRevision = rev;
          intentText = EtcdStore.text(kv.getValue());
          intentChanged = true;
        } else if (e.getEventType() == WatchEvent.EventType.DELETE) {
          log.warn("{} was deleted; still serving the last good config (write a new intent with import)",
              store.intentKey());
        }
      } else if (key.equals(store.caKey())) {
        ca = e.getEventType() == WatchEvent.EventType.PUT
            ? Optional.of(new EtcdStore.Stored(EtcdStore.text(kv.getValue()), rev)) : Optional.empty();
      } else if (key.startsWith(store.instancesPrefix())) {
        if (e.getEventType() == WatchEvent.EventType.PUT) {
          Long known = instanceRevisions.get(key);
          if (known == null || rev > known) {
            instancesChanged |= putInstance(key, kv);
          }
        } else if (e.getEventType() == WatchEvent.EventType.DELETE) {
          instanceRevisions.remove(key);
          instancesChanged |= instanceMap.remove(key) != null;
        }
      }
    }
    if (ca != null) {
      caChanged(ca);
    }
    if (instancesChanged) {
      instances = List.copyOf(instanceMap.values());
    }
    if (intentChanged) {
      applyIntent(intentText, instancesChanged);
    } else if (instancesChanged) {
      state.registrationsChanged();
    }
  }

  private void caChanged(Optional<EtcdStore.Stored> ca) {
    try {
      caListener.accept(ca);
    } catch (RuntimeException e) {
      log.error("could not follow a change of {}", store.caKey(), e);
    }
  }

  private void applyIntent(String text, boolean instancesChanged) {
    try {
      state.apply(MeshYamlReader.parse(text, store.intentKey()), source());
    } catch (MeshConfigException e) {
      // Written around validation (etcdctl): refused like a bad file edit; the instances still count.
      state.refuse(source(), e.violations());
      if (instancesChanged) {
        state.registrationsChanged();
      }
    }
  }

  private boolean putInstance(String key, KeyValue kv) {
    instanceRevisions.put(key, kv.getModRevision());
    try {
      Registrations.Instance i = JSON.readValue(EtcdStore.text(kv.getValue()), Registrations.Instance.class);
      return !i.equals(instanceMap.put(key, i));
    } catch (IOException | RuntimeException ex) {
      log.warn("ignoring {}: not a registered instance ({})", key, ex.toString());
      return instanceMap.remove(key) != null;
    }
  }

  private void replaceInstances(Map<String, KeyValue> read) {
    instanceRevisions.clear();
    instanceMap.clear();
    read.forEach(this::putInstance);
    instances = List.copyOf(instanceMap.values());
  }

  /** Checks that etcd answers and that the watch has not fallen behind; catches up if needed. */
  private void probe() {
    if (closed) {
      return;
    }
    EtcdStore.Contents contents;
    try {
      contents = store.readAll();
    } catch (IOException e) {
      if (unreachableSince != null && store.reconnectIfReachable()) {
        log.info("etcd accepts connections again; reconnecting without waiting out gRPC's backoff");
        resyncNeeded = true;
      }
      if (unreachableSince == null) {
        unreachableSince = clock.instant();
        log.warn("etcd unreachable ({}); serving the last good config until it answers", e.getMessage());
      }
      return;
    }
    boolean reconnected = unreachableSince != null;
    if (reconnected) {
      log.info("etcd answers again (unreachable since {}); reading everything afresh", unreachableSince);
    }
    executor.execute(() -> compare(contents, reconnected));
  }

  private void compare(EtcdStore.Contents contents, boolean reconnected) {
    if (closed) {
      return;
    }
    boolean same = contents.intent().map(EtcdStore.Intent::modRevision).orElse(intentRevision) == intentRevision
        && sameInstances(contents.instances());
    staleProbes = same ? 0 : staleProbes + 1;
    if (reconnected || resyncNeeded || staleProbes >= STALE_PROBES) {
      if (!reconnected && !resyncNeeded) {
        log.warn("the etcd watch fell behind (etcd at revision {}, seen {}); reading everything afresh",
            contents.revision(), revision);
      }
      resync(contents);
    }
    unreachableSince = null;
  }

  private boolean sameInstances(SortedMap<String, KeyValue> read) {
    if (!read.keySet().equals(instanceRevisions.keySet())) {
      return false;
    }
    for (Map.Entry<String, KeyValue> e : read.entrySet()) {
      if (e.getValue().getModRevision() != instanceRevisions.get(e.getKey())) {
        return false;
      }
    }
    return true;
  }

  private void resync(EtcdStore.Contents contents) {
    resyncNeeded = false;
    staleProbes = 0;
    List<Registrations.Instance> before = instances;
    caChanged(contents.ca());
    replaceInstances(contents.instances());
    revision = contents.revision();
    boolean intentChanged = contents.intent().isPresent() && contents.intent().get().modRevision() != intentRevision;
    if (intentChanged) {
      intentRevision = contents.intent().get().modRevision();
      applyIntent(contents.intent().get().text(), !before.equals(instances));
    } else if (!before.equals(instances)) {
      state.registrationsChanged();
    }
    watchFrom(revision + 1);
  }

  @Override
  public void close() {
    closed = true;
    monitor.shutdownNow();
    if (watcher != null) {
      watcher.close();
    }
  }
}
