package io.meshlet.spring.autoconfigure;

import java.util.ArrayList;
import java.util.List;
import org.springframework.core.env.Environment;

/**
 * The {@link MeshletProperties} with their defaults resolved against the environment and checked:
 * every problem is reported at once, each naming the property, its value and what is expected.
 */
record MeshletSettings(String serviceName, List<String> controlServers, MeshletProperties properties) {

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
    MeshletProperties.Identity id = p.getIdentity();
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
    if (p.getFirstConfigTimeout().isNegative() || p.getFirstConfigTimeout().isZero()) {
      problems.add("meshlet.first-config-timeout: " + p.getFirstConfigTimeout() + " (expected: more than 0)");
    }
    if (!problems.isEmpty()) {
      throw new MeshletPropertiesException(problems);
    }
    return new MeshletSettings(service, servers, p);
  }

  /** The CA's address: the one set, or the first control server. */
  String caAddress() {
    String set = properties.getIdentity().getCaAddress();
    return set != null ? set : controlServers.get(0);
  }

  private static boolean isHostPort(String s) {
    if (s == null || s.isBlank()) {
      return false;
    }
    int colon = s.lastIndexOf(':');
    if (colon < 1 || colon == s.length() - 1) {
      return false;
    }
    try {
      int port = Integer.parseInt(s.substring(colon + 1));
      return port > 0 && port < 65536;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  private static boolean isBlank(String s) {
    return s == null || s.isBlank();
  }
}
