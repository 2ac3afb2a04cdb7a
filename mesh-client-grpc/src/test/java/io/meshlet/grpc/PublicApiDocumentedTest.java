package io.meshlet.grpc;

import io.meshlet.testing.ApiListing;
import org.junit.jupiter.api.Test;

/** docs/api.md lists every public type of mesh-client-grpc, and nothing else (so the doc cannot drift). */
class PublicApiDocumentedTest {

  @Test
  void everyPublicTypeIsListedInTheApiDocAndEveryListedTypeIsPublic() throws Exception {
    ApiListing.check(MeshGrpc.class, "mesh-client-grpc");
  }
}
