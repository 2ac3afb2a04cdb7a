/**
 * The intent translated to xDS: one translator per resource type (listeners, routes, clusters,
 * endpoints) and {@code XdsResources}, the immutable set they make. The only server package that
 * builds Envoy protos from the intent.
 *
 * <p>May depend on {@code controlplane.intent}, {@code internal.serving} (the snapshot type) and
 * mesh-client-core's shared rules ({@code io.meshlet.internal.wire.WireNames} names what it emits).
 */
package io.meshlet.controlplane.internal.translate;
