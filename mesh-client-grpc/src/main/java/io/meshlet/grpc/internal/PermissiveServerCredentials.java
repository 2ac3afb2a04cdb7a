package io.meshlet.grpc.internal;

import io.grpc.ServerCredentials;
import io.grpc.internal.ObjectPool;
import io.grpc.netty.shaded.io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.InternalNettyServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.shaded.io.grpc.netty.ProtocolNegotiationEvent;
import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.handler.codec.ByteToMessageDecoder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import io.grpc.netty.shaded.io.netty.util.AsciiString;
import io.meshlet.identity.SpiffeTls;
import io.meshlet.identity.WorkloadIdentity;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;

/**
 * Server credentials for {@code mtls.mode: permissive}: each connection is looked at before any
 * protocol runs, and served over mTLS (with the workload's current SVID, requiring a client
 * certificate from the trust bundle) when its first byte opens a TLS handshake, in plaintext
 * otherwise. grpc-java's xDS server falls back to these credentials for the listeners the control
 * server emits without a TLS context, which it does for permissive services.
 *
 * <p>grpc-java has no public API for a server that accepts both on one port, so this uses
 * grpc-netty's {@code Internal*} negotiator API; {@code GrpcPermissiveMtlsIT} fails loudly if a
 * grpc-java upgrade changes it.
 */
public final class PermissiveServerCredentials {

  /** A TLS record carrying a handshake starts with this content type. */
  private static final byte TLS_HANDSHAKE = 0x16;

  private PermissiveServerCredentials() {}

  /** Credentials that accept mTLS callers (presenting {@code identity}) and plaintext callers. */
  public static ServerCredentials create(Supplier<WorkloadIdentity> identity) {
    SslContext tls;
    try {
      tls = GrpcSslContexts.configure(
              io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder.forServer(SpiffeTls.keyManager(identity)),
              SslProvider.JDK)
          .trustManager(SpiffeTls.trustManager(identity, SpiffeTls.allowAny()))
          .clientAuth(ClientAuth.REQUIRE)
          .build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot build the TLS context for permissive mTLS: " + e.getMessage(), e);
    }
    return InternalNettyServerCredentials.create(new InternalProtocolNegotiator.ServerFactory() {
      @Override
      public InternalProtocolNegotiator.ProtocolNegotiator newNegotiator(ObjectPool<? extends Executor> pool) {
        return new Negotiator(tls);
      }
    });
  }

  private static final class Negotiator implements InternalProtocolNegotiator.ProtocolNegotiator {
    private final SslContext tls;

    Negotiator(SslContext tls) {
      this.tls = tls;
    }

    @Override
    public AsciiString scheme() {
      return AsciiString.of("http");
    }

    @Override
    public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
      return new Sniffer(grpcHandler, tls);
    }

    @Override
    public void close() {}
  }

  /**
   * Holds the negotiation event until the first byte arrives, then hands the connection to
   * grpc-netty's server TLS or plaintext negotiator, replaying the event and the bytes read.
   */
  private static final class Sniffer extends ByteToMessageDecoder {
    private final GrpcHttp2ConnectionHandler grpcHandler;
    private final SslContext tls;
    private Object negotiation;

    Sniffer(GrpcHttp2ConnectionHandler grpcHandler, SslContext tls) {
      this.grpcHandler = grpcHandler;
      this.tls = tls;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof ProtocolNegotiationEvent) {
        negotiation = evt;
        if (actualReadableBytes() > 0) {
          choose(ctx, internalBuffer());
        }
      } else {
        super.userEventTriggered(ctx, evt);
      }
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      if (negotiation != null && in.isReadable()) {
        choose(ctx, in);
      }
    }

    private void choose(ChannelHandlerContext ctx, ByteBuf in) {
      boolean encrypted = in.getByte(in.readerIndex()) == TLS_HANDSHAKE;
      ChannelHandler next = (encrypted
          ? InternalProtocolNegotiators.serverTls(tls)
          : InternalProtocolNegotiators.serverPlaintext()).newHandler(grpcHandler);
      ctx.pipeline().addAfter(ctx.name(), null, next);
      Object event = negotiation;
      negotiation = null;
      ctx.fireUserEventTriggered(event);
      // Removing the decoder passes the bytes it holds on to the chosen handler.
      ctx.pipeline().remove(this);
    }
  }
}
