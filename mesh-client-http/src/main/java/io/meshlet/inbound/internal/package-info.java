/**
 * Internal, no compatibility: what the inbound adapters share (authorization, request path
 * normalization, the JDK server's rewritten exchange).
 */
package io.meshlet.inbound.internal;
