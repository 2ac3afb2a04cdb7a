package io.meshlet.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The manifests in {@code deploy/kubernetes/}, checked offline against the Kubernetes schema as
 * fabric8's generated model (8.0.0, from the Kubernetes OpenAPI) holds it: every document must map
 * to a known apiVersion/kind, every field must be one the model knows (a misspelled or misplaced
 * field lands in a model object's {@code additionalProperties}, and fails here), and the fields the
 * API server requires, plus the references between objects (selectors, named ports, the service
 * account, the role), are checked by hand.
 *
 * <p>Why this and not kubeconform or an npm validator: fabric8 is already on this module's
 * classpath (the Kubernetes source uses it), so the check runs in every build, offline, with no
 * tool to install and nothing to skip; the hand-written checks catch broken references, which a
 * schema alone does not.
 */
class KubernetesManifestsTest {

  private static final Path DIR = Path.of("..", "deploy", "kubernetes");
  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  @Test
  void everyManifestIsValidAgainstTheModelAndItsReferencesHold() throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.list(DIR)) {
      files = s.filter(f -> f.toString().endsWith(".yaml")).sorted().toList();
    }
    assertThat(files).extracting(f -> f.getFileName().toString()).contains("rbac.yaml",
        "control-server-service.yaml", "control-server-single.yaml", "control-server-replicas.yaml",
        "sample-workload.yaml");
    List<HasMetadata> rbacAndService = new ArrayList<>();
    rbacAndService.addAll(read(DIR.resolve("rbac.yaml"), new ArrayList<>()));
    rbacAndService.addAll(read(DIR.resolve("control-server-service.yaml"), new ArrayList<>()));
    List<String> violations = new ArrayList<>();
    for (Path f : files) {
      List<HasMetadata> objects = new ArrayList<>(read(f, violations));
      if (f.getFileName().toString().startsWith("control-server-") && !f.endsWith("control-server-service.yaml")) {
        // Each control-server variant is applied with rbac.yaml and the Service.
        objects.addAll(rbacAndService);
      }
      violations.addAll(check(f.getFileName().toString(), objects));
    }
    assertThat(violations).isEmpty();
  }

  @Test
  void aMisspelledFieldAMissingImageAndABrokenSelectorAreCaught() {
    String bad = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: { name: catalog, namespace: shop }
        spec:
          replica: 2
          selector: { matchLabels: { app: catalog } }
          template:
            metadata: { labels: { app: catalogue } }
            spec:
              containers:
                - name: catalog
                  ports: [ { name: http, containerPort: 8080 } ]
                  readinessProbe: { httpGet: { path: /healthz, port: admin } }
                - name: server
                  image: meshlet/xds-control-server:1
                  args: [ serve, --config=mesh.yaml ]
        ---
        apiVersion: v1
        kind: Sevrice
        metadata: { name: catalog }
        """;
    List<String> violations = new ArrayList<>();
    List<HasMetadata> objects = parse("bad.yaml", bad, violations);
    violations.addAll(check("bad.yaml", objects));

    assertThat(violations).containsExactlyInAnyOrder(
        "bad.yaml: Deployment shop/catalog: spec.replica: unknown field (expected: a field of DeploymentSpec)",
        "bad.yaml: document 2: v1/Sevrice: unknown kind",
        "bad.yaml: Deployment shop/catalog: spec.template.metadata.labels: {app=catalogue} (expected: to match "
            + "spec.selector.matchLabels {app=catalog})",
        "bad.yaml: Deployment shop/catalog: container catalog: image: missing (expected: an image reference)",
        "bad.yaml: Deployment shop/catalog: container catalog: readinessProbe.httpGet.port: admin (expected: one of "
            + "the container's port names [http])",
        "bad.yaml: Deployment shop/catalog: container server: args[1]: --config=mesh.yaml (expected: one of "
            + Main.SERVE_OPTIONS + ", its value as the next argument)");
  }

  private static List<HasMetadata> read(Path f, List<String> violations) {
    try {
      return parse(f.getFileName().toString(), Files.readString(f), violations);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static List<HasMetadata> parse(String file, String text, List<String> violations) {
    List<HasMetadata> out = new ArrayList<>();
    int n = 0;
    for (Object doc : new Yaml().loadAll(text)) {
      n++;
      if (doc == null) {
        continue;
      }
      Map<?, ?> map = (Map<?, ?>) doc;
      String json = SERIALIZATION.asJson(map);
      Object o = SERIALIZATION.unmarshal(json);
      if (o instanceof GenericKubernetesResource g) {
        violations.add(file + ": document " + n + ": " + g.getApiVersion() + "/" + g.getKind() + ": unknown kind");
        continue;
      }
      HasMetadata h = (HasMetadata) o;
      unknownFields(file + ": " + h.getKind() + " " + name(h) + ": ", "", h, violations,
          java.util.Collections.newSetFromMap(new IdentityHashMap<>()));
      out.add(h);
    }
    return out;
  }

  private static String name(HasMetadata h) {
    return (h.getMetadata().getNamespace() == null ? "" : h.getMetadata().getNamespace() + "/")
        + h.getMetadata().getName();
  }

  /** Every non-empty {@code additionalProperties} in the model tree: a field the schema does not have. */
  private static void unknownFields(String prefix, String path, Object o, List<String> violations, Set<Object> seen) {
    if (o == null || !seen.add(o)) {
      return;
    }
    if (o instanceof List<?> list) {
      for (int i = 0; i < list.size(); i++) {
        unknownFields(prefix, path + "[" + i + "]", list.get(i), violations, seen);
      }
      return;
    }
    if (o instanceof Map<?, ?> map) {
      map.forEach((k, v) -> unknownFields(prefix, path + "." + k, v, violations, seen));
      return;
    }
    if (!o.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
      return;
    }
    for (Class<?> c = o.getClass(); c != Object.class; c = c.getSuperclass()) {
      for (Field f : c.getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers())) {
          continue;
        }
        f.setAccessible(true);
        Object value;
        try {
          value = f.get(o);
        } catch (IllegalAccessException e) {
          throw new IllegalStateException(e);
        }
        if (f.getName().equals("additionalProperties")) {
          if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
            for (Object key : extra.keySet()) {
              violations.add(prefix + (path.isEmpty() ? "" : path.substring(1) + ".") + key
                  + ": unknown field (expected: a field of " + o.getClass().getSimpleName() + ")");
            }
          }
        } else if (!(o instanceof IntOrString)) {
          String field = f.getName().startsWith("_") ? f.getName().substring(1) : f.getName();
          unknownFields(prefix, path + "." + field, value, violations, seen);
        }
      }
    }
  }

  /** What the API server requires, and the references between the objects of one apply. */
  private static List<String> check(String file, List<HasMetadata> objects) {
    List<String> v = new ArrayList<>();
    for (HasMetadata h : objects) {
      String p = file + ": " + h.getKind() + " " + name(h) + ": ";
      if (h.getMetadata() == null || h.getMetadata().getName() == null) {
        v.add(p + "metadata.name: missing");
      }
      if (h instanceof Deployment d) {
        var spec = d.getSpec();
        Map<String, String> selector = spec.getSelector() == null ? null : spec.getSelector().getMatchLabels();
        Map<String, String> labels = spec.getTemplate().getMetadata() == null ? Map.of()
            : spec.getTemplate().getMetadata().getLabels();
        if (selector == null || selector.isEmpty()) {
          v.add(p + "spec.selector.matchLabels: missing");
        } else if (!labels.entrySet().containsAll(selector.entrySet())) {
          v.add(p + "spec.template.metadata.labels: " + labels + " (expected: to match spec.selector.matchLabels "
              + selector + ")");
        }
        String account = spec.getTemplate().getSpec().getServiceAccountName();
        if (account != null && objects.stream().noneMatch(o -> o.getKind().equals("ServiceAccount")
            && o.getMetadata().getName().equals(account))) {
          v.add(p + "serviceAccountName: " + account + " (expected: a ServiceAccount applied with it)");
        }
        for (Container c : spec.getTemplate().getSpec().getContainers()) {
          String cp = p + "container " + c.getName() + ": ";
          if (c.getImage() == null || c.getImage().isBlank()) {
            v.add(cp + "image: missing (expected: an image reference)");
          }
          if (c.getImage() != null && c.getImage().startsWith("meshlet/xds-control-server")) {
            v.addAll(serveArgs(cp, c.getArgs()));
          }
          List<String> ports = c.getPorts() == null ? List.of()
              : c.getPorts().stream().map(ContainerPort::getName).filter(Objects::nonNull).toList();
          for (var probe : Map.of("readinessProbe", nz(c.getReadinessProbe()),
              "livenessProbe", nz(c.getLivenessProbe())).entrySet()) {
            HTTPGetAction get = probe.getValue().getHttpGet();
            if (get != null && get.getPort() != null && get.getPort().getStrVal() != null
                && !ports.contains(get.getPort().getStrVal())) {
              v.add(cp + probe.getKey() + ".httpGet.port: " + get.getPort().getStrVal() + " (expected: one of the "
                  + "container's port names " + ports + ")");
            }
          }
        }
        // Every Service selecting these pods names ports the container has.
        for (HasMetadata o : objects) {
          if (o instanceof Service s && s.getSpec().getSelector() != null
              && labels.entrySet().containsAll(s.getSpec().getSelector().entrySet())) {
            List<String> names = spec.getTemplate().getSpec().getContainers().stream()
                .flatMap(c -> c.getPorts() == null ? Stream.empty() : c.getPorts().stream())
                .map(ContainerPort::getName).toList();
            for (ServicePort sp : s.getSpec().getPorts()) {
              if (sp.getTargetPort() != null && sp.getTargetPort().getStrVal() != null
                  && !names.contains(sp.getTargetPort().getStrVal())) {
                v.add(file + ": Service " + name(s) + ": ports." + sp.getName() + ".targetPort: "
                    + sp.getTargetPort().getStrVal() + " (expected: a port name of Deployment " + name(d) + ": "
                    + names + ")");
              }
            }
          }
        }
      }
      if (h instanceof Service s) {
        for (ServicePort sp : s.getSpec().getPorts()) {
          if (sp.getPort() == null) {
            v.add(p + "ports." + sp.getName() + ".port: missing");
          }
        }
      }
      if (h instanceof PodDisruptionBudget pdb) {
        if ((pdb.getSpec().getMinAvailable() == null) == (pdb.getSpec().getMaxUnavailable() == null)) {
          v.add(p + "spec: exactly one of minAvailable and maxUnavailable");
        }
        if (pdb.getSpec().getSelector() == null) {
          v.add(p + "spec.selector: missing");
        }
      }
      if (h instanceof ClusterRoleBinding b) {
        String role = b.getRoleRef().getName();
        if (objects.stream().noneMatch(o -> o.getKind().equals("ClusterRole") && o.getMetadata().getName().equals(role))) {
          v.add(p + "roleRef.name: " + role + " (expected: a ClusterRole applied with it)");
        }
      }
    }
    return v;
  }

  /** The control server's arguments, read as {@code Main} reads them. */
  private static List<String> serveArgs(String prefix, List<String> args) {
    List<String> v = new ArrayList<>();
    if (args.isEmpty() || !args.get(0).equals("serve")) {
      return List.of(prefix + "args: " + args + " (expected: serve and its options)");
    }
    for (int i = 1; i < args.size(); i++) {
      String flag = args.get(i);
      if (!Main.SERVE_OPTIONS.contains(flag)) {
        v.add(prefix + "args[" + i + "]: " + flag + " (expected: one of " + Main.SERVE_OPTIONS + ", its value as the "
            + "next argument)");
      } else if (!Main.SERVE_SWITCHES.contains(flag)) {
        if (i + 1 >= args.size() || args.get(i + 1).startsWith("--")) {
          v.add(prefix + "args[" + i + "]: " + flag + " needs a value");
        }
        i++;
      }
    }
    return v;
  }

  private static Probe nz(Probe p) {
    return p == null ? new Probe() : p;
  }
}
