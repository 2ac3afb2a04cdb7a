package io.meshlet.controlplane;

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
 *                                        [--bind 127.0.0.1]
 * java -jar xds-control-server.jar validate mesh.yaml
 * </pre>
 *
 * <p>Exit codes: 0 success, 1 invalid config, 2 wrong usage or an unreadable file, 3 the server
 * could not start.
 */
public final class Main {

  static final int OK = 0;
  static final int INVALID_CONFIG = 1;
  static final int USAGE = 2;
  static final int FAILED = 3;

  private static final List<String> SERVE_OPTIONS = List.of("--config", "--xds-port", "--admin-port", "--bind",
      "--ca-dir", "--join-tokens", "--state-dir", "--registration-grace");

  static final String USAGE_TEXT = """
      usage: xds-control-server <command> [options]

      commands:
        serve --config FILE   serve FILE over xDS and follow its edits
            --xds-port N      xDS (gRPC) port, default 18000 (0 picks a free port)
            --admin-port N    admin HTTP port, default 18001 (0 picks a free port)
            --bind ADDRESS    address to listen on, default 127.0.0.1 (0.0.0.0 for all)
            --ca-dir DIR      keep the CA key and root in DIR (created if missing); default: in memory
            --join-tokens FILE  join tokens, one '<service>: <token>' line per service
            --state-dir DIR   keep self-registered instances in DIR across restarts; default: in memory
            --registration-grace DURATION  how long restored instances have to reconnect, default 30s
        validate FILE         check FILE; exit 0 if valid, 1 with every error if not
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
      case "help", "--help", "-h" -> {
        out.print(USAGE_TEXT);
        yield OK;
      }
      default -> usage(err, "unknown command '" + args[0] + "' (expected: serve, validate or help)");
    };
  }

  static int validate(List<String> args, PrintStream out, PrintStream err) {
    if (args.size() != 1 || args.get(0).startsWith("-")) {
      return usage(err, "validate takes exactly one file, e.g. validate mesh.yaml");
    }
    Path file = Path.of(args.get(0));
    try {
      MeshConfig config = MeshConfigParser.parse(file);
      int n = config.services().size();
      out.println(file + ": valid (" + n + (n == 1 ? " service)" : " services)"));
      return OK;
    } catch (MeshConfigException e) {
      err.println(file + ": " + e.getMessage());
      return INVALID_CONFIG;
    } catch (NoSuchFileException e) {
      err.println(file + ": no such file");
      return USAGE;
    } catch (IOException e) {
      err.println(file + ": cannot read: " + e.getMessage());
      return USAGE;
    }
  }

  static int serve(List<String> args, PrintStream out, PrintStream err) {
    ControlServer.Builder builder = ControlServer.builder();
    Path config = null;
    for (int i = 0; i < args.size(); i++) {
      String flag = args.get(i);
      if (!SERVE_OPTIONS.contains(flag)) {
        return usage(err, "unknown option '" + flag + "' for serve (expected: one of "
            + String.join(", ", SERVE_OPTIONS) + ")");
      }
      if (i + 1 >= args.size()) {
        return usage(err, flag + " needs a value");
      }
      String value = args.get(++i);
      switch (flag) {
        case "--config" -> config = Path.of(value);
        case "--bind" -> builder.bindAddress(value);
        case "--ca-dir" -> builder.caDirectory(Path.of(value));
        case "--state-dir" -> builder.stateDirectory(Path.of(value));
        case "--registration-grace" -> {
          java.util.Optional<java.time.Duration> grace = MeshConfigParser.parseDuration(value);
          if (grace.isEmpty()) {
            return usage(err, "--registration-grace: " + value + " (expected: a duration such as 30s or 2m)");
          }
          builder.registrationGrace(grace.get());
        }
        case "--join-tokens" -> {
          try {
            builder.joinTokens(io.meshlet.controlplane.internal.JoinTokens.load(Path.of(value)));
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
    if (config == null) {
      return usage(err, "serve needs --config FILE");
    }
    if (!Files.isRegularFile(config)) {
      err.println(config + ": no such file");
      return USAGE;
    }
    ControlServer server = builder.configFile(config).build();
    try {
      server.start();
    } catch (MeshConfigException e) {
      err.println(config + ": refusing to start: " + e.getMessage());
      return INVALID_CONFIG;
    } catch (IOException e) {
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
