/**
 * Reading mesh.yaml into the intent records: a generic node reader (file, line, field, value and
 * what was expected), one reader per section, one validator for the checks across fields, and the
 * schema from which the accepted keys and docs/config.md's tables come. Also {@code IntentTree},
 * the intent rendered back as a tree for the admin API.
 *
 * <p>May depend on {@code controlplane.intent} (the records it builds) and mesh-client-core's
 * shared rules ({@code io.meshlet.internal.wire}, {@code .net}, {@code .spiffe}); nothing else of the
 * server.
 */
package io.meshlet.controlplane.internal.intent;
