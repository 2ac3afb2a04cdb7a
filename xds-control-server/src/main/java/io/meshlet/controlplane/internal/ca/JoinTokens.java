package io.meshlet.controlplane.internal.ca;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/** Reads a join token file: one line per service, {@code <service>: <token>}. */
public final class JoinTokens {

  /** Tokens shorter than this are refused as guessable. */
  static final int MIN_LENGTH = 16;

  private JoinTokens() {}

  /** The tokens by service; every problem of the file in one exception. */
  public static Map<String, String> load(Path file) throws IOException {
    Object doc;
    try {
      doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(Files.readString(file, StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      throw new IOException(file + ": not valid YAML (" + e.getMessage() + ")");
    }
    if (!(doc instanceof Map<?, ?> map)) {
      throw new IOException(file + ": not a mapping (expected: lines of <service>: <token>)");
    }
    Map<String, String> tokens = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    map.forEach((k, v) -> {
      String service = String.valueOf(k);
      if (!(v instanceof String token) || token.length() < MIN_LENGTH) {
        problems.add(file.getFileName() + ": " + service + ": a token of "
            + (v instanceof String t ? t.length() + " characters" : "type " + (v == null ? "null" : v.getClass().getSimpleName()))
            + " (expected: a string of at least " + MIN_LENGTH + " characters)");
      } else {
        tokens.put(service, token);
      }
    });
    if (!problems.isEmpty()) {
      throw new IOException(String.join("\n", problems));
    }
    return tokens;
  }
}
