package io.meshlet.controlplane.testing;

import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real gRPC server on a free loopback port that answers {@code meshlet.test.Echo/Who} (and
 * {@code meshlet.test.Echo/Other}) with its own name. It can be told to fail with UNAVAILABLE,
 * to hold calls until released, or to answer slowly.
 */
public final class EchoBackend implements AutoCloseable {

  public static final String SERVICE = "meshlet.test.Echo";
  public static final MethodDescriptor<String, String> WHO = method("Who");
  public static final MethodDescriptor<String, String> OTHER = method("Other");

  private final String name;
  private final Server server;
  private final AtomicInteger calls = new AtomicInteger();
  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile boolean failing;
  private volatile long delayMillis;
  private volatile CountDownLatch hold;

  public EchoBackend(String name) {
    this.name = name;
    ServerServiceDefinition definition = ServerServiceDefinition.builder(SERVICE)
        .addMethod(WHO, ServerCalls.asyncUnaryCall(this::answer))
        .addMethod(OTHER, ServerCalls.asyncUnaryCall(this::answer))
        .build();
    try {
      this.server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
          .addService(definition)
          .build()
          .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void answer(String request, StreamObserver<String> response) {
    calls.incrementAndGet();
    inFlight.incrementAndGet();
    try {
      CountDownLatch latch = hold;
      if (latch != null) {
        latch.await(30, TimeUnit.SECONDS);
      }
      if (delayMillis > 0) {
        Thread.sleep(delayMillis);
      }
      if (failing) {
        response.onError(Status.UNAVAILABLE.withDescription(name + " is failing").asRuntimeException());
        return;
      }
      response.onNext(name);
      response.onCompleted();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      response.onError(Status.CANCELLED.asRuntimeException());
    } finally {
      inFlight.decrementAndGet();
    }
  }

  public String name() {
    return name;
  }

  public int port() {
    return server.getPort();
  }

  public String address() {
    return "127.0.0.1:" + port();
  }

  public int calls() {
    return calls.get();
  }

  public int inFlight() {
    return inFlight.get();
  }

  public void resetCalls() {
    calls.set(0);
  }

  public EchoBackend failing(boolean failing) {
    this.failing = failing;
    return this;
  }

  public EchoBackend delay(long millis) {
    this.delayMillis = millis;
    return this;
  }

  /** Holds every call until the returned latch is counted down. */
  public CountDownLatch holdCalls() {
    CountDownLatch latch = new CountDownLatch(1);
    hold = latch;
    return latch;
  }

  public void releaseCalls() {
    CountDownLatch latch = hold;
    hold = null;
    if (latch != null) {
      latch.countDown();
    }
  }

  @Override
  public void close() {
    releaseCalls();
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static MethodDescriptor<String, String> method(String name) {
    return MethodDescriptor.<String, String>newBuilder()
        .setType(MethodDescriptor.MethodType.UNARY)
        .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, name))
        .setRequestMarshaller(StringMarshaller.INSTANCE)
        .setResponseMarshaller(StringMarshaller.INSTANCE)
        .build();
  }

  /** UTF-8 strings on the wire; enough for a test service, no code generation needed. */
  public enum StringMarshaller implements MethodDescriptor.Marshaller<String> {
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
