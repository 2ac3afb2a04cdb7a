/**
 * Inbound (server-side) adapters: mTLS and authorization by the mesh config for Jetty, servlet
 * containers and the JDK's HTTPS server.
 */
package io.meshlet.inbound;
