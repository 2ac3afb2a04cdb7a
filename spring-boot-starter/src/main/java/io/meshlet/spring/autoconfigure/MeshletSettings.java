package io.meshlet.spring.autoconfigure;

import io.meshlet.internal.net.HostPort;
import io.meshlet.internal.spiffe.ControlPlaneTls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.springframework.core.env.Environment;

/**
 * The {@link MeshletProperties} with their defaults resolved against the environment and checked:
 * every problem is reported at once, each naming the property, its value and what is expected.
 */
record MeshletSettings(String serviceName, List<String> controlServers, Path trustBundle,
    MeshletProperties properties) {

  static MeshletSettings resolve(MeshletProperties p, Environment env) {
    List<String> problems = new ArrayList<>();
    String service = p.getServiceName();
    if (isBlank(service)) {
      service = env.getProperty("spring.application.name");
    }
    if (isBlank(service)) {
      problems.add("meshlet.service-name: not set (expected: this service's name in the mesh;"
          + " spring.application.name is used when meshlet.service-name is not set)");
    }
    List<String> servers = p.getControlServers();
    if (servers.isEmpty()) {
      problems.add("meshlet.control-servers: not set (expected: at least one host:port of a Meshlet control"
          + " server, e.g. meshlet.control-servers=127.0.0.1:18000)");
    }
    for (int i = 0; i < servers.size(); i++) {
      if (!isHostPort(servers.get(i))) {
        problems.add("meshlet.control-servers[" + i + "]: '" + servers.get(i) + "' (expected: host:port)");
      }
    }
    Path bundle = p.getControlServerTrustBundle();
    if (bundle == null && !p.isXdsPlaintext()) {
      problems.add("meshlet.control-server-trust-bundle: not set (expected: the path of the control server's"
          + " trust bundle, trust-bundle.pem in its --ca-dir, so this service can tell the control server from"
          + " an impostor; or meshlet.xds-plaintext=true for a control server started with --xds-plaintext)");
    } else if (bundle != null && p.isXdsPlaintext()) {
      problems.add("meshlet.xds-plaintext: true while meshlet.control-server-trust-bundle is set (expected: one"
          + " of the two: the trust bundle for a control server on TLS, the default, or plaintext for one"
          + " started with --xds-plaintext)");
    } else if (bundle != null) {
      trustBundleProblem(bundle).ifPresent(problems::add);
    }
    MeshletProperties.Identity id = p.getIdentity();
    if (id.getSource() == MeshletProperties.Source.CA && bundle == null && p.isXdsPlaintext()) {
      problems.add("meshlet.identity.source: ca with meshlet.xds-plaintext=true (expected:"
          + " meshlet.control-server-trust-bundle instead: the join token goes only over TLS, and a control"
          + " server on --xds-plaintext refuses join tokens)");
    }
    switch (id.getSource()) {
      case CA -> {
        if (isBlank(id.getJoinToken())) {
          problems.add("meshlet.identity.join-token: not set (expected: this service's join token when"
              + " meshlet.identity.source=ca)");
        }
        if (id.getCaAddress() != null && !isHostPort(id.getCaAddress())) {
          problems.add("meshlet.identity.ca-address: '" + id.getCaAddress() + "' (expected: host:port)");
        }
      }
      case FILES -> {
        if (id.getDirectory() == null) {
          problems.add("meshlet.identity.directory: not set (expected: the directory holding cert.pem, key.pem"
              + " and ca.pem when meshlet.identity.source=files)");
        }
      }
      case NONE -> { }
    }
    if (p.getZone() != null && !p.getZone().isEmpty() && !io.meshlet.internal.wire.MeshNames.isLabel(p.getZone())) {
      problems.add("meshlet.zone: '" + p.getZone() + "' (expected: " + io.meshlet.internal.wire.MeshNames.ZONE_EXPECTED + ")");
    }
    MeshletProperties.OnDemand onDemand = p.getOnDemand();
    if (!onDemand.isEnabled() && !onDemand.getServices().isEmpty()) {
      problems.add("meshlet.on-demand.services: " + onDemand.getServices() + " set while meshlet.on-demand.enabled"
          + " is false (expected: meshlet.on-demand.enabled=true to hold only these and the services called, or no"
          + " meshlet.on-demand.services to hold the whole mesh)");
    }
    for (String name : onDemand.getServices()) {
      if (!io.meshlet.internal.wire.MeshNames.isServiceName(name)) {
        problems.add("meshlet.on-demand.services: '" + name + "' (expected: "
            + io.meshlet.internal.wire.MeshNames.SERVICE_NAME_EXPECTED + ")");
      }
    }
    if (p.getFirstConfigTimeout().isNegative() || p.getFirstConfigTimeout().isZero()) {
      problems.add("meshlet.first-config-timeout: " + p.getFirstConfigTimeout() + " (expected: more than 0)");
    }
    if (!problems.isEmpty()) {
      throw new MeshletPropertiesException(problems);
    }
    return new MeshletSettings(service, servers, bundle, p);
  }

  /**
   * The control server's trust bundle, with which xDS and the CA are reached over TLS; empty
   * for plaintext ({@code meshlet.xds-plaintext=true}).
   */
  Optional<Path> controlServerTrust() {
    return Optional.ofNullable(trustBundle);
  }

  /** Why a trust bundle file cannot be used, if it cannot: read now so a wrong path fails start-up. */
  private static Optional<String> trustBundleProblem(Path bundle) {
    String expected = " (expected: the control server's trust-bundle.pem, written to its --ca-dir)";
    if (!Files.exists(bundle)) {
      return Optional.of("meshlet.control-server-trust-bundle: '" + bundle + "' does not exist" + expected);
    }
    try {
      ControlPlaneTls.readTrustBundle(bundle);
      return Optional.empty();
    } catch (IOException e) {
      return Optional.of("meshlet.control-server-trust-bundle: '" + bundle + "' cannot be read ("
          + e.getClass().getSimpleName() + ")" + expected);
    } catch (CertificateException e) {
      return Optional.of("meshlet.control-server-trust-bundle: '" + bundle + "' holds no PEM certificate"
          + " that can be read" + expected);
    }
  }

  /** The CA's address: the one set, or the first control server. */
  String caAddress() {
    String set = properties.getIdentity().getCaAddress();
    return set != null ? set : controlServers.get(0);
  }

  private static boolean isHostPort(String s) {
    return HostPort.parse(s).isPresent();
  }

  private static boolean isBlank(String s) {
    return s == null || s.isBlank();
  }
}
