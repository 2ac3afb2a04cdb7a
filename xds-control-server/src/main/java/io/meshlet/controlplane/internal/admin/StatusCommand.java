package io.meshlet.controlplane.internal.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * {@code status}: every client connected to a control server with its sync state per resource
 * type, read from {@code GET /clients}, as a table (like {@code istioctl proxy-status}).
 *
 * <p>Per type: {@code SYNCED} (ACKed the last version sent), {@code STALE} (not ACKed yet),
 * {@code NACKED} (refused it; the message follows the table), {@code -} (nothing sent).
 */
public final class StatusCommand {

  /** Every client is in sync (or none is connected). */
  public static final int SYNCED = 0;
  /** Some client is stale or NACKing. */
  public static final int NOT_SYNCED = 1;
  /** The admin API could not be read. */
  public static final int UNREACHABLE = 3;

  private static final List<String> TYPES = List.of("Listener", "RouteConfiguration", "Cluster",
      "ClusterLoadAssignment");
  private static final List<String> HEADERS = List.of("LDS", "RDS", "CDS", "EDS");

  private StatusCommand() {}

  /**
   * @param admin the admin API's base URL, e.g. {@code http://127.0.0.1:18001}
   * @param token the admin token, when the server asks for one
   */
  public static int run(URI admin, Optional<String> token, PrintStream out, PrintStream err) {
    JsonNode clients;
    try {
      HttpRequest.Builder request = HttpRequest.newBuilder(admin.resolve("/clients"))
          .timeout(Duration.ofSeconds(10)).header("Accept", "application/json");
      token.ifPresent(t -> request.header("Authorization", "Bearer " + t));
      HttpResponse<String> r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
          .send(request.build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() == 401 || r.statusCode() == 403) {
        err.println("status: " + admin + " answered " + r.statusCode() + " (expected: --admin-token-file FILE "
            + "with the server's admin token" + (r.statusCode() == 403 ? "; the one given is not it" : "") + ")");
        return UNREACHABLE;
      }
      if (r.statusCode() != 200) {
        err.println("status: GET " + admin.resolve("/clients") + " answered " + r.statusCode() + ": " + r.body().strip());
        return UNREACHABLE;
      }
      clients = new ObjectMapper().readTree(r.body()).path("clients");
    } catch (IOException | IllegalArgumentException e) {
      err.println("status: cannot read " + admin.resolve("/clients") + ": " + e
          + " (expected: a control server's admin API, e.g. --admin http://127.0.0.1:18001)");
      return UNREACHABLE;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return UNREACHABLE;
    }
    List<List<String>> rows = new ArrayList<>();
    List<String> header = new ArrayList<>(List.of("NODE", "SERVICE", "STREAM"));
    header.addAll(HEADERS);
    rows.add(header);
    List<String> nacks = new ArrayList<>();
    int unsynced = 0;
    for (JsonNode c : clients) {
      List<String> row = new ArrayList<>(List.of(c.path("nodeId").asText(), c.path("cluster").asText(),
          c.path("protocol").asText().toLowerCase(Locale.ROOT)));
      boolean synced = true;
      for (String type : TYPES) {
        JsonNode t = c.path("resources").path(type);
        String sync = t.isMissingNode() ? "NOT_SENT" : t.path("sync").asText("NOT_SENT");
        String acked = t.path("ackedVersion").asText("");
        row.add(switch (sync) {
          case "NOT_SENT" -> "-";
          case "SYNCED" -> "SYNCED " + shortVersion(acked);
          default -> sync + " " + shortVersion(t.path("sentVersion").asText(""));
        });
        if (sync.equals("STALE") || sync.equals("NACKED")) {
          synced = false;
        }
        if (sync.equals("NACKED")) {
          nacks.add(c.path("nodeId").asText() + " " + type + " " + t.path("lastNack").path("version").asText() + ": "
              + t.path("lastNack").path("message").asText());
        }
      }
      if (!synced) {
        unsynced++;
      }
      rows.add(row);
    }
    int[] widths = new int[header.size()];
    for (List<String> row : rows) {
      for (int i = 0; i < row.size(); i++) {
        widths[i] = Math.max(widths[i], row.get(i).length());
      }
    }
    for (List<String> row : rows) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < row.size(); i++) {
        line.append(i == row.size() - 1 ? row.get(i) : String.format("%-" + (widths[i] + 2) + "s", row.get(i)));
      }
      out.println(line.toString().stripTrailing());
    }
    for (String n : nacks) {
      out.println("NACK " + n);
    }
    out.println(clients.size() + " clients, " + unsynced + " stale or NACKing");
    return unsynced == 0 ? SYNCED : NOT_SYNCED;
  }

  private static String shortVersion(String v) {
    return v.length() > 8 ? v.substring(0, 8) : v;
  }
}
