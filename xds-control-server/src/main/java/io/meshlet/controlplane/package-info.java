/**
 * The control server's public API: {@link io.meshlet.controlplane.ControlServer} (embed it) and
 * {@link io.meshlet.controlplane.Main} (run it), and {@link io.meshlet.controlplane.MeshConfigParser}
 * (read and validate a mesh.yaml without a server). The intent model it serves is in
 * {@link io.meshlet.controlplane.intent}.
 *
 * <p>May depend on every {@code internal} package; nothing in {@code internal} depends on this
 * package (only on {@code .intent}).
 */
package io.meshlet.controlplane;
