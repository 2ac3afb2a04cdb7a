package io.meshlet.internal.wire;

/**
 * The names Meshlet gives its latency figures in a load report, shared by the client that sends
 * them and the control server that reads them: one home for the wire names.
 *
 * <p>LRS has no latency field; Envoy's {@code load_metric_stats} carry named metrics (grpc-java
 * puts ORCA backend metrics there). A Meshlet client reports, per endpoint, the sum and count of
 * its tries' latencies as {@link #LATENCY_MS}, and a histogram as one metric per bucket,
 * {@link #bucketName(int) meshlet.latency_ms.le_<bound>}: {@code num_requests_finished_with_metric}
 * is the number of tries that took at most that bound and more than the previous one (buckets
 * are not cumulative), {@code total_metric_value} their latency sum in milliseconds.
 *
 * <p>Tries the called service's inbound authorization refused (a 403 marked
 * {@link WireNames#DENIED_HEADER}) are reported as {@link #DENIED}: {@code num_requests_finished_with_metric}
 * and {@code total_metric_value} are both their count. LRS counts only 5xx and local failures as
 * errors, so without it a refused caller would look healthy.
 */
public final class LoadMetrics {

  /** Sum (milliseconds) and count of the tries' latencies. */
  public static final String LATENCY_MS = "meshlet.latency_ms";
  /** Tries refused by the called service's inbound authorization (403 with {@link WireNames#DENIED_HEADER}). */
  public static final String DENIED = "meshlet.denied";
  /** Prefix of the histogram buckets' names. */
  public static final String BUCKET_PREFIX = LATENCY_MS + ".le_";
  /** The name of the last bucket, without an upper bound. */
  public static final String BUCKET_INF = BUCKET_PREFIX + "inf";
  /** Upper bounds of the histogram buckets, in milliseconds; a last bucket takes the rest. */
  private static final int[] BOUNDS_MS = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

  private LoadMetrics() {}

  /** How many buckets there are, the unbounded last one included. */
  public static int buckets() {
    return BOUNDS_MS.length + 1;
  }

  /** The upper bound of bucket {@code i} in milliseconds; {@link Double#POSITIVE_INFINITY} for the last. */
  public static double upperBoundMillis(int i) {
    return i < BOUNDS_MS.length ? BOUNDS_MS[i] : Double.POSITIVE_INFINITY;
  }

  /** The wire name of bucket {@code i}. */
  public static String bucketName(int i) {
    return i < BOUNDS_MS.length ? BUCKET_PREFIX + BOUNDS_MS[i] : BUCKET_INF;
  }

  /** The bucket of a wire name, or -1 when it is not one. */
  public static int bucketOf(String name) {
    if (!name.startsWith(BUCKET_PREFIX)) {
      return -1;
    }
    for (int i = 0; i < buckets(); i++) {
      if (bucketName(i).equals(name)) {
        return i;
      }
    }
    return -1;
  }

  /** The bucket a latency falls in. */
  public static int bucketOfNanos(long nanos) {
    long micros = nanos / 1_000;
    for (int i = 0; i < BOUNDS_MS.length; i++) {
      if (micros <= BOUNDS_MS[i] * 1_000L) {
        return i;
      }
    }
    return BOUNDS_MS.length;
  }
}
