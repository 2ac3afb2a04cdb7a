/**
 * The mesh's certificate authority: signing workload certificates from CSRs, root rotation, the
 * CA kept in etcd (encrypted with the key-encryption key), the identity service workloads call,
 * join tokens, and the server's own serving certificate.
 *
 * <p>May depend on {@code internal.serving} (a stream's peer) and {@code internal.source}
 * ({@code EtcdStore}, where a shared CA is kept); never on {@code admin}.
 */
package io.meshlet.controlplane.internal.ca;
