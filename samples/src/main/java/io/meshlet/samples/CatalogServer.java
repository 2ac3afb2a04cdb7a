package io.meshlet.samples;

import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * A tiny catalog service over gRPC: {@code catalog.Catalog/GetItem} answers with the version of
 * the instance that served it, so the demo can show where each call went.
 */
public final class CatalogServer implements AutoCloseable {

  /** The one method: takes an item id, answers {@code <version>}. */
  public static final MethodDescriptor<String, String> GET_ITEM =
      MethodDescriptor.<String, String>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("catalog.Catalog/GetItem")
          .setRequestMarshaller(Utf8.INSTANCE)
          .setResponseMarshaller(Utf8.INSTANCE)
          .build();

  private final Server server;

  /** Starts an instance of the given version on a free loopback port. */
  public CatalogServer(String version) throws IOException {
    ServerServiceDefinition service = ServerServiceDefinition.builder("catalog.Catalog")
        .addMethod(GET_ITEM, ServerCalls.asyncUnaryCall((id, response) -> {
          response.onNext(version);
          response.onCompleted();
        }))
        .build();
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(service).build().start();
  }

  public String address() {
    return "127.0.0.1:" + server.getPort();
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow();
    server.awaitTermination(5, TimeUnit.SECONDS);
  }

  /** UTF-8 strings on the wire; keeps the sample free of generated code. */
  enum Utf8 implements MethodDescriptor.Marshaller<String> {
    INSTANCE;

    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
