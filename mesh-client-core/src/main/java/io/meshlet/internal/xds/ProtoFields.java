package io.meshlet.internal.xds;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.meshlet.config.FaultPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Field checks and conversions every xDS resource parser shares. */
final class ProtoFields {

  private ProtoFields() {}

  /** Reports every set field of {@code m} that is not in {@code allowed}. */
  static void only(Message m, Errors e, String path, String... allowed) {
    Set<String> ok = Set.of(allowed);
    for (FieldDescriptor f : m.getAllFields().keySet()) {
      if (!ok.contains(f.getName())) {
        e.add((path.isEmpty() ? "" : path + ".") + f.getName(), "set",
            "only fields Meshlet implements: " + String.join(", ", allowed));
      }
    }
  }

  static String fieldNames(Message m) {
    List<String> names = new ArrayList<>();
    m.getAllFields().keySet().forEach(f -> names.add(f.getName()));
    return String.join(", ", names);
  }

  static boolean validRegex(String regex) {
    try {
      com.google.re2j.Pattern.compile(regex);
      return true;
    } catch (com.google.re2j.PatternSyntaxException ex) {
      return false;
    }
  }

  /**
   * An {@code enforcing_*} percentage of outlier detection: Meshlet ejects always or never, so
   * only 0 and 100 are accepted.
   */
  static int enforcing(boolean set, com.google.protobuf.UInt32Value value, int unset, String path,
      Errors e) {
    int v = set ? u32(value.getValue()) : unset;
    if (v != 0 && v != 100) {
      e.add(path, Integer.toString(v), "0 or 100: Meshlet ejects always or never, not a share of the time");
    }
    return v;
  }

  /** A protobuf uint32 read as a non-negative int, values above {@code Integer.MAX_VALUE} capped. */
  static int u32(int value) {
    return (int) Math.min(Integer.MAX_VALUE, Integer.toUnsignedLong(value));
  }

  static int perMillion(FractionalPercent p) {
    long n = Integer.toUnsignedLong(p.getNumerator());
    long scaled = switch (p.getDenominator()) {
      case HUNDRED -> n * 10_000;
      case TEN_THOUSAND -> n * 100;
      case MILLION -> n;
      default -> n;
    };
    return (int) Math.min(FaultPolicy.MILLION, scaled);
  }

  static boolean isZero(com.google.protobuf.Duration d) {
    return d.getSeconds() == 0 && d.getNanos() == 0;
  }

  static Duration duration(com.google.protobuf.Duration d) {
    return Duration.ofSeconds(d.getSeconds(), d.getNanos());
  }
}
