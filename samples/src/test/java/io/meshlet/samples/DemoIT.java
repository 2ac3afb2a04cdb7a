package io.meshlet.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs the README's demo, as a user would, in its quick mode and checks what it prints. */
class DemoIT {

  @Test
  void demoShowsTheCanaryMovingAndABadEditRefusedWithNoFailedCall(@TempDir Path dir) throws Exception {
    Path demoJar = Path.of("target", "meshlet-demo.jar");
    Path serverJar = Path.of("..", "xds-control-server", "target", "xds-control-server.jar");
    assertThat(demoJar).exists();
    assertThat(serverJar).exists();
    Path output = dir.resolve("demo.out");
    Process demo = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
        "-jar", demoJar.toString(), "--quick", "--server-jar", serverJar.toString())
        .redirectErrorStream(true)
        .redirectOutput(output.toFile())
        .start();
    try {
      assertThat(demo.waitFor(3, TimeUnit.MINUTES)).as("demo finished in time").isTrue();
      String out = Files.readString(output, StandardCharsets.UTF_8);
      assertThat(demo.exitValue()).as(out).isZero();
      assertThat(out)
          .contains("== 3. Calling xds:///catalog through grpc-java's own xDS client")
          .containsPattern("canary 90/10: +v1 #+ +(8[0-9]|9[0-9])\\.\\d%  v2")
          .containsPattern("canary 0/100: +v1 +0\\.0%  v2 #+ 100\\.0%")
          .contains("refused: mesh.yaml:19: service 'catalog': routes[1].timeout: two seconds "
              + "(expected: a duration such as 250ms, 2s, 1m or 1h)")
          .contains("(unchanged: true)")
          .containsPattern("node meshlet-demo-client:\\s+Cluster +subscribed")
          .containsPattern("\\d+ calls, 0 failed");
    } finally {
      demo.destroyForcibly();
      // The demo stops the control server it started; make sure no child outlives it.
      demo.descendants().forEach(ProcessHandle::destroyForcibly);
    }
  }
}
