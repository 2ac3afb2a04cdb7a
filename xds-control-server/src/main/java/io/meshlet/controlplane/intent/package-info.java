/**
 * The mesh's intent, as mesh.yaml says it: immutable, validated records ({@link
 * io.meshlet.controlplane.intent.MeshConfig}, {@link io.meshlet.controlplane.intent.ServiceSpec},
 * {@link io.meshlet.controlplane.intent.RouteSpec} and the other {@code *Spec} records), the
 * {@link io.meshlet.controlplane.intent.Violation}s a bad file yields, and the one public entry that
 * reads a file, {@link io.meshlet.controlplane.intent.MeshConfigParser}.
 *
 * <p>Public API. The records depend on nothing but the JDK; the parser delegates to
 * {@code internal.intent}.
 */
package io.meshlet.controlplane.intent;
