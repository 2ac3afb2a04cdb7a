/**
 * The control server's internals, one package per stage of the flow: {@code intent} (mesh.yaml
 * read into records) -> {@code source} (file, etcd, registrations merged into one served state) ->
 * {@code translate} (records to xDS resources) -> {@code serving} (ADS to clients); beside them
 * {@code ca} (workload certificates), {@code admin} (the HTTP admin API) and {@code metrics}.
 *
 * <p>This package itself holds no classes. The rules shared by several stages, and with the client,
 * live once in mesh-client-core: {@code io.meshlet.internal.wire} (wire names, service names and
 * labels, durations, backoff), {@code io.meshlet.internal.net.HostPort} and
 * {@code io.meshlet.internal.spiffe.SpiffeIds}.
 */
package io.meshlet.controlplane.internal;
