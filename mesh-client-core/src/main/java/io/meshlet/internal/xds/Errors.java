package io.meshlet.internal.xds;

import java.util.ArrayList;
import java.util.List;

/** The reasons a resource is refused, collected under its subject; their text is the NACK's. */
final class Errors {

  final List<String> messages = new ArrayList<>();
  final String subject;

  Errors(String subject) {
    this.subject = subject;
  }

  void add(String path, String value, String expected) {
    messages.add(subject + ": " + path + ": " + value + " (expected: " + expected + ")");
  }

  void throwIfAny() throws ResourceException {
    if (!messages.isEmpty()) {
      throw new ResourceException(String.join("; ", messages));
    }
  }
}
