/**
 * Internal, no compatibility: network addresses as Meshlet writes them ({@link io.meshlet.internal.net.HostPort}).
 */
package io.meshlet.internal.net;
