package io.meshlet.spring.autoconfigure;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** Turns a refusal of {@link MeshletInboundGuard} into Spring Boot's "APPLICATION FAILED TO START" report. */
final class MeshletInboundFailureAnalyzer extends AbstractFailureAnalyzer<MeshletInboundException> {

  @Override
  protected FailureAnalysis analyze(Throwable rootFailure, MeshletInboundException cause) {
    return new FailureAnalysis(cause.problem(), cause.action() + " (see docs/spring-boot.md, Inbound policy).",
        cause);
  }
}
