/**
 * The door for transport adapters: {@link io.meshlet.transport.MeshCalls} routes and runs a call
 * by the mesh config and calls the transport's {@link io.meshlet.transport.TrySender} once per try.
 */
package io.meshlet.transport;
