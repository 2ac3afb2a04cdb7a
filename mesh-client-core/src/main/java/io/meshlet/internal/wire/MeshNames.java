package io.meshlet.internal.wire;

import java.util.regex.Pattern;

/** The shape of the names the mesh uses: services, trust domains, label keys and values. */
public final class MeshNames {

  /** A service name: a DNS label-like name of lower-case letters, digits, '-' and '.'. */
  public static final Pattern SERVICE_NAME = Pattern.compile("[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?");
  /** A SPIFFE trust domain. */
  public static final Pattern TRUST_DOMAIN = Pattern.compile("[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?");
  /** A label key or value: letters, digits, '.', '_', '/', '-'. */
  public static final Pattern LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._/-]{0,252}[A-Za-z0-9])?");

  private MeshNames() {}

  public static boolean isServiceName(String s) {
    return s != null && SERVICE_NAME.matcher(s).matches();
  }

  public static boolean isLabel(String s) {
    return s != null && LABEL.matcher(s).matches();
  }

  /** What a service name may be, as error messages say it. */
  public static final String SERVICE_NAME_EXPECTED = "a service name, lower-case letters, digits, '-' and '.'";

  /** What a zone name may be, as error messages say it. */
  public static final String ZONE_EXPECTED = "a zone name of letters, digits, '.', '_', '/' and '-', e.g. eu-west-1a";

  /**
   * {@code zone} when it is empty (no zone) or a valid zone name; else an error naming {@code what}
   * (the setting) and what a zone may be.
   */
  public static String requireZone(String what, String zone) {
    java.util.Objects.requireNonNull(zone, what);
    if (!zone.isEmpty() && !isLabel(zone)) {
      throw new IllegalArgumentException(what + ": '" + zone + "' (expected: " + ZONE_EXPECTED + ")");
    }
    return zone;
  }
}
