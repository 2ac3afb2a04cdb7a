package io.meshlet.controlplane.internal.source;

import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.controlplane.intent.Violation;
import io.meshlet.controlplane.internal.intent.MeshYamlReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows a config file: polls its content and applies every edit that validates, refusing
 * (and logging) every edit that does not.
 *
 * <p>Polling the content, rather than file-system events, also follows editors that replace the
 * file and Kubernetes ConfigMaps that swap a symlink.
 */
public final class FileWatcher implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(FileWatcher.class);

  private final Path file;
  private final MeshState state;
  private final ScheduledExecutorService executor;
  private final Duration interval;
  private byte[] lastDigest;
  private boolean missingReported;
  private ScheduledFuture<?> task;

  public FileWatcher(Path file, MeshState state, ScheduledExecutorService executor, Duration interval) {
    this.file = file;
    this.state = state;
    this.executor = executor;
    this.interval = interval;
  }

  /**
   * Reads the file now and serves it.
   *
   * @throws MeshConfigException when the file is invalid; nothing is served then
   */
  public synchronized MeshConfig loadInitial() throws IOException, MeshConfigException {
    byte[] content = Files.readAllBytes(file);
    lastDigest = digest(content);
    MeshConfig config = MeshYamlReader.parse(content, name());
    state.apply(config, file.toString());
    return config;
  }

  /** Starts following the file. */
  public synchronized void start() {
    long ms = interval.toMillis();
    task = executor.scheduleWithFixedDelay(this::pollSafely, ms, ms, TimeUnit.MILLISECONDS);
  }

  private void pollSafely() {
    try {
      poll();
    } catch (RuntimeException e) {
      log.error("failed to reload {}; still serving the last good config", file, e);
    }
  }

  /** Checks the file once; applies or refuses it if its content changed. */
  public synchronized void poll() {
    byte[] content;
    try {
      content = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      if (!missingReported) {
        missingReported = true;
        state.refuse(file.toString(), List.of(new Violation(name(), 0, "", "",
            "file is missing", "the config file to exist; the last good config is still served")));
      }
      return;
    } catch (IOException e) {
      log.warn("cannot read {}: {}; still serving the last good config", file, e.toString());
      return;
    }
    missingReported = false;
    byte[] digest = digest(content);
    if (Arrays.equals(digest, lastDigest)) {
      return;
    }
    lastDigest = digest;
    log.info("{} changed; validating", file);
    try {
      state.apply(MeshYamlReader.parse(content, name()), file.toString());
    } catch (MeshConfigException e) {
      state.refuse(file.toString(), e.violations());
    }
  }

  @Override
  public synchronized void close() {
    if (task != null) {
      task.cancel(false);
    }
  }

  private String name() {
    return file.getFileName() == null ? file.toString() : file.getFileName().toString();
  }

  private static byte[] digest(byte[] content) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(content);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
