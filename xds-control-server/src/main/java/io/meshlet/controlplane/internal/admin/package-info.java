/**
 * The HTTP admin API and page: the served config and its tree, clients, registrations, metrics, the
 * CA's rotation, and the bearer token that guards it. The admin API is a view over every stage and
 * the one way besides a source to change the intent.
 *
 * <p>May depend on every other {@code internal} package; none depends on it.
 */
package io.meshlet.controlplane.internal.admin;
