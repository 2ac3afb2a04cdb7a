package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.controlplane.testing.DesignSample;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {

  @TempDir Path dir;

  private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
  private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();

  private int run(String... args) {
    try (PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8)) {
      return Main.run(args, out, err);
    }
  }

  private String out() {
    return outBytes.toString(StandardCharsets.UTF_8);
  }

  private String err() {
    return errBytes.toString(StandardCharsets.UTF_8);
  }

  private Path write(String name, String yaml) throws Exception {
    return Files.writeString(dir.resolve(name), yaml, StandardCharsets.UTF_8);
  }

  @Test
  void validateAcceptsAGoodFile() throws Exception {
    Path file = write("mesh.yaml", DesignSample.MESH_YAML);

    assertThat(run("validate", file.toString())).isEqualTo(Main.OK);
    assertThat(out()).isEqualTo(file + ": valid (1 service)" + System.lineSeparator());
    assertThat(err()).isEmpty();
  }

  @Test
  void validateCountsServices() throws Exception {
    Path file = write("mesh.yaml", "services: { a: {}, b: {} }\n");

    assertThat(run("validate", file.toString())).isEqualTo(Main.OK);
    assertThat(out()).contains(": valid (2 services)");
  }

  @Test
  void validateRefusesABadFileWithEveryViolation() throws Exception {
    Path file = write("mesh.yaml", """
        services:
          payments:
            protocol: soap
            outlierDetection: { maxEjectionPercent: 140 }
        """);

    assertThat(run("validate", file.toString())).isEqualTo(Main.INVALID_CONFIG);
    assertThat(out()).isEmpty();
    assertThat(err()).isEqualTo(file + ": 2 errors:\n"
        + "  mesh.yaml:3: service 'payments': protocol: soap (expected: one of http, grpc)\n"
        + "  mesh.yaml:4: service 'payments': outlierDetection.maxEjectionPercent: 140 (expected: 0..100)"
        + System.lineSeparator());
  }

  @Test
  void noArgumentsPrintsUsage() {
    assertThat(run()).isEqualTo(Main.USAGE);
    assertThat(err()).isEqualTo(Main.USAGE_TEXT);
    assertThat(out()).isEmpty();
  }

  @Test
  void helpPrintsUsageToOut() {
    assertThat(run("help")).isEqualTo(Main.OK);
    assertThat(out()).isEqualTo(Main.USAGE_TEXT);
    assertThat(err()).isEmpty();
  }

  @Test
  void unknownCommandIsAUsageError() {
    assertThat(run("launch")).isEqualTo(Main.USAGE);
    assertThat(err()).isEqualTo("error: unknown command 'launch' (expected: serve, validate, import, export, status "
        + "or help)"
        + System.lineSeparator() + Main.USAGE_TEXT);
  }

  @Test
  void validateOfAMissingFileIsAUsageError() {
    Path missing = dir.resolve("nope.yaml");

    assertThat(run("validate", missing.toString())).isEqualTo(Main.USAGE);
    assertThat(err()).isEqualTo(missing + ": no such file" + System.lineSeparator());
  }

  @Test
  void validateTakesExactlyOneFile() {
    assertThat(run("validate")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: validate takes exactly one file, e.g. validate mesh.yaml");
  }

  @Test
  void serveWithoutConfigIsAUsageError() {
    assertThat(run("serve", "--xds-port", "0")).isEqualTo(Main.USAGE);
    assertThat(err()).isEqualTo("error: serve needs --config FILE or --etcd URLS" + System.lineSeparator() + Main.USAGE_TEXT);
  }

  @Test
  void kubeconfigAndNamespaceGoWithKubernetes() throws Exception {
    Path file = write("mesh.yaml", "services: {}\n");

    assertThat(run("serve", "--config", file.toString(), "--namespace", "shop")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: --kubeconfig and --namespace go with --kubernetes" + System.lineSeparator());
  }

  @Test
  void aNamespaceThatKubernetesWouldRefuseIsAUsageError() throws Exception {
    Path file = write("mesh.yaml", "services: {}\n");

    assertThat(run("serve", "--config", file.toString(), "--kubernetes", "--namespace", "shop,Bad_NS"))
        .isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: --namespace: 'Bad_NS' (expected: a Kubernetes namespace name, lower-case "
        + "letters, digits and '-')" + System.lineSeparator());
  }

  @Test
  void serveWithANonNumericPortSaysWhatAPortIs() throws Exception {
    Path file = write("mesh.yaml", "services: {}\n");

    assertThat(run("serve", "--config", file.toString(), "--xds-port", "eighteen")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: --xds-port: eighteen (expected: a port number in 0..65535)"
        + System.lineSeparator());
  }

  @Test
  void serveWithAPortOutOfRangeSaysWhatAPortIs() throws Exception {
    Path file = write("mesh.yaml", "services: {}\n");

    assertThat(run("serve", "--config", file.toString(), "--admin-port", "70000")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: --admin-port: 70000 (expected: a port number in 0..65535)"
        + System.lineSeparator());
  }

  @Test
  void serveWithAnUnknownOptionNamesIt() {
    assertThat(run("serve", "--config", "mesh.yaml", "--verbose")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: unknown option '--verbose' for serve"
        + " (expected: one of --config, --xds-port, --admin-port, --bind, --admin-bind, --admin-token-file, --ca-dir,"
        + " --join-tokens, --state-dir, --registration-grace, --etcd, --etcd-prefix, --etcd-timeout, --lease-ttl,"
        + " --ca-key-encryption-key, --server-name, --trust-bundle, --xds-plaintext, --allow-plaintext-registration,"
        + " --kubernetes, --kubeconfig, --namespace)"
        + System.lineSeparator());
  }

  @Test
  void anEtcdTimeoutThatIsNoDurationSaysWhatOneIs() {
    assertThat(run("serve", "--etcd", "http://127.0.0.1:2379", "--etcd-timeout", "soon")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: --etcd-timeout: soon (expected: a duration of at least 100ms such as 3s)");

    assertThat(run("export", "--etcd", "http://127.0.0.1:2379", "--etcd-timeout", "5ms")).isEqualTo(Main.USAGE);
    assertThat(err()).contains("error: --etcd-timeout: 5ms (expected: a duration of at least 100ms such as 3s)");
  }

  @Test
  void plaintextRegistrationWithoutPlaintextXdsIsAUsageError() {
    assertThat(run("serve", "--config", "mesh.yaml", "--allow-plaintext-registration")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: --allow-plaintext-registration goes with --xds-plaintext (over TLS, "
        + "registrations are bound to the workload's SVID)");
  }

  @Test
  void serveWithAKeyEncryptionKeyButNoEtcdIsAUsageError() throws Exception {
    Path file = write("mesh.yaml", "services: {}\n");

    assertThat(run("serve", "--config", file.toString(), "--ca-key-encryption-key", "kek.b64")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: --ca-key-encryption-key goes with --etcd: it seals the CA's keys kept in "
        + "etcd (a server following a file keeps its CA in --ca-dir)" + System.lineSeparator());
  }

  @Test
  void serveOverEtcdWithNeitherAKeyEncryptionKeyNorACaDirectoryIsAUsageError() {
    // Each replica would make its own root in memory: workloads of different replicas could not talk.
    assertThat(run("serve", "--etcd", "http://127.0.0.1:2379")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: serve --etcd needs --ca-key-encryption-key FILE (the same on every "
        + "replica: the CA is shared through etcd, sealed) or --ca-dir DIR (holding the same CA on every replica)"
        + System.lineSeparator());
    assertThat(Main.USAGE_TEXT).contains("--ca-key-encryption-key FILE  with --etcd: share one CA between the "
        + "replicas through etcd");
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> badKeyEncryptionKeys() {
    byte[] random = new byte[32];
    new java.security.SecureRandom().nextBytes(random);
    String good = java.util.Base64.getEncoder().encodeToString(random);
    return java.util.stream.Stream.of(
        org.junit.jupiter.params.provider.Arguments.of("", "rw-------", "empty (expected: one line, 32 random "
            + "bytes in base64, such as the output of: openssl rand -base64 32)"),
        org.junit.jupiter.params.provider.Arguments.of(good.substring(0, 24), "rw-------", "18 bytes once decoded "
            + "(expected: one line, 32 random bytes in base64, such as the output of: openssl rand -base64 32)"),
        org.junit.jupiter.params.provider.Arguments.of("not base64 at all!", "rw-------", "not base64 (expected: "
            + "one line, 32 random bytes in base64, such as the output of: openssl rand -base64 32)"),
        org.junit.jupiter.params.provider.Arguments.of(good + "\n" + good, "rw-------", "more than one line "
            + "(expected: one line, 32 random bytes in base64, such as the output of: openssl rand -base64 32)"),
        org.junit.jupiter.params.provider.Arguments.of(java.util.Base64.getEncoder().encodeToString(new byte[32]),
            "rw-------", "every byte is the same, not a random key (expected: one line, 32 random bytes in "
            + "base64, such as the output of: openssl rand -base64 32)"),
        org.junit.jupiter.params.provider.Arguments.of(good, "rw-r--r--", "readable by every user (mode "
            + "rw-r--r--; expected: chmod 600 or 640, or in Kubernetes a secret volume with defaultMode: 0440 and "
            + "the pod's fsGroup)"));
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("badKeyEncryptionKeys")
  void serveRefusesABadKeyEncryptionKeyBeforeReachingEtcd(String content, String mode, String why) throws Exception {
    Path kek = write("kek.b64", content);
    java.nio.file.Files.setPosixFilePermissions(kek, java.nio.file.attribute.PosixFilePermissions.fromString(mode));

    // Port 1: nothing listens there, and nothing is asked of it: the file is checked first.
    assertThat(run("serve", "--etcd", "http://127.0.0.1:1", "--ca-key-encryption-key", kek.toString(),
        "--xds-port", "0", "--admin-port", "0")).isEqualTo(Main.FAILED);
    assertThat(err()).isEqualTo("cannot start: --ca-key-encryption-key " + kek + ": " + why + System.lineSeparator());
  }

  @Test
  void serveRefusesAMissingKeyEncryptionKeyFile() {
    Path missing = dir.resolve("nope.b64");

    assertThat(run("serve", "--etcd", "http://127.0.0.1:1", "--ca-key-encryption-key", missing.toString(),
        "--xds-port", "0", "--admin-port", "0")).isEqualTo(Main.FAILED);
    assertThat(err()).isEqualTo("cannot start: --ca-key-encryption-key " + missing + ": no such file"
        + System.lineSeparator());
  }

  @Test
  void serveWithABadRegistrationGraceNamesIt() {
    int code = run("serve", "--config", "mesh.yaml", "--registration-grace", "soon");

    assertThat(code).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: --registration-grace: soon (expected: a duration such as 30s or 2m)");
  }

  @Test
  void serveWithAnOptionMissingItsValueSaysSo() {
    assertThat(run("serve", "--config")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: --config needs a value" + System.lineSeparator());
  }

  @Test
  void serveWithAMissingFileIsAUsageError() {
    Path missing = dir.resolve("nope.yaml");

    assertThat(run("serve", "--config", missing.toString())).isEqualTo(Main.USAGE);
    assertThat(err()).isEqualTo(missing + ": no such file" + System.lineSeparator());
  }

  @Test
  void serveRefusesABadFileBeforeOpeningAnyPort() throws Exception {
    // The config is loaded before any port is bound, so this starts nothing.
    Path file = write("mesh.yaml", "services:\n  payments:\n    protocol: soap\n");

    assertThat(run("serve", "--config", file.toString(), "--xds-port", "0", "--admin-port", "0"))
        .isEqualTo(Main.INVALID_CONFIG);
    assertThat(err()).startsWith(file + ": refusing to start: 1 error:\n")
        .contains("mesh.yaml:3: service 'payments': protocol: soap (expected: one of http, grpc)");
  }

  @Test
  void serveWithABadEtcdUrlNamesIt() {
    assertThat(run("serve", "--etcd", "127.0.0.1:2379")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: --etcd: '127.0.0.1:2379' (expected: comma-separated client URLs such as "
        + "http://10.0.0.1:2379,http://10.0.0.2:2379)" + System.lineSeparator());
  }

  @Test
  void serveWithEtcdAndAStateDirectoryIsAUsageError() {
    assertThat(run("serve", "--etcd", "http://127.0.0.1:2379", "--state-dir", dir.toString()))
        .isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: --state-dir and --etcd exclude each other");
  }

  @Test
  void importWithoutEtcdIsAUsageError() throws Exception {
    Path file = write("mesh.yaml", "services: { a: {} }\n");

    assertThat(run("import", file.toString())).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: import needs --etcd URLS, e.g. --etcd http://127.0.0.1:2379");
  }

  @Test
  void importRefusesABadFileWholeBeforeContactingEtcd() throws Exception {
    // Nothing listens on port 1: a bad file must be refused without trying to write anything.
    Path file = write("mesh.yaml", "services:\n  payments:\n    protocol: soap\n");

    assertThat(run("import", file.toString(), "--etcd", "http://127.0.0.1:1")).isEqualTo(Main.INVALID_CONFIG);
    assertThat(err()).isEqualTo(file + ": 1 error:\n"
        + "  mesh.yaml:3: service 'payments': protocol: soap (expected: one of http, grpc)" + System.lineSeparator()
        + file + ": refused, nothing was written to etcd" + System.lineSeparator());
  }

  @Test
  void exportTakesNoFile() {
    assertThat(run("export", "mesh.yaml", "--etcd", "http://127.0.0.1:2379")).isEqualTo(Main.USAGE);
    assertThat(err()).startsWith("error: export takes no file");
  }

  // ---- the admin API's address and token: checked before any port opens ----

  private Path token(String content, String mode) throws Exception {
    Path file = Files.writeString(dir.resolve("admin.token"), content, StandardCharsets.US_ASCII);
    Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString(mode));
    return file;
  }

  @Test
  void serveRefusesAnAdminApiBeyondLoopbackWithoutAToken() throws Exception {
    Path file = write("mesh.yaml", "services: {}\n");

    assertThat(run("serve", "--config", file.toString(), "--admin-bind", "0.0.0.0", "--xds-port", "0",
        "--admin-port", "0")).isEqualTo(Main.FAILED);
    assertThat(err()).isEqualTo("cannot start: --admin-bind 0.0.0.0 is not a loopback address and no "
        + "--admin-token-file is given: the admin API shows the whole mesh and changes its config and CA "
        + "(expected: --admin-token-file FILE with a bearer token, or --admin-bind 127.0.0.1)" + System.lineSeparator());
  }

  @Test
  void serveRefusesAMissingAdminTokenFile() throws Exception {
    Path file = write("mesh.yaml", "services: {}\n");
    Path missing = dir.resolve("nope.token");

    assertThat(run("serve", "--config", file.toString(), "--admin-token-file", missing.toString()))
        .isEqualTo(Main.FAILED);
    assertThat(err()).isEqualTo("cannot start: --admin-token-file " + missing + ": no such file"
        + System.lineSeparator());
  }

  @Test
  void serveRefusesAnEmptyAdminTokenFile() throws Exception {
    Path file = write("mesh.yaml", "services: {}\n");
    Path token = token(" \n", "rw-------");

    assertThat(run("serve", "--config", file.toString(), "--admin-token-file", token.toString()))
        .isEqualTo(Main.FAILED);
    assertThat(err()).isEqualTo("cannot start: --admin-token-file " + token + ": empty (expected: one line, the "
        + "token, such as the output of: openssl rand -hex 32)" + System.lineSeparator());
  }

  @Test
  void serveRefusesAnAdminTokenFileEveryUserCanRead() throws Exception {
    Path file = write("mesh.yaml", "services: {}\n");
    Path token = token("0123456789abcdef0123456789abcdef\n", "rw-r--r--");

    assertThat(run("serve", "--config", file.toString(), "--admin-token-file", token.toString()))
        .isEqualTo(Main.FAILED);
    assertThat(err()).isEqualTo("cannot start: --admin-token-file " + token + ": readable by every user (mode "
        + "rw-r--r--; expected: chmod 600 or 640, or in Kubernetes a secret volume with defaultMode: 0440 and the pod's fsGroup)"
        + System.lineSeparator());
  }

  @Test
  void serveRefusesAShortAdminTokenWithoutShowingIt() throws Exception {
    Path file = write("mesh.yaml", "services: {}\n");
    Path token = token("hunter2\n", "rw-------");

    assertThat(run("serve", "--config", file.toString(), "--admin-token-file", token.toString()))
        .isEqualTo(Main.FAILED);
    assertThat(err()).isEqualTo("cannot start: --admin-token-file " + token + ": the token has 7 characters "
        + "(expected: at least 32, such as the output of: openssl rand -hex 32)" + System.lineSeparator())
        .doesNotContain("hunter2");
  }

  @Test
  void serveRefusesAnAdminTokenOfTwoWordsWithoutShowingIt() throws Exception {
    Path file = write("mesh.yaml", "services: {}\n");
    Path token = token("0123456789abcdef 0123456789abcdef\n", "rw-r-----");

    assertThat(run("serve", "--config", file.toString(), "--admin-token-file", token.toString()))
        .isEqualTo(Main.FAILED);
    assertThat(err()).isEqualTo("cannot start: --admin-token-file " + token + ": white space or a control "
        + "character at character 17 of the token (expected: one line of visible ASCII characters, such as the "
        + "output of: openssl rand -hex 32)" + System.lineSeparator()).doesNotContain("0123");
  }

  @Test
  void usageNamesTheAdminFlags() {
    assertThat(run("help")).isEqualTo(Main.OK);
    assertThat(out()).contains("--admin-bind ADDRESS", "--admin-token-file FILE");
  }
}
