package io.meshlet.controlplane.testing;

/** Stops what a test started, all of it, even when some of it fails to close. */
public final class Closeables {

  private Closeables() {}

  /** Closes each in order, skipping nulls (never started); a failure to close one does not stop the rest. */
  public static void closeAll(AutoCloseable... closeables) {
    for (AutoCloseable c : closeables) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing the rest
      }
    }
  }
}
