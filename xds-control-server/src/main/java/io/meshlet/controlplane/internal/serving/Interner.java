package io.meshlet.controlplane.internal.serving;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Hands out one shared instance per distinct immutable value, so that the many streams that
 * subscribe to the same names (nearly every client of a mesh) hold one copy between them instead
 * of one each: with 50,000 streams, the difference between a pointer and a few KiB per stream.
 *
 * <p>Bounded: after {@code max} distinct values, a new one is returned as given (not shared), so
 * subscription churn cannot grow it without limit. Values that nobody uses any more stay until
 * then; {@code max} times the size of a subscription is what it can hold. Thread-safe.
 */
public final class Interner<T> {

  private final Map<T, T> values = new ConcurrentHashMap<>();
  private final int max;

  public Interner(int max) {
    this.max = max;
  }

  /** The shared instance equal to {@code value}: {@code value} itself when it is the first (or past the bound). */
  public T intern(T value) {
    T shared = values.get(value);
    if (shared != null) {
      return shared;
    }
    if (values.size() >= max) {
      return value;
    }
    shared = values.putIfAbsent(value, value);
    return shared != null ? shared : value;
  }

  /** Distinct values held. */
  public int size() {
    return values.size();
  }
}
