package io.meshlet.inbound;

import io.meshlet.internal.wire.WireNames;
import io.meshlet.MeshClient;
import io.meshlet.config.InboundPolicy;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.identity.WorkloadIdentity;
import io.meshlet.inbound.internal.InboundAuthorization;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.DetectorConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Inbound mTLS and authorization for an HTTP service served by Jetty 12 (plain, or under Spring
 * Boot with {@code spring-boot-starter-jetty}), following the service's policy in the mesh config
 * as it changes:
 *
 * <ul>
 *   <li>{@link #connector} takes, on one port, mTLS connections (presenting the workload's current
 *       SVID, so rotation needs no restart, and requiring a client certificate from the trust
 *       bundle) and, unless the service's {@code mtls.mode} is {@code strict}, plaintext ones;
 *   <li>{@link #inbound} refuses callers not on the service's allow list with 403 and makes the
 *       caller's SPIFFE ID available to the application as the request attribute
 *       {@value #CALLER_ATTRIBUTE}. Rules match the path normalized as Envoy does, and the
 *       application is handed that path; a path that cannot be normalized safely gets 400.
 * </ul>
 *
 * <pre>{@code
 * Server server = new Server();
 * ServerConnector connector = MeshJetty.connector(server, mesh, identity::current);
 * connector.setPort(8080);
 * server.addConnector(connector);
 * server.setHandler(MeshJetty.inbound(mesh, application));
 * server.start();
 * }</pre>
 */
public final class MeshJetty {

  /** The request attribute holding the caller's SPIFFE ID, when it called over mTLS. */
  public static final String CALLER_ATTRIBUTE = MeshHttpsServerFilter.CALLER_ATTRIBUTE;

  private static final Logger log = LoggerFactory.getLogger(MeshJetty.class);

  private MeshJetty() {}

  /**
   * A connector for {@code mesh}'s service: mTLS with {@code identity}, and plaintext while the
   * service's {@code mtls.mode} is not strict. The caller sets the port and adds it to the server.
   */
  public static ServerConnector connector(Server server, MeshClient mesh, Supplier<WorkloadIdentity> identity) {
    HttpConfiguration config = new HttpConfiguration();
    // Mesh callers name the service, not a host in the certificate: no SNI host check.
    config.addCustomizer(new SecureRequestCustomizer(false, false, -1, false));
    HttpConnectionFactory http = new HttpConnectionFactory(config);
    SslContextFactory.Server tls = new SslContextFactory.Server();
    tls.setSslContext(SpiffeTls.context(identity, SpiffeTls.allowAny()));
    tls.setNeedClientAuth(true);
    SslConnectionFactory ssl = new SslConnectionFactory(tls, http.getProtocol());
    return new ServerConnector(server, new MtlsOrPlaintext(mesh, ssl), http);
  }

  /**
   * Wraps the application with the service's authorization: callers on its allow list (or any
   * caller when it has none) reach {@code application}; others get 403, the header
   * {@code x-meshlet-denied: true}, and are logged and counted ({@code meshlet.server.denied}).
   */
  public static Handler.Wrapper inbound(MeshClient mesh, Handler application) {
    return new InboundHandler(mesh, application);
  }

  /** The SPIFFE ID of a request's caller, when it called over mTLS with one. */
  public static Optional<String> caller(Request request) {
    if (!(request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE) instanceof EndPoint.SslSessionData tls)) {
      return Optional.empty();
    }
    return InboundAuthorization.caller(tls.peerCertificates());
  }

  /** TLS when the first bytes are a TLS handshake; otherwise plaintext, unless the mode is strict. */
  private static final class MtlsOrPlaintext extends DetectorConnectionFactory {
    private final MeshClient mesh;

    MtlsOrPlaintext(MeshClient mesh, SslConnectionFactory ssl) {
      super(ssl);
      this.mesh = mesh;
    }

    @Override
    protected void nextProtocol(Connector connector, EndPoint endPoint, ByteBuffer buffer) {
      InboundPolicy policy = mesh.snapshot().inbound(mesh.serviceName());
      if (!policy.acceptsPlaintext()) {
        log.warn("[{}] refused a plaintext connection to '{}' from {}: mtls.mode is strict",
            mesh.nodeId(), mesh.serviceName(), endPoint.getRemoteSocketAddress());
        endPoint.close();
        return;
      }
      super.nextProtocol(connector, endPoint, buffer);
    }
  }

  private static final class InboundHandler extends Handler.Wrapper {
    private final MeshClient mesh;

    InboundHandler(MeshClient mesh, Handler application) {
      super(application);
      this.mesh = mesh;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
      Optional<String> caller = caller(request);
      HttpURI uri = request.getHttpURI();
      // The raw path, normalized once, by the helper every adapter shares: Jetty's canonical path
      // would be yet another reading (it keeps "//", and cuts ";" parameters).
      InboundAuthorization.Decision decision =
          InboundAuthorization.check(mesh, caller, uri.getPath(), request.getMethod());
      if (decision instanceof InboundAuthorization.Refused refused) {
        response.setStatus(refused.status());
        if (refused.status() == 403) {
          response.getHeaders().put(WireNames.DENIED_HEADER, "true");
        }
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
        response.write(true, ByteBuffer.wrap(refused.message().getBytes(StandardCharsets.UTF_8)), callback);
        return true;
      }
      InboundAuthorization.Allowed allowed = (InboundAuthorization.Allowed) decision;
      caller.ifPresent(id -> request.setAttribute(CALLER_ATTRIBUTE, id));
      if (allowed.rewritten()) {
        // The application sees the path the rules saw, as Envoy forwards the normalized path.
        HttpURI normalized = HttpURI.build(uri).path(allowed.rawPath()).asImmutable();
        return super.handle(new Request.Wrapper(request) {
          @Override
          public HttpURI getHttpURI() {
            return normalized;
          }
        }, response, callback);
      }
      return super.handle(request, response, callback);
    }
  }
}
