package io.meshlet.controlplane.internal.admin;

import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.controlplane.intent.Violation;
import io.meshlet.controlplane.internal.source.ClientRegistry;
import io.meshlet.controlplane.internal.source.MeshState;
import java.util.List;
import java.util.stream.Collectors;

/** The admin page: what is served, what was refused, and which client has which version. */
final class AdminPage {

  private AdminPage() {}

  static String render(MeshState state, List<ClientRegistry.ClientView> clients) {
    StringBuilder h = new StringBuilder(4096);
    h.append("<!doctype html><html><head><meta charset=\"utf-8\"><title>Meshlet control server</title>")
        .append("<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}")
        .append("table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;")
        .append("padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}")
        .append(".bad{color:#b00020}.ok{color:#0a7d28}code{font-size:90%}</style></head><body>")
        .append("<h1>Meshlet control server</h1>");
    var served = state.served();
    if (served.isEmpty()) {
      h.append("<p class=\"bad\">No config is being served yet.</p>");
    } else {
      var s = served.get();
      h.append("<p>Serving version <code>").append(esc(s.version())).append("</code> from <code>")
          .append(esc(s.source())).append("</code> since ").append(esc(s.at().toString()))
          .append(" &middot; <a href=\"/config\">/config</a> &middot; <a href=\"/clients\">/clients</a>")
          .append(" &middot; <a href=\"/metrics\">/metrics</a>")
          .append(" &middot; <a href=\"/console\">console</a> (live traffic, history)</p>");
      h.append("<h2>Services</h2><table><tr><th>service</th><th>protocol</th><th>endpoints</th>")
          .append("<th>subsets</th><th>load balancing</th><th>routes</th></tr>");
      for (ServiceSpec svc : s.config().services().values()) {
        h.append("<tr><td>").append(esc(svc.name())).append("</td><td>")
            .append(svc.protocol().name().toLowerCase()).append("</td><td>")
            .append(esc(svc.endpoints().stream()
                .map(e -> e.address() + (e.labels().isEmpty() ? "" : " " + e.labels()))
                .collect(Collectors.joining(", "))))
            .append("</td><td>").append(esc(String.join(", ", svc.subsets().keySet())))
            .append("</td><td>").append(svc.loadBalancing().name().toLowerCase())
            .append("</td><td>").append(svc.routes().size()).append("</td></tr>");
      }
      h.append("</table>");
    }
    state.lastRefusal().ifPresent(r -> {
      h.append("<h2 class=\"bad\">Last refused config</h2><p>From <code>").append(esc(r.source()))
          .append("</code> at ").append(esc(r.at().toString())).append(":</p><ul>");
      for (Violation v : r.violations()) {
        h.append("<li><code>").append(esc(v.toString())).append("</code></li>");
      }
      h.append("</ul>");
    });
    h.append("<h2>Connected clients (").append(clients.size()).append(")</h2>");
    h.append("<table><tr><th>node id</th><th>cluster</th><th>stream</th><th>resources</th></tr>");
    for (ClientRegistry.ClientView c : clients) {
      h.append("<tr><td>").append(esc(c.nodeId())).append("</td><td>").append(esc(c.cluster()))
          .append("</td><td>").append(c.streamId()).append(' ').append(esc(c.protocol()))
          .append("</td><td>");
      c.resources().forEach((type, t) -> {
        h.append(esc(type)).append(": ").append(esc(String.join(", ", t.subscribed())))
            .append(" &middot; acked <code class=\"ok\">").append(esc(t.ackedVersion())).append("</code>");
        t.lastNack().ifPresent(n -> h.append(" &middot; <span class=\"bad\">NACK of <code>")
            .append(esc(n.version())).append("</code>: ").append(esc(n.message())).append("</span>"));
        h.append("<br>");
      });
      h.append("</td></tr>");
    }
    return h.append("</table></body></html>\n").toString();
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
