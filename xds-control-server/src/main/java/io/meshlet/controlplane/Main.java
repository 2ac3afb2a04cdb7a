package io.meshlet.controlplane;

import io.meshlet.controlplane.intent.MeshConfig;
import io.meshlet.controlplane.intent.MeshConfigException;
import io.meshlet.internal.wire.Durations;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The control server's command line.
 *
 * <pre>
 * java -jar xds-control-server.jar serve --config mesh.yaml [--xds-port 18000] [--admin-port 18001]
 *                                        [--bind 127.0.0.1] [--admin-bind 127.0.0.1]
 *                                        [--admin-token-file admin.token]
 *                                        [--kubernetes [--kubeconfig FILE] [--namespace NS ...]]
 * java -jar xds-control-server.jar serve --etcd http://10.0.0.1:2379,http://10.0.0.2:2379 [--config seed.yaml]
 *                                        --ca-key-encryption-key ca-kek.b64 [--ca-dir DIR]
 * java -jar xds-control-server.jar validate mesh.yaml
 * java -jar xds-control-server.jar import mesh.yaml --etcd URLS
 * java -jar xds-control-server.jar export --etcd URLS
 * </pre>
 *
 * <p>Exit codes: 0 success, 1 invalid config (or, for export, no intent in etcd), 2 wrong usage or
 * an unreadable file, 3 the server could not start or etcd could not be reached.
 */
public final class Main {

  static final int OK = 0;
  static final int INVALID_CONFIG = 1;
  static final int USAGE = 2;
  static final int FAILED = 3;

  static final List<String> SERVE_OPTIONS = List.of("--config", "--xds-port", "--admin-port", "--bind",
      "--admin-bind", "--admin-token-file", "--ca-dir", "--join-tokens", "--state-dir", "--registration-grace",
      "--etcd", "--etcd-prefix", "--etcd-timeout", "--lease-ttl", "--ca-key-encryption-key", "--server-name", "--trust-bundle", "--xds-plaintext",
      "--allow-plaintext-registration", "--kubernetes", "--kubeconfig", "--namespace");
  /** Options of serve that take no value. */
  static final List<String> SERVE_SWITCHES = List.of("--xds-plaintext", "--allow-plaintext-registration",
      "--kubernetes");
  private static final List<String> ETCD_OPTIONS = List.of("--etcd", "--etcd-prefix", "--etcd-timeout");

  static final String USAGE_TEXT = """
      usage: xds-control-server <command> [options]

      commands:
        serve --config FILE   serve FILE over xDS and follow its edits
        serve --etcd URLS     serve the intent and instances kept in etcd (comma-separated client URLs);
                              any number of replicas may serve the same etcd. With --config FILE as well,
                              FILE seeds etcd when it holds no intent yet
            --etcd-prefix P   etcd key prefix, default /meshlet/
            --etcd-timeout DURATION  how long one call to etcd may take (start-up's first read too), default 3s
            --lease-ttl DURATION  how long this replica's registered instances outlive it, default 15s
            --ca-key-encryption-key FILE  with --etcd: share one CA between the replicas through etcd, its
                              keys sealed (AES-256-GCM) with the key in FILE: 32 random bytes in base64
                              (openssl rand -base64 32; not readable by every user), the same file on every
                              replica. The first replica publishes its CA (from --ca-dir if that holds one);
                              the others load it, and follow a rotation made on any of them. Without it,
                              replicas over etcd need --ca-dir holding the same CA on each, are checked
                              against the roots in etcd, and cannot rotate the CA
            --xds-port N      xDS (gRPC) port, default 18000 (0 picks a free port)
            --admin-port N    admin HTTP port, default 18001 (0 picks a free port)
            --bind ADDRESS    address the xDS port listens on, default 127.0.0.1 (0.0.0.0 for all)
            --admin-bind ADDRESS  address the admin port listens on, default 127.0.0.1; any other than
                              loopback needs --admin-token-file
            --admin-token-file FILE  bearer token (one line, at least 32 characters, e.g. from
                              openssl rand -hex 32; not readable by every user) that the admin API asks
                              for on everything but /healthz and /metrics; without it the admin API
                              is open to every local caller
            --ca-dir DIR      keep the CA key and root in DIR (created if missing); default: in memory.
                              xDS and the CA are served over TLS with a certificate from this CA; clients
                              verify it with DIR/trust-bundle.pem
            --trust-bundle FILE  write the trust bundle to FILE instead (default DIR/trust-bundle.pem,
                              or a temporary file without --ca-dir; the path is logged at start-up)
            --server-name NAMES  DNS names and addresses clients reach this server by (comma-separated),
                              added to its certificate besides localhost, loopback, --bind and the host name
            --xds-plaintext   serve xDS and the CA in plaintext: local trials and tests only (a warning at
                              start-up and on /healthz; the CA then refuses join tokens)
            --allow-plaintext-registration  with --xds-plaintext, accept instance registrations, which
                              then bind to no identity
            --kubernetes      take services' endpoints from the Kubernetes API (EndpointSlices and Services;
                              in-cluster config unless --kubeconfig); the intent still comes from --config
                              or --etcd (docs/kubernetes.md: which source wins)
            --kubeconfig FILE  with --kubernetes: reach the API server with FILE instead
            --namespace NS    with --kubernetes: watch NS (repeat or comma-separate); default every namespace
            --join-tokens FILE  join tokens, one '<service>: <token>' line per service
            --state-dir DIR   keep self-registered instances in DIR across restarts; default: in memory
            --registration-grace DURATION  how long restored instances have to reconnect, default 30s
        validate FILE         check FILE; exit 0 if valid, 1 with every error if not
        import FILE --etcd URLS [--etcd-prefix P] [--etcd-timeout DURATION]
                              validate FILE like validate and, only if valid, write it to etcd as the intent
        export --etcd URLS [--etcd-prefix P] [--etcd-timeout DURATION]
                              print the intent kept in etcd (exit 1 if there is none)
        status [--admin URL] [--admin-token-file FILE]
                              every client of the server whose admin API is at URL (default
                              http://127.0.0.1:18001) with its sync state per resource type; exit 0 when
                              all are in sync, 1 when any is stale or NACKing (the NACKs are printed),
                              3 when the admin API cannot be read
        help                  show this text
      """;

