/**
 * Internal, no compatibility: the rules both the client and the control server follow, each
 * written once: wire names ({@link io.meshlet.internal.wire.WireNames}), {@code host:port}, service
 * names and labels, durations, backoff.
 */
package io.meshlet.internal.wire;
