package io.meshlet.controlplane.internal.admin;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The console: a static page, script and style sheet, served as they are. The page shows
 * nothing by itself; its script asks for the admin token (kept in the tab's sessionStorage) and
 * reads the JSON endpoints with it, so the page can be open while every mesh-revealing call
 * still needs the credential.
 */
public final class Console {

  /** The page. */
  public static final String PAGE = "/console";
  /** Its script. */
  public static final String SCRIPT = "/console/console.js";
  /** Its style sheet. */
  public static final String STYLE = "/console/console.css";

  private static final Map<String, String[]> FILES = Map.of(
      PAGE, new String[] {"index.html", "text/html; charset=utf-8"},
      SCRIPT, new String[] {"console.js", "text/javascript; charset=utf-8"},
      STYLE, new String[] {"console.css", "text/css; charset=utf-8"});

  private Console() {}

  /** Whether a path is one of the console's files. */
  public static boolean serves(String path) {
    return FILES.containsKey(path);
  }

  /** Sends one of the console's files. */
  public static void send(Exchange exchange, String path) throws IOException {
    String[] file = FILES.get(path);
    byte[] bytes = read(file[0]);
    exchange.getResponseHeaders().set("Content-Type", file[1]);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    // The page runs only its own script and talks only to this server.
    exchange.getResponseHeaders().set("Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'");
    exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(200, head ? -1 : bytes.length);
    if (!head) {
      exchange.getResponseBody().write(bytes);
    }
  }

  private static byte[] read(String name) {
    try (InputStream in = Console.class.getResourceAsStream("/meshlet-console/" + name)) {
      if (in == null) {
        throw new IllegalStateException("the console's " + name + " is missing from the jar");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String text(String name) {
    return new String(read(name), StandardCharsets.UTF_8);
  }
}
