/**
 * Internal, no compatibility: Meshlet's metrics and spans through the OpenTelemetry API, for calls
 * through the policy engine, calls a transport routes itself, cluster events and denied calls.
 */
package io.meshlet.internal.telemetry;
