package io.meshlet.controlplane.internal;

import java.util.regex.Pattern;

/**
 * The control server's one rule for service names and labels. A service name is at most 63
 * lower-case letters, digits, {@code .} and {@code -}, starting and ending with a letter or digit;
 * a label (name or value) is letters, digits, {@code .}, {@code _}, {@code /} and {@code -}.
 * mesh.yaml's reader and self-registration both check here.
 *
 * <p>One class on purpose: when mesh-client-core's shared home for service names
 * ({@code io.meshlet.internal.*}) is merged, this class is the one place to point at it.
 */
public final class ServiceNames {

  private static final Pattern SERVICE_NAME = Pattern.compile("[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?");

  private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._/-]{0,252}[A-Za-z0-9])?");

  private ServiceNames() {}

  /** Whether {@code name} is a valid service name. */
  public static boolean isValid(String name) {
    return SERVICE_NAME.matcher(name).matches();
  }

  /** Whether {@code text} is a valid label name or (non-empty) label value, or subset name. */
  public static boolean isValidLabel(String text) {
    return LABEL.matcher(text).matches();
  }
}
