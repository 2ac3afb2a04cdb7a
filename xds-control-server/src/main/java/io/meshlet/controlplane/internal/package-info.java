/**
 * The control server's internals, one package per stage of the flow: {@code intent} (mesh.yaml
 * read into records) -> {@code source} (file, etcd, registrations merged into one served state) ->
 * {@code translate} (records to xDS resources) -> {@code serving} (ADS to clients); beside them
 * {@code ca} (workload certificates), {@code admin} (the HTTP admin API) and {@code metrics}.
 *
 * <p>This package itself holds small leaf classes that are each the one home of a rule shared by
 * several stages ({@link io.meshlet.controlplane.internal.Durations}); they depend on nothing and
 * will point at mesh-client-core's shared homes once both sides are merged.
 */
package io.meshlet.controlplane.internal;
