/**
 * Serving xDS: the ADS service (state-of-the-world and delta streams), the versioned resource
 * snapshots it sends, the peer of each stream, and the load report sink.
 *
 * <p>Depends on no other package of the server but {@code lrs}, where the load report sink puts the
 * reports: every stage above hands it resources or listens to its streams.
 */
package io.meshlet.controlplane.internal.serving;
