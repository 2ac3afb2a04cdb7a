package io.meshlet.controlplane.testing;

import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.util.concurrent.TimeUnit;

/**
 * grpc-java's own xDS client pointed at a control server. grpc-java reads its bootstrap once
 * per JVM, so {@link #bootstrap} must be called before the first {@code xds:///} channel, and
 * each test class runs in its own JVM (failsafe {@code reuseForks=false}).
 */
public final class XdsClients {

  private static volatile int bootstrappedPort = -1;

  private XdsClients() {}

  /** Points this JVM's gRPC xDS client at a control server on loopback. */
  public static synchronized void bootstrap(int xdsPort, String nodeId) {
    if (bootstrappedPort != -1 && bootstrappedPort != xdsPort) {
      throw new IllegalStateException("this JVM's xDS bootstrap already names port " + bootstrappedPort);
    }
    bootstrappedPort = xdsPort;
    System.setProperty("io.grpc.xds.bootstrapConfig", """
        {
          "xds_servers": [ { "server_uri": "127.0.0.1:%d",
                             "channel_creds": [ { "type": "insecure" } ],
                             "server_features": [ "xds_v3" ] } ],
          "node": { "id": "%s", "cluster": "meshlet-test" }
        }
        """.formatted(xdsPort, nodeId));
  }

  /** An {@code xds:///service} channel. */
  public static ManagedChannel channel(String service) {
    return Grpc.newChannelBuilder("xds:///" + service, InsecureChannelCredentials.create()).build();
  }

  /** One unary call; returns the answering backend's name. */
  public static String call(ManagedChannel channel, MethodDescriptor<String, String> method,
      Metadata headers, long timeoutMillis) {
    CallOptions options = CallOptions.DEFAULT.withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS);
    io.grpc.Channel ch = headers == null
        ? channel
        : io.grpc.ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
    return ClientCalls.blockingUnaryCall(ch, method, options, "hi");
  }

  public static String who(ManagedChannel channel) {
    return call(channel, EchoBackend.WHO, null, 5_000);
  }

  /** One call that waits for the channel to have config and a ready backend, up to the timeout. */
  public static String awaitFirstAnswer(ManagedChannel channel, long timeoutMillis) {
    CallOptions options = CallOptions.DEFAULT.withWaitForReady()
        .withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS);
    return ClientCalls.blockingUnaryCall(channel, EchoBackend.WHO, options, "hi");
  }

  public static Metadata header(String name, String value) {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER), value);
    return m;
  }
}
