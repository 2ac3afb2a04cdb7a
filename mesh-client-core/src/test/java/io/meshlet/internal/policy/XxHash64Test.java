package io.meshlet.internal.policy;

import io.meshlet.MeshRejection;
import io.meshlet.UnknownServiceException;
import io.meshlet.transport.Outcome;
import io.meshlet.transport.ResponseInfo;
import io.meshlet.transport.TryPlan;
import io.meshlet.transport.TrySender;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class XxHash64Test {

  /** Reference values of XXH64 with seed 0 (xxHash's own test vectors and python-xxhash's docs). */
  @ParameterizedTest(name = "\"{0}\"")
  @CsvSource(delimiter = '|', textBlock = """
      ''                                        | ef46db3751d8e999
      a                                         | d24ec4f1a98c6e5b
      abc                                       | 44bc2cf5ad770999
      Nobody inspects the spammish repetition   | fbcea83c8a378bf1
      """)
  void matchesTheReferenceValues(String input, String hex) {
    assertThat(Long.toHexString(XxHash64.hashAscii(input))).isEqualTo(hex);
  }

  @ParameterizedTest(name = "length {0}")
  @CsvSource({"0", "3", "4", "7", "8", "31", "32", "33", "63", "64", "100"})
  void everyLengthTakesEveryChar(int length) {
    // Each path (32-byte stripes, 8-byte words, a 4-byte word, single bytes) reads each char:
    // changing any one char changes the hash.
    StringBuilder s = new StringBuilder("x".repeat(length));
    long h = XxHash64.hashAscii(s);
    for (int i = 0; i < length; i++) {
      s.setCharAt(i, 'y');
      assertThat(XxHash64.hashAscii(s)).as("char %d of %d", i, length).isNotEqualTo(h);
      s.setCharAt(i, 'x');
    }
  }
}
