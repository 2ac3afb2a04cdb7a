package io.meshlet.spring.autoconfigure;

import io.meshlet.identity.CaIdentitySource;
import io.meshlet.identity.FileIdentitySource;
import io.meshlet.identity.WorkloadIdentity;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The workload identity the starter's beans use, whatever its source: a supplier of the current
 * SVID (read at each TLS handshake, so rotation needs no new client) and a way to hear of new ones.
 * Made from the {@link CaIdentitySource} or {@link FileIdentitySource} bean; define a bean of this
 * type to use another source.
 *
 * <p>Thread-safe.
 */
public final class MeshIdentity implements Supplier<WorkloadIdentity> {

  private final Supplier<WorkloadIdentity> current;
  private final Consumer<Consumer<WorkloadIdentity>> subscribe;
  private final CountDownLatch first = new CountDownLatch(1);

  private MeshIdentity(Supplier<WorkloadIdentity> current, Consumer<Consumer<WorkloadIdentity>> subscribe) {
    this.current = Objects.requireNonNull(current, "current");
    this.subscribe = Objects.requireNonNull(subscribe, "subscribe");
    subscribe.accept(identity -> first.countDown());
    if (current.get() != null) {
      first.countDown();
    }
  }

  /**
   * An identity from any source.
   *
   * @param current the identity in force, or null before the first one
   * @param subscribe registers a listener called with every new identity
   */
  public static MeshIdentity of(Supplier<WorkloadIdentity> current, Consumer<Consumer<WorkloadIdentity>> subscribe) {
    return new MeshIdentity(current, subscribe);
  }

  public static MeshIdentity of(CaIdentitySource source) {
    return new MeshIdentity(source::current, source::addListener);
  }

  public static MeshIdentity of(FileIdentitySource source) {
    return new MeshIdentity(source::current, source::addListener);
  }

  /** The identity in force, or null before the first one. */
  @Override
  public WorkloadIdentity get() {
    return current.get();
  }

  /** Calls {@code listener} with every new identity, on the source's thread. */
  public void addListener(Consumer<WorkloadIdentity> listener) {
    subscribe.accept(listener);
  }

  /** Waits up to {@code timeout} for the first identity; true if it is here. */
  public boolean await(Duration timeout) throws InterruptedException {
    return first.await(timeout.toNanos(), TimeUnit.NANOSECONDS) || current.get() != null;
  }
}
