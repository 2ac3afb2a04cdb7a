package io.meshlet.grpc;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import io.meshlet.MeshClient;
import io.meshlet.identity.SpiffeTls;
import java.util.Optional;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs and counts the calls a gRPC server refused with PERMISSION_DENIED (grpc-java's RBAC
 * enforcing the service's allow list), with the caller's SPIFFE ID, as Meshlet's HTTP servers do.
 *
 * <pre>{@code
 * XdsServerBuilder.forPort(port, credentials)
 *     .addStreamTracerFactory(MeshGrpc.deniedCallsTracer(mesh))
 * }</pre>
 */
final class DeniedCallsTracer extends ServerStreamTracer.Factory {

  private static final Logger log = LoggerFactory.getLogger(DeniedCallsTracer.class);
  private final MeshClient mesh;

  DeniedCallsTracer(MeshClient mesh) {
    this.mesh = mesh;
  }

  @Override
  public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
    return new ServerStreamTracer() {
      private volatile Optional<String> caller = Optional.empty();

      @Override
      public void serverCallStarted(ServerCallInfo<?, ?> info) {
        SSLSession session = info.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        caller = session == null ? Optional.empty() : SpiffeTls.peerSpiffeId(session);
      }

      @Override
      public void streamClosed(Status status) {
        if (status.getCode() == Status.Code.PERMISSION_DENIED) {
          String who = caller.orElse("(no client certificate)");
          log.warn("[{}] denied {} from {}: {}", mesh.nodeId(), fullMethodName, who, status.getDescription());
          mesh.calls().denied(mesh.serviceName(), who);
        }
      }
    };
  }
}
