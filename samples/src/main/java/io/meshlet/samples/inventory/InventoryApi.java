package io.meshlet.samples.inventory;

import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The inventory service's one gRPC method, {@code inventory.Inventory/Stock}: takes an item id and
 * answers how many are in stock, as UTF-8 text. Hand-written, so the samples need no generated code.
 */
public final class InventoryApi {

  /** The gRPC service name. */
  public static final String SERVICE = "inventory.Inventory";

  /** Item id in, a line of text out. */
  public static final MethodDescriptor<String, String> STOCK = MethodDescriptor.<String, String>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY)
      .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Stock"))
      .setRequestMarshaller(Utf8.INSTANCE)
      .setResponseMarshaller(Utf8.INSTANCE)
      .build();

  private InventoryApi() {
  }

  /** UTF-8 strings on the wire. */
  private enum Utf8 implements MethodDescriptor.Marshaller<String> {
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
