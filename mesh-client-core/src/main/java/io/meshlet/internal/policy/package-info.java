/**
 * Internal, no compatibility: the policy engine (route match, weighted split, rate limit, fault,
 * circuit breaker, retry, load balancing, outlier detection) Transports reach it
 * through {@link io.meshlet.transport.MeshCalls} only.
 */
package io.meshlet.internal.policy;
