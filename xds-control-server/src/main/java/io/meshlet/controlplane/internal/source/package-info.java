/**
 * Where the intent and the endpoints come from, and their merge: the mesh.yaml file watcher, etcd
 * (store, source and registrar, shared by the replicas), instances that register themselves over
 * their xDS stream ({@code Registrations}, {@code ClientRegistry}), endpoints from the Kubernetes
 * API ({@code KubernetesSource}), and {@code MeshState}, which merges them, translates and hands the
 * result to serving. A new source goes here and feeds {@code MeshState}.
 *
 * <p>May depend on {@code internal.intent}, {@code internal.translate}, {@code internal.serving},
 * {@code internal.metrics} and {@code controlplane.intent}; never on {@code ca} or {@code admin}.
 */
package io.meshlet.controlplane.internal.source;
