package io.meshlet.internal.xds;

/** A resource Meshlet refuses; the message is the NACK's text. */
public final class ResourceException extends Exception {

  private static final long serialVersionUID = 1L;

  public ResourceException(String message) {
    super(message);
  }
}
