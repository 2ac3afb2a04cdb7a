/**
 * The load clients report over LRS ({@code LoadStore}): per service, route target and instance, in
 * memory, over a bounded window; the console's traffic and the load figures of {@code /metrics}.
 *
 * <p>Depends on nothing of the server (the wire names of the latency metrics are core's
 * {@code io.meshlet.internal.wire.LoadMetrics}, shared with the clients that send them).
 * {@code serving} (the LRS service), {@code metrics} and {@code admin} read it.
 */
package io.meshlet.controlplane.internal.lrs;
