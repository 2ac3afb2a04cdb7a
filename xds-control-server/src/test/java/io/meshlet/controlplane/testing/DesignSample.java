package io.meshlet.controlplane.testing;

/** The mesh.yaml sample of DESIGN.md, shared by the parser's tests and {@code MainTest}. */
public final class DesignSample {

  /** The sample of DESIGN.md ("The config file"), verbatim. */
  public static final String MESH_YAML = """
      trustDomain: example.org
      mtls: { mode: strict, certTtl: 1h }          # off | permissive | strict
      services:
        catalog:
          protocol: http                            # http | grpc
          endpoints:                                # static; instances may also register at runtime
            - { address: 127.0.0.1:9001, labels: { version: v1 } }
            - { address: 127.0.0.1:9002, labels: { version: v2 } }
          subsets: { v1: { version: v1 }, v2: { version: v2 } }
          loadBalancing: round_robin                # round_robin | least_request | ring_hash | random
          circuitBreaker: { maxRequests: 100, maxPendingRequests: 50, maxRetries: 3 }
          outlierDetection: { consecutive5xx: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
          routes:
            - match: { pathPrefix: /api, headers: { x-canary: "true" } }
              to: [ { subset: v2, weight: 100 } ]
            - match: { pathPrefix: / }
              to: [ { subset: v1, weight: 90 }, { subset: v2, weight: 10 } ]
              timeout: 2s
              retries: { attempts: 3, perTryTimeout: 500ms, on: [5xx, reset, connect-failure, unavailable],
                         backoff: { base: 25ms, max: 250ms } }
              faults: { delay: { percent: 1, fixed: 100ms }, abort: { percent: 0.1, httpStatus: 503 } }
              rateLimit: { requestsPerSecond: 500, burst: 100 }
          authorization:
            allow: [ spiffe://example.org/service/frontend ]
      """;

  private DesignSample() {}
}
