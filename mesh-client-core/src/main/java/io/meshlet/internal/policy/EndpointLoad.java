package io.meshlet.internal.policy;

import io.meshlet.internal.wire.LoadMetrics;
import java.util.concurrent.atomic.LongAdder;

/**
 * The load one endpoint has taken since the last load report: tries issued, succeeded and
 * failed, and their latencies as a histogram.
 *
 * <p>Cheap on the request path and lock-free: each try touches a few {@link LongAdder}s. A report
 * {@link #drain() drains} the counts; a try that ends while a report is being built is counted in
 * that report or the next, never lost or counted twice (each adder is read and reset at once).
 */
public final class EndpointLoad {

  private final LongAdder issued = new LongAdder();
  private final LongAdder succeeded = new LongAdder();
  private final LongAdder failed = new LongAdder();
  private final LongAdder denied = new LongAdder();
  private final LongAdder[] bucketCounts = new LongAdder[LoadMetrics.buckets()];
  private final LongAdder[] bucketMicros = new LongAdder[LoadMetrics.buckets()];

  public EndpointLoad() {
    for (int i = 0; i < bucketCounts.length; i++) {
      bucketCounts[i] = new LongAdder();
      bucketMicros[i] = new LongAdder();
    }
  }

  /** A try was sent to this endpoint. */
  public void issued() {
    issued.increment();
  }

  /** A try ended, after {@code nanos}; {@code failure} as Envoy counts an error (5xx or local failure). */
  public void finished(boolean failure, long nanos) {
    (failure ? failed : succeeded).increment();
    long micros = Math.max(0, nanos / 1_000);
    int b = LoadMetrics.bucketOfNanos(nanos);
    bucketCounts[b].increment();
    bucketMicros[b].add(micros);
  }

  /** A try that {@link #finished finished} was refused by the service's inbound authorization (403, marked). */
  public void denied() {
    denied.increment();
  }

  /** The counts since the last drain, reset to zero. */
  public Counts drain() {
    long[] counts = new long[bucketCounts.length];
    long[] micros = new long[bucketCounts.length];
    long latencyMicros = 0;   // the buckets' sum: one adder fewer on every try
    for (int i = 0; i < counts.length; i++) {
      counts[i] = bucketCounts[i].sumThenReset();
      micros[i] = bucketMicros[i].sumThenReset();
      latencyMicros += micros[i];
    }
    return new Counts(issued.sumThenReset(), succeeded.sumThenReset(), failed.sumThenReset(),
        denied.sumThenReset(), latencyMicros, counts, micros);
  }

  /**
   * Load over one report interval.
   *
   * @param denied tries the service's inbound authorization refused (also counted as succeeded or failed,
   *     as their status says: a 403 is not an error to LRS)
   * @param bucketCounts tries per latency bucket ({@link LoadMetrics})
   * @param bucketMicros their latency sums in microseconds
   */
  public record Counts(long issued, long succeeded, long failed, long denied, long latencyMicros, long[] bucketCounts,
      long[] bucketMicros) {

    /** Tries that ended, successful or not. */
    public long finished() {
      return succeeded + failed;
    }

    /** Whether nothing happened. */
    public boolean isEmpty() {
      return issued == 0 && finished() == 0;
    }
  }
}
