package io.meshlet.spring.autoconfigure;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** Turns wrong {@code meshlet.*} settings into Spring Boot's "APPLICATION FAILED TO START" report. */
final class MeshletPropertiesFailureAnalyzer extends AbstractFailureAnalyzer<MeshletPropertiesException> {

  @Override
  protected FailureAnalysis analyze(Throwable rootFailure, MeshletPropertiesException cause) {
    return new FailureAnalysis("Meshlet could not start:\n  " + String.join("\n  ", cause.problems()),
        "Set the meshlet.* properties above (see docs/spring-boot.md), or meshlet.enabled=false to start"
            + " without the mesh.", cause);
  }
}
