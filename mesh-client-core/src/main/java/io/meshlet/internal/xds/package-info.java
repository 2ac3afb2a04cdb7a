/**
 * Internal, no compatibility: the ADS client (stream, ACK/NACK, reconnect, last-known-good) and
 * the parsers that turn Envoy v3 resources into {@link io.meshlet.config} records. The only client
 * package that imports {@code io.envoyproxy.*}.
 */
package io.meshlet.internal.xds;
