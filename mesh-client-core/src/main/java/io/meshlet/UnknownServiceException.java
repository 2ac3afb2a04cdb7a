package io.meshlet;

import java.io.IOException;

/** A call named a service the mesh does not know, or a path no route of it takes. */
public final class UnknownServiceException extends IOException {

  private static final long serialVersionUID = 1L;

  public UnknownServiceException(String message) {
    super(message);
  }
}
