package io.meshlet.internal.policy;

/**
 * xxHash64 with seed 0, the hash Envoy's and grpc-java's ring hash use ({@code XX_HASH}).
 *
 * <p>Strings are hashed as grpc-java's {@code XxHash64.hashAsciiString} does: one byte per char,
 * its low eight bits, so an ASCII key gives the same hash as Envoy's over the key's bytes. The
 * reference vectors of the xxHash specification are checked in {@code XxHash64Test}.
 *
 * <p>Stateless and thread-safe; allocates nothing.
 */
final class XxHash64 {

  private static final long P1 = 0x9E3779B185EBCA87L;
  private static final long P2 = 0xC2B2AE3D27D4EB4FL;
  private static final long P3 = 0x165667B19E3779F9L;
  private static final long P4 = 0x85EBCA77C2B2AE63L;
  private static final long P5 = 0x27D4EB2F165667C5L;

  private XxHash64() {}

  /** The hash of a string's chars taken as bytes (ASCII; higher chars are cut to their low byte). */
  static long hashAscii(CharSequence s) {
    int len = s.length();
    int i = 0;
    long h;
    if (len >= 32) {
      long v1 = P1 + P2;
      long v2 = P2;
      long v3 = 0;
      long v4 = -P1;
      do {
        v1 = round(v1, long64(s, i));
        v2 = round(v2, long64(s, i + 8));
        v3 = round(v3, long64(s, i + 16));
        v4 = round(v4, long64(s, i + 24));
        i += 32;
      } while (len - i >= 32);
      h = Long.rotateLeft(v1, 1) + Long.rotateLeft(v2, 7) + Long.rotateLeft(v3, 12) + Long.rotateLeft(v4, 18);
      h = merge(h, v1);
      h = merge(h, v2);
      h = merge(h, v3);
      h = merge(h, v4);
    } else {
      h = P5;
    }
    h += len;
    for (; len - i >= 8; i += 8) {
      h ^= round(0, long64(s, i));
      h = Long.rotateLeft(h, 27) * P1 + P4;
    }
    if (len - i >= 4) {
      h ^= (int32(s, i) & 0xFFFFFFFFL) * P1;
      h = Long.rotateLeft(h, 23) * P2 + P3;
      i += 4;
    }
    for (; i < len; i++) {
      h ^= (s.charAt(i) & 0xFFL) * P5;
      h = Long.rotateLeft(h, 11) * P1;
    }
    h ^= h >>> 33;
    h *= P2;
    h ^= h >>> 29;
    h *= P3;
    h ^= h >>> 32;
    return h;
  }

  private static long round(long acc, long input) {
    acc += input * P2;
    acc = Long.rotateLeft(acc, 31);
    return acc * P1;
  }

  private static long merge(long h, long v) {
    h ^= round(0, v);
    return h * P1 + P4;
  }

  /** Eight chars as a little-endian 64-bit word. */
  private static long long64(CharSequence s, int at) {
    return (int32(s, at) & 0xFFFFFFFFL) | ((int32(s, at + 4) & 0xFFFFFFFFL) << 32);
  }

  /** Four chars as a little-endian 32-bit word. */
  private static long int32(CharSequence s, int at) {
    return (s.charAt(at) & 0xFFL) | (s.charAt(at + 1) & 0xFFL) << 8 | (s.charAt(at + 2) & 0xFFL) << 16
        | (s.charAt(at + 3) & 0xFFL) << 24;
  }
}
