package io.meshlet.inbound.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RequestPathTest {

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', nullValues = "NULL", textBlock = """
      /                    | /              | /
      NULL                 | /              | /
      ""                   | /              | /
      /admin               | /admin         | /admin
      /admin/              | /admin/        | /admin/
      //admin              | /admin         | /admin
      /a//b///c            | /a/b/c         | /a/b/c
      /./admin             | /admin         | /admin
      /public/../admin     | /admin         | /admin
      /public/%2e%2e/admin | /admin         | /admin
      /public/%2E%2E/admin | /admin         | /admin
      /public/.%2e/admin   | /admin         | /admin
      /%61dmin             | /admin         | /admin
      /%7Euser             | /~user         | /~user
      /a/b/..              | /a/            | /a/
      /a/b/.               | /a/b/          | /a/b/
      /admin/..            | /              | /
      /a%20b               | /a%20b         | /a b
      /a%3fb               | /a%3Fb         | /a?b
      /%C3%A9t%C3%A9       | /%C3%A9t%C3%A9 | /été
      /a%3Bb               | /a%3Bb         | /a;b
      /ADMIN               | /ADMIN         | /ADMIN
      /a:b@c!$&'()*+,=     | /a:b@c!$&'()*+,= | /a:b@c!$&'()*+,=
      /...                 | /...           | /...
      /..a/b               | /..a/b         | /..a/b
      """)
  void normalizesAsEnvoyDoes(String raw, String normalized, String decoded) throws Exception {
    RequestPath path = RequestPath.normalize(raw);

    assertThat(path.raw()).isEqualTo(normalized);
    assertThat(path.decoded()).isEqualTo(decoded);
    assertThat(path.sameAs(raw)).isEqualTo(normalized.equals(raw == null || raw.isEmpty() ? "/" : raw));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      /admin%2F..         | an encoded slash (%2F) at character 7 (expected: / between segments, never inside one)
      /public/..%2fadmin  | an encoded slash (%2f) at character 11 (expected: / between segments, never inside one)
      /public%5C..%5Cadmin | an encoded backslash (%5C) at character 8 (expected: / between segments, never inside one)
      /public\\..\\admin  | a backslash at character 8 (expected: the characters RFC 3986 allows in a path; percent-encode others)
      /..                 | a '..' segment goes above the root (expected: a path that stays under /)
      /a/../../admin      | a '..' segment goes above the root (expected: a path that stays under /)
      /%2e%2e/admin       | a '..' segment goes above the root (expected: a path that stays under /)
      /admin%00.txt       | an encoded control character (%00) at character 7
      /admin%0a           | an encoded control character (%0a) at character 7
      /admin%             | '%' at character 7 does not start a percent-encoding (expected: % and two hex digits)
      /admin%4            | '%' at character 7 does not start a percent-encoding (expected: % and two hex digits)
      /admin%zz           | '%' at character 7 does not start a percent-encoding (expected: % and two hex digits)
      /admin;x            | a ';' at character 7 (expected: no path parameters; servers disagree on what they mean, percent-encode it as %3B when it is part of a name)
      /public/..;/admin   | a ';' at character 11 (expected: no path parameters; servers disagree on what they mean, percent-encode it as %3B when it is part of a name)
      /admin#             | '#' at character 7 (expected: the characters RFC 3986 allows in a path; percent-encode others)
      /admin?x            | '?' at character 7 (expected: the characters RFC 3986 allows in a path; percent-encode others)
      /a b                | a space at character 3 (expected: the characters RFC 3986 allows in a path; percent-encode others)
      /été                | a character beyond ASCII (U+00E9) at character 2 (expected: the characters RFC 3986 allows in a path; percent-encode others)
      /%C3%28             | its percent-encodings are not UTF-8 (expected: UTF-8 bytes, percent-encoded)
      admin               | does not start with / (expected: an absolute path)
      *                   | does not start with / (expected: an absolute path)
      """)
  void refusesWhatCannotBeNormalizedSafely(String raw, String why) {
    assertThatThrownBy(() -> RequestPath.normalize(raw.replace("\\\\", "\\")))
        .isInstanceOf(RequestPath.InvalidPathException.class).hasMessage(why);
  }
}
