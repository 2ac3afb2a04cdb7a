package io.meshlet.controlplane.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** A mesh.yaml in a test's temporary folder, replaced atomically on each write. */
public final class MeshFile {

  private final Path path;

  public MeshFile(Path dir) {
    this.path = dir.resolve("mesh.yaml");
  }

  public Path path() {
    return path;
  }

  public MeshFile write(String yaml) {
    try {
      Path tmp = Files.createTempFile(path.getParent(), "mesh", ".tmp");
      Files.writeString(tmp, yaml, StandardCharsets.UTF_8);
      Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return this;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
