/**
 * The control server's counters ({@code ServerMetrics}), counted by the sources (configs, xDS streams) and
 * rendered by the admin API. Its own package because every stage counts into it: inside
 * {@code admin} it would make {@code source} depend on {@code admin} and close a cycle.
 *
 * <p>Depends on nothing of the server but {@code lrs} (the load figures it exposes).
 */
package io.meshlet.controlplane.internal.metrics;
