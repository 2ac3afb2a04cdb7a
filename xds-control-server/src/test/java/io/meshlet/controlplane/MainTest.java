package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {

  @TempDir Path dir;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void validateAcceptsAGoodFile() throws Exception {
    Path file = Files.writeString(dir.resolve("mesh.yaml"), MeshConfigParserTest.SAMPLE);
    assertThat(run("validate", file.toString())).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(file + ": valid (1 service)\n");
  }

  @Test
  void validateRefusesABadFileWithEveryError() throws Exception {
    Path file = Files.writeString(dir.resolve("mesh.yaml"), """
        services:
          payments:
            outlierDetection: { maxEjectionPercent: 140 }
            routes: [ { to: [ { subset: v3 } ] } ]
        """);
    assertThat(run("validate", file.toString())).isEqualTo(1);
    assertThat(err()).isEqualTo(file + ": 2 errors:\n"
        + "  mesh.yaml:3: service 'payments': outlierDetection.maxEjectionPercent: 140 (expected: 0..100)\n"
        + "  mesh.yaml:4: service 'payments': routes[0].to[0].subset: v3 "
        + "(expected: a subset defined under subsets; this service defines none)\n");
  }

  @Test
  void wrongUsageExitsTwoWithHelp() {
    assertThat(run()).isEqualTo(2);
    assertThat(err()).contains("usage: xds-control-server <command>");
    assertThat(run("serve-all")).isEqualTo(2);
    assertThat(err()).contains("error: unknown command 'serve-all' (expected: serve, validate or help)");
  }

  @Test
  void validateOfAMissingFileExitsTwo() {
    assertThat(run("validate", dir.resolve("nope.yaml").toString())).isEqualTo(2);
    assertThat(err()).endsWith("nope.yaml: no such file\n");
  }

  @Test
  void serveChecksItsOptionsBeforeStarting() throws Exception {
    assertThat(run("serve")).isEqualTo(2);
    assertThat(err()).contains("error: serve needs --config FILE");
    Path file = Files.writeString(dir.resolve("mesh.yaml"), "services: {}\n");
    assertThat(run("serve", "--config", file.toString(), "--xds-port", "eighteen")).isEqualTo(2);
    assertThat(err()).contains("error: --xds-port: eighteen (expected: a port number in 0..65535)");
    assertThat(run("serve", "--config", file.toString(), "--admin-port", "70000")).isEqualTo(2);
    assertThat(err()).contains("error: --admin-port: port: 70000 (expected: 0..65535)");
  }

  @Test
  void serveRefusesToStartOnABadFile() throws Exception {
    Path file = Files.writeString(dir.resolve("mesh.yaml"), "services: { a: { protocol: tcp } }\n");
    assertThat(run("serve", "--config", file.toString(), "--xds-port", "0", "--admin-port", "0")).isEqualTo(1);
    assertThat(err()).contains("refusing to start: 1 error:\n  mesh.yaml:1: service 'a': protocol: tcp");
  }
}
