/**
 * Internal, no compatibility: SPIFFE IDs and X.509 SVID rules (one home for the client and the
 * control server), the SVID trust manager, and TLS to the control server.
 */
package io.meshlet.internal.spiffe;
