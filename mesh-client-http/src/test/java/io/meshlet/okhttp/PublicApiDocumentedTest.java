package io.meshlet.okhttp;

import io.meshlet.testing.ApiListing;
import org.junit.jupiter.api.Test;

/** docs/api.md lists every public type of mesh-client-http, and nothing else (so the doc cannot drift). */
class PublicApiDocumentedTest {

  @Test
  void everyPublicTypeIsListedInTheApiDocAndEveryListedTypeIsPublic() throws Exception {
    ApiListing.check(MeshOkHttp.class, "mesh-client-http");
  }
}
