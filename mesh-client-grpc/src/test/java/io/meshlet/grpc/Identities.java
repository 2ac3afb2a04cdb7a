package io.meshlet.grpc;

import io.meshlet.identity.CaIdentitySource;
import java.time.Duration;
import java.util.Map;

/** Join tokens and CA identities shared by the gRPC mTLS tests. */
final class Identities {

  static final Map<String, String> TOKENS = Map.of("catalog", "catalog-token-0123456789",
      "frontend", "frontend-token-0123456789", "payments", "payments-token-0123456789");

  private Identities() {}

  /** A started identity source for a service, with its first certificate already here. */
  static CaIdentitySource start(String service, String controlServer, java.nio.file.Path trustBundle,
      double renewAt) throws InterruptedException {
    CaIdentitySource s = CaIdentitySource.builder().service(service).joinToken(TOKENS.get(service))
        .controlServers(controlServer).controlServerTrust(trustBundle).renewAt(renewAt).build().start();
    s.awaitIdentity(Duration.ofSeconds(20));
    return s;
  }
}
