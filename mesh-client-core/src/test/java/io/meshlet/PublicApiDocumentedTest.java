package io.meshlet;

import io.meshlet.testing.ApiListing;
import org.junit.jupiter.api.Test;

/** docs/api.md lists every public type of mesh-client-core, and nothing else (so the doc cannot drift). */
class PublicApiDocumentedTest {

  @Test
  void everyPublicTypeIsListedInTheApiDocAndEveryListedTypeIsPublic() throws Exception {
    ApiListing.check(MeshClient.class, "mesh-client-core");
  }
}
