package io.meshlet.controlplane.internal;

import java.util.regex.Pattern;

/**
 * The control server's one rule for service names: at most 63 lower-case letters, digits,
 * {@code .} and {@code -}, starting and ending with a letter or digit (a DNS label, dots allowed).
 * mesh.yaml's reader and self-registration both check names here.
 *
 * <p>One class on purpose: when mesh-client-core's shared home for service names
 * ({@code io.meshlet.internal.*}) is merged, this class is the one place to point at it.
 */
public final class ServiceNames {

  private static final Pattern SERVICE_NAME = Pattern.compile("[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?");

  private ServiceNames() {}

  /** Whether {@code name} is a valid service name. */
  public static boolean isValid(String name) {
    return SERVICE_NAME.matcher(name).matches();
  }
}
