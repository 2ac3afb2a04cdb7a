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
}