  private Main() {}

  public static void main(String[] args) {
    int code = run(args, System.out, System.err);
    if (code != OK) {
      System.exit(code);
    }
  }

  static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 0) {
      err.print(USAGE_TEXT);
      return USAGE;
    }
    List<String> rest = new ArrayList<>(List.of(args).subList(1, args.length));
    return switch (args[0]) {
      case "serve" -> serve(rest, out, err);
      case "validate" -> validate(rest, out, err);
      case "import" -> importIntent(rest, out, err);
      case "export" -> exportIntent(rest, out, err);
      case "status" -> status(rest, out, err);
      case "help", "--help", "-h" -> {
        out.print(USAGE_TEXT);
        yield OK;
      }
      default -> usage(err, "unknown command '" + args[0] + "' (expected: serve, validate, import, export, status "
          + "or help)");
    };
  }

  static int validate(List<String> args, PrintStream out, PrintStream err) {
    if (args.size() != 1 || args.get(0).startsWith("-")) {
      return usage(err, "validate takes exactly one file, e.g. validate mesh.yaml");
    }
    Path file = Path.of(args.get(0));
    return withValidFile(file, err, null, config -> {
      int n = config.services().size();
      out.println(file + ": valid (" + n + (n == 1 ? " service)" : " services)"));
      return OK;
    });
  }

  /** What to do with a file once it is valid; returns the exit code. */
  private interface ValidFile {
    int then(MeshConfig config);
  }

  /**
   * Validates {@code file} (size limit, syntax, every rule) and hands it on; otherwise prints why,
   * and {@code refused} when given, and returns the exit code: 1 invalid, 2 missing or unreadable.
   */
  private static int withValidFile(Path file, PrintStream err, String refused, ValidFile next) {
    MeshConfig config;
    try {
      config = MeshConfigParser.parse(file);
    } catch (MeshConfigException e) {
      err.println(file + ": " + e.getMessage());
      if (refused != null) {
        err.println(file + ": " + refused);
      }
      return INVALID_CONFIG;
    } catch (NoSuchFileException e) {
      err.println(file + ": no such file");
      return USAGE;
    } catch (IOException e) {
      err.println(file + ": cannot read: " + e.getMessage());
      return USAGE;
    }
    return next.then(config);
  }

  /** {@code import FILE --etcd URLS}: validated exactly like {@code validate}, written only if valid. */
  static int importIntent(List<String> args, PrintStream out, PrintStream err) {
    List<String> files = new ArrayList<>();
    java.util.Map<String, String> options = new java.util.HashMap<>();
    Integer bad = etcdOptions("import", args, files, options, err);
    if (bad != null) {
      return bad;
    }
    if (files.size() != 1) {
      return usage(err, "import takes exactly one file, e.g. import mesh.yaml --etcd http://127.0.0.1:2379");
    }
    Path file = Path.of(files.get(0));
    return withValidFile(file, err, "refused, nothing was written to etcd", config -> {
      try (io.meshlet.controlplane.internal.source.EtcdStore store = store(options)) {
        long revision = store.writeIntent(Files.readString(file), -1).orElseThrow();
        int n = config.services().size();
        out.println(file + ": imported to " + store.intentKey() + " at revision " + revision + " (" + n
            + (n == 1 ? " service)" : " services)"));
        return OK;
      } catch (IOException e) {
        err.println(e.getMessage());
        return FAILED;
      }
    });
  }

  /** {@code export --etcd URLS}: prints the intent kept in etcd. */
  static int exportIntent(List<String> args, PrintStream out, PrintStream err) {
    List<String> files = new ArrayList<>();
    java.util.Map<String, String> options = new java.util.HashMap<>();
    Integer bad = etcdOptions("export", args, files, options, err);
    if (bad != null) {
      return bad;
    }
    if (!files.isEmpty()) {
      return usage(err, "export takes no file; it prints the intent (export --etcd URLS > mesh.yaml)");
    }
    try (io.meshlet.controlplane.internal.source.EtcdStore store = store(options)) {
      var intent = store.readIntent();
      if (intent.isEmpty()) {
        err.println("etcd at " + options.get("--etcd") + " holds no intent at " + store.intentKey()
            + " (import one with: import mesh.yaml --etcd " + options.get("--etcd") + ")");
        return INVALID_CONFIG;
      }
      out.print(intent.get().text());
      return OK;
    } catch (IOException e) {
      err.println(e.getMessage());
      return FAILED;
    }
  }

  private static Integer etcdOptions(String command, List<String> args, List<String> positional,
      java.util.Map<String, String> options, PrintStream err) {
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      if (!a.startsWith("-")) {
        positional.add(a);
        continue;
      }
      if (!ETCD_OPTIONS.contains(a)) {
        return usage(err, "unknown option '" + a + "' for " + command + " (expected: one of "
            + String.join(", ", ETCD_OPTIONS) + ")");
      }
      if (i + 1 >= args.size()) {
        return usage(err, a + " needs a value");
      }
      options.put(a, args.get(++i));
    }
    if (!options.containsKey("--etcd")) {
      return usage(err, command + " needs --etcd URLS, e.g. --etcd http://127.0.0.1:2379");
    }
    try {
      io.meshlet.controlplane.internal.source.EtcdStore.parseEndpoints(options.get("--etcd"));
      io.meshlet.controlplane.internal.source.EtcdStore.checkPrefix(options.getOrDefault("--etcd-prefix",
          io.meshlet.controlplane.internal.source.EtcdStore.DEFAULT_PREFIX));
    } catch (IllegalArgumentException e) {
      return usage(err, e.getMessage());
    }
    if (options.containsKey("--etcd-timeout") && etcdTimeout(options).isEmpty()) {
      return usage(err, "--etcd-timeout: " + options.get("--etcd-timeout")
          + " (expected: a duration of at least 100ms such as 3s)");
    }
    return null;
  }

  private static java.util.Optional<java.time.Duration> etcdTimeout(java.util.Map<String, String> options) {
    return Durations.parse(options.getOrDefault("--etcd-timeout",
            Durations.format(io.meshlet.controlplane.internal.source.EtcdStore.DEFAULT_TIMEOUT)))
        .filter(d -> d.toMillis() >= 100);
  }

  private static io.meshlet.controlplane.internal.source.EtcdStore store(java.util.Map<String, String> options) {
    return new io.meshlet.controlplane.internal.source.EtcdStore(
        io.meshlet.controlplane.internal.source.EtcdStore.parseEndpoints(options.get("--etcd")),
        options.getOrDefault("--etcd-prefix", io.meshlet.controlplane.internal.source.EtcdStore.DEFAULT_PREFIX),
        etcdTimeout(options).orElseThrow());
  }

  static int serve(List<String> args, PrintStream out, PrintStream err) {
    ControlServer.Builder builder = ControlServer.builder();
    Path config = null;
    boolean etcd = false;
    boolean stateDir = false;
    boolean plaintext = false;
    boolean plaintextRegistration = false;
    boolean caDir = false;
    boolean kek = false;
    boolean kubernetes = false;
    Path kubeconfig = null;
    List<String> namespaces = new java.util.ArrayList<>();
    for (int i = 0; i < args.size(); i++) {
      String flag = args.get(i);
      if (!SERVE_OPTIONS.contains(flag)) {
        return usage(err, "unknown option '" + flag + "' for serve (expected: one of "
            + String.join(", ", SERVE_OPTIONS) + ")");
      }
      if (SERVE_SWITCHES.contains(flag)) {
        if (flag.equals("--xds-plaintext")) {
          builder.xdsPlaintext(true);
          plaintext = true;
        } else if (flag.equals("--kubernetes")) {
          kubernetes = true;
        } else {
          builder.allowPlaintextRegistration(true);
          plaintextRegistration = true;
        }
        continue;
      }
      if (i + 1 >= args.size()) {
        return usage(err, flag + " needs a value");
      }
      String value = args.get(++i);
      switch (flag) {
        case "--config" -> config = Path.of(value);
        case "--kubeconfig" -> kubeconfig = Path.of(value);
        case "--namespace" -> {
          for (String ns : value.split(",")) {
            if (!ns.trim().matches("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")) {
              return usage(err, "--namespace: '" + ns.trim() + "' (expected: a Kubernetes namespace name, "
                  + "lower-case letters, digits and '-')");
            }
            namespaces.add(ns.trim());
          }
        }
        case "--bind" -> builder.bindAddress(value);
        case "--admin-bind" -> builder.adminBindAddress(value);
        case "--admin-token-file" -> builder.adminTokenFile(Path.of(value));
        case "--ca-dir" -> {
          caDir = true;
          builder.caDirectory(Path.of(value));
        }
        case "--ca-key-encryption-key" -> {
          kek = true;
          builder.caKeyEncryptionKeyFile(Path.of(value));
        }
        case "--trust-bundle" -> builder.trustBundleFile(Path.of(value));
        case "--server-name" -> builder.serverNames(java.util.Arrays.stream(value.split(","))
            .map(String::trim).filter(n -> !n.isEmpty()).toList());
        case "--state-dir" -> {
          stateDir = true;
          builder.stateDirectory(Path.of(value));
        }
        case "--etcd" -> {
          try {
            builder.etcd(io.meshlet.controlplane.internal.source.EtcdStore.parseEndpoints(value));
            etcd = true;
          } catch (IllegalArgumentException e) {
            return usage(err, e.getMessage());
          }
        }
        case "--etcd-prefix" -> {
          try {
            builder.etcdPrefix(value);
          } catch (IllegalArgumentException e) {
            return usage(err, e.getMessage());
          }
        }
        case "--etcd-timeout" -> {
          java.util.Optional<java.time.Duration> timeout = Durations.parse(value);
          if (timeout.isEmpty() || timeout.get().toMillis() < 100) {
            return usage(err, "--etcd-timeout: " + value + " (expected: a duration of at least 100ms such as 3s)");
          }
          builder.etcdTimeout(timeout.get());
        }
        case "--lease-ttl" -> {
          java.util.Optional<java.time.Duration> ttl = Durations.parse(value);
          if (ttl.isEmpty() || ttl.get().toSeconds() < 1) {
            return usage(err, "--lease-ttl: " + value + " (expected: a duration of at least 1s such as 15s)");
          }
          builder.leaseTtl(ttl.get());
        }
        case "--registration-grace" -> {
          java.util.Optional<java.time.Duration> grace = Durations.parse(value);
          if (grace.isEmpty()) {
            return usage(err, "--registration-grace: " + value + " (expected: a duration such as 30s or 2m)");
          }
          builder.registrationGrace(grace.get());
        }
        case "--join-tokens" -> {
          try {
            builder.joinTokens(io.meshlet.controlplane.internal.ca.JoinTokens.load(Path.of(value)));
          } catch (java.nio.file.NoSuchFileException e) {
            err.println(value + ": no such file");
            return USAGE;
          } catch (java.io.IOException e) {
            err.println("--join-tokens: " + e.getMessage());
            return INVALID_CONFIG;
          }
        }
        default -> {
          int port = port(value);
          if (port < 0) {
            return usage(err, flag + ": " + value + " (expected: a port number in 0..65535)");
          }
          if (flag.equals("--xds-port")) {
            builder.xdsPort(port);
          } else {
            builder.adminPort(port);
          }
        }
      }
    }
    if (plaintextRegistration && !plaintext) {
      return usage(err, "--allow-plaintext-registration goes with --xds-plaintext (over TLS, registrations "
          + "are bound to the workload's SVID)");
    }
    if (config == null && !etcd) {
      return usage(err, "serve needs --config FILE or --etcd URLS");
    }
    if (etcd && stateDir) {
      return usage(err, "--state-dir and --etcd exclude each other: with etcd, registered instances are kept in etcd");
    }
    if (kek && !etcd) {
      return usage(err, "--ca-key-encryption-key goes with --etcd: it seals the CA's keys kept in etcd (a server "
          + "following a file keeps its CA in --ca-dir)");
    }
    if (etcd && !kek && !caDir) {
      return usage(err, "serve --etcd needs --ca-key-encryption-key FILE (the same on every replica: the CA is "
          + "shared through etcd, sealed) or --ca-dir DIR (holding the same CA on every replica)");
    }
    if ((kubeconfig != null || !namespaces.isEmpty()) && !kubernetes) {
      return usage(err, "--kubeconfig and --namespace go with --kubernetes");
    }
    if (kubeconfig != null && !Files.isRegularFile(kubeconfig)) {
      err.println(kubeconfig + ": no such file");
      return USAGE;
    }
    if (kubernetes) {
      builder.kubernetes(namespaces);
      if (kubeconfig != null) {
        builder.kubeconfig(kubeconfig);
      }
    }
    if (config != null && !Files.isRegularFile(config)) {
      err.println(config + ": no such file");
      return USAGE;
    }
    ControlServer server = builder.configFile(config).build();
    try {
      server.start();
    } catch (MeshConfigException e) {
      err.println((config != null && !etcd ? config + ": " : "") + "refusing to start: " + e.getMessage());
      return INVALID_CONFIG;
    } catch (IOException | IllegalStateException e) {
      // IllegalStateException: the admin token file or the admin address, checked before any port opens.
      err.println("cannot start: " + e.getMessage());
      return FAILED;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(server::close, "meshlet-shutdown"));
    try {
      server.awaitTermination();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return OK;
  }

  static int status(List<String> args, PrintStream out, PrintStream err) {
    String admin = "http://127.0.0.1:" + ControlServer.DEFAULT_ADMIN_PORT;
    Path tokenFile = null;
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      if (!a.equals("--admin") && !a.equals("--admin-token-file")) {
        return usage(err, "unknown option '" + a + "' for status (expected: --admin URL, --admin-token-file FILE)");
      }
      if (i + 1 >= args.size()) {
        return usage(err, a + " needs a value");
      }
      String value = args.get(++i);
      if (a.equals("--admin")) {
        admin = value;
      } else {
        tokenFile = Path.of(value);
      }
    }
    java.net.URI uri;
    try {
      uri = java.net.URI.create(admin.endsWith("/") ? admin : admin + "/");
      if (uri.getScheme() == null || !uri.getScheme().matches("https?") || uri.getHost() == null) {
        throw new IllegalArgumentException("not an http(s) URL");
      }
    } catch (IllegalArgumentException e) {
      return usage(err, "--admin: '" + admin + "' (expected: the admin API's URL, e.g. http://127.0.0.1:18001)");
    }
    java.util.Optional<String> token = java.util.Optional.empty();
    if (tokenFile != null) {
      try {
        token = java.util.Optional.of(java.nio.file.Files.readString(tokenFile).strip());
      } catch (IOException e) {
        err.println("error: --admin-token-file " + tokenFile + ": cannot read: " + e.getMessage());
        return USAGE;
      }
    }
    return io.meshlet.controlplane.internal.admin.StatusCommand.run(uri, token, out, err);
  }

  /** The port written as {@code text}, or -1 if it is not a number in 0..65535. */
  private static int port(String text) {
    try {
      int port = Integer.parseInt(text);
      return port >= 0 && port <= 65535 ? port : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static int usage(PrintStream err, String message) {
    err.println("error: " + message);
    err.print(USAGE_TEXT);
    return USAGE;
  }
}
