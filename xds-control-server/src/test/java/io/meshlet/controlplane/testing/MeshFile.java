package io.meshlet.controlplane.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** A mesh.yaml in a test's temporary folder, replaced atomically on each write. */
public final class MeshFile {

  /** A small valid intent: one gRPC service, catalog, sending 90% to subset v1 and 10% to v2. */
  public static final String CANARY = """
      services:
        catalog:
          protocol: grpc
          endpoints:
            - { address: 127.0.0.1:9001, labels: { version: v1 } }
          subsets: { v1: { version: v1 }, v2: { version: v2 } }
          routes:
            - match: { pathPrefix: / }
              to: [ { subset: v1, weight: 90 }, { subset: v2, weight: 10 } ]
      """;

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
