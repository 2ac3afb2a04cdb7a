package io.meshlet.controlplane;

import io.meshlet.testing.ApiListing;
import org.junit.jupiter.api.Test;

/** docs/api.md lists every public type of xds-control-server outside its internal packages, and nothing else. */
class PublicApiDocumentedTest {

  @Test
  void everyPublicTypeIsListedInTheApiDocAndEveryListedTypeIsPublic() throws Exception {
    ApiListing.check(ControlServer.class, "xds-control-server");
  }
}
