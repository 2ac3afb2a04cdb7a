/**
 * The mesh's intent, as mesh.yaml says it: immutable, validated records ({@link
 * io.meshlet.controlplane.intent.MeshConfig}, {@link io.meshlet.controlplane.intent.ServiceSpec},
 * {@link io.meshlet.controlplane.intent.RouteSpec} and the other {@code *Spec} records), the
 * {@link io.meshlet.controlplane.intent.Violation}s a bad file yields. The public entry that reads a
 * file into these records is {@code io.meshlet.controlplane.MeshConfigParser}.
 *
 * <p>Public API. Depends on nothing of the server (so that {@code internal} packages may use it
 * without a cycle): only the JDK and the one rule for writing {@code host:port},
 * mesh-client-core's {@code io.meshlet.internal.net.HostPort}.
 */
package io.meshlet.controlplane.intent;
