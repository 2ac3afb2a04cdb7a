package io.meshlet.controlplane.internal.source;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.meshlet.controlplane.intent.EndpointSpec;
import io.meshlet.controlplane.intent.ServiceSpec;
import io.meshlet.internal.net.HostPort;
import io.meshlet.internal.wire.MeshNames;
import io.meshlet.internal.wire.WireNames;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Instances that registered themselves: a workload names its own address and labels in its xDS
 * node metadata ({@value #METADATA_KEY}), and is an endpoint of its service while its xDS stream
 * is open. The stream is the lease: a graceful shutdown closes it at once, a crashed process's
 * socket is closed by its OS, and a vanished host is noticed by the server's keepalive.
 *
 * <p>With a state directory, the instances are kept in {@code registrations.json}, so that a
 * restarted control server serves them at once; each must reconnect within the grace period or it
 * is dropped.
 *
 * <p>Thread-safe: every method is synchronized; changes are reported after the lock is released.
 */
public final class Registrations {

  private static final Logger log = LoggerFactory.getLogger(Registrations.class);

  /** The node metadata field holding a workload's own instance. */
  public static final String METADATA_KEY = WireNames.INSTANCE_METADATA;

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * One registered instance.
   *
   * @param service the service it is an instance of
   * @param host its address's host
   * @param port its address's port
   * @param labels labels subsets select on, e.g. {@code version: v1}
   * @param protocol {@code http} or {@code grpc}: used when mesh.yaml does not declare the service
   * @param nodeId the xDS node that registered it
   */
  public record Instance(String service, String host, int port, Map<String, String> labels, String protocol,
      String nodeId) {
    public Instance {
      Objects.requireNonNull(service, "service");
      Objects.requireNonNull(host, "host");
      labels = Collections.unmodifiableMap(new TreeMap<>(labels));
    }

    public EndpointSpec endpoint() {
      return new EndpointSpec(host, port, labels);
    }

    public String address() {
      return endpoint().address();
    }

    ServiceSpec.Protocol protocolOrHttp() {
      return "grpc".equals(protocol) ? ServiceSpec.Protocol.GRPC : ServiceSpec.Protocol.HTTP;
    }
  }

  private final Map<Long, Instance> live = new LinkedHashMap<>();
  /** Restored from the state file, waiting for their workload to reconnect, with deadlines. */
  private final Map<String, Restored> restored = new LinkedHashMap<>();
  private final Optional<Path> stateFile;
  private final Clock clock;
  private Runnable onChange = () -> {};
  private boolean closed;

  private record Restored(Instance instance, Instant until) {}

  public Registrations(Optional<Path> stateDirectory, Duration grace, Clock clock) {
    this.stateFile = stateDirectory.map(d -> d.resolve("registrations.json"));
    this.clock = clock;
    stateFile.filter(Files::exists).ifPresent(f -> restore(f, grace));
  }

  /** Called after every change of the registered instances. */
  public synchronized void onChange(Runnable listener) {
    this.onChange = Objects.requireNonNull(listener, "listener");
  }

  /**
   * The instance a node registers, if it names one.
   *
   * @throws IllegalArgumentException naming the field to fix, when the metadata is malformed
   */
  public static Optional<Instance> parse(Node node) {
    Value v = node.getMetadata().getFieldsMap().get(METADATA_KEY);
    if (v == null) {
      return Optional.empty();
    }
    String p = "node.metadata." + METADATA_KEY;
    if (!v.hasStructValue()) {
      throw new IllegalArgumentException(p + ": " + v.getKindCase().name().toLowerCase()
          + " (expected: a struct with address and optionally labels, protocol, service)");
    }
    Map<String, Value> f = v.getStructValue().getFieldsMap();
    for (String key : f.keySet()) {
      if (!List.of(WireNames.INSTANCE_ADDRESS, WireNames.INSTANCE_LABELS, "protocol", "service").contains(key)) {
        throw new IllegalArgumentException(p + "." + key + ": unknown field (expected: one of address, labels, "
            + "protocol, service)");
      }
    }
    String service = f.containsKey("service") ? f.get("service").getStringValue() : node.getCluster();
    if (!MeshNames.isServiceName(service)) {
      throw new IllegalArgumentException(p + ".service: '" + service + "' (expected: a service name of lower-case "
          + "letters, digits, '-' and '.', from node.cluster when not set)");
    }
    String address = f.containsKey(WireNames.INSTANCE_ADDRESS) ? f.get(WireNames.INSTANCE_ADDRESS).getStringValue() : "";
    // The one reading of host:port that mesh.yaml and every client use: an IPv6 host in brackets.
    // A wildcard host is a valid address to bind but not one that callers can reach.
    Optional<HostPort> hostPort = HostPort.parse(address);
    String host = hostPort.map(HostPort::host).orElse("");
    int port = hostPort.map(HostPort::port).orElse(-1);
    if (hostPort.isEmpty() || host.equals("0.0.0.0") || host.equals("::")) {
      throw new IllegalArgumentException(p + ".address: '" + address + "' (expected: host:port that callers can "
          + "reach, with a port in 1..65535, e.g. 10.0.0.7:8080)");
    }
    Map<String, String> labels = new TreeMap<>();
    if (f.containsKey(WireNames.INSTANCE_LABELS)) {
      Struct s = f.get(WireNames.INSTANCE_LABELS).getStructValue();
      for (Map.Entry<String, Value> e : s.getFieldsMap().entrySet()) {
        String value = e.getValue().getStringValue();
        if (!MeshNames.isLabel(e.getKey()) || !MeshNames.isLabel(value)) {
          throw new IllegalArgumentException(p + ".labels." + e.getKey() + ": '" + value + "' (expected: label "
              + "keys and values of letters, digits, '.', '_', '/', '-')");
        }
        labels.put(e.getKey(), value);
      }
    }
    String protocol = f.containsKey("protocol") ? f.get("protocol").getStringValue() : "http";
    if (!protocol.equals("http") && !protocol.equals("grpc")) {
      throw new IllegalArgumentException(p + ".protocol: '" + protocol + "' (expected: http or grpc)");
    }
    return Optional.of(new Instance(service, host, port, labels, protocol, node.getId()));
  }

  /** A stream's workload registers its instance (again, after a reconnect). */
  public void register(long streamId, Instance instance) {
    synchronized (this) {
      if (closed) {
        return;
      }
      Instance before = live.put(streamId, instance);
      boolean wasRestored = restored.remove(key(instance)) != null;
      if (instance.equals(before)) {
        return;
      }
      log.info("[{}] registered {} as an instance of '{}' {}{}", instance.nodeId(), instance.address(),
          instance.service(), instance.labels(), wasRestored ? " (reconnected after a restart)" : "");
      persist();
    }
    onChange.run();
  }

  /** A stream ended: its instance, if any, is gone. */
  public void deregister(long streamId, String why) {
    synchronized (this) {
      if (closed) {
        return;
      }
      Instance gone = live.remove(streamId);
      if (gone == null) {
        return;
      }
      log.info("[{}] removed {} from '{}': {}", gone.nodeId(), gone.address(), gone.service(), why);
      persist();
    }
    onChange.run();
  }

  /**
   * The server is shutting down: the streams it closes are not workloads leaving, so what is on
   * file stays as it is, for the next start.
   */
  public synchronized void close() {
    closed = true;
  }

  /** Drops restored instances whose workload did not reconnect in time. */
  public void expireRestored() {
    synchronized (this) {
      if (closed) {
        return;
      }
      Instant now = clock.instant();
      boolean any = restored.values().removeIf(r -> {
        if (r.until().isAfter(now)) {
          return false;
        }
        log.warn("[{}] dropped {} from '{}': it did not reconnect within the grace period after a restart",
            r.instance().nodeId(), r.instance().address(), r.instance().service());
        return true;
      });
      if (!any) {
        return;
      }
      persist();
    }
    onChange.run();
  }

  /** Every registered instance, live ones first, then restored ones not yet reconnected. */
  public synchronized List<Instance> instances() {
    List<Instance> out = new ArrayList<>(live.values());
    for (Restored r : restored.values()) {
      out.add(r.instance());
    }
    return out;
  }

  /** The instances registered on this server's open streams (restored ones left out). */
  public synchronized List<Instance> liveInstances() {
    return new ArrayList<>(live.values());
  }

  /** The instance registered on a stream, if any. */
  public synchronized Optional<Instance> onStream(long streamId) {
    return Optional.ofNullable(live.get(streamId));
  }

  private static String key(Instance i) {
    return i.service() + "|" + i.address();
  }

  private void persist() {
    if (stateFile.isEmpty()) {
      return;
    }
    Path file = stateFile.get();
    try {
      Files.createDirectories(file.getParent());
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(instances()));
      try {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      log.warn("cannot write {}: {}; registrations will not survive a restart until it can", file, e.toString());
    }
  }

  private void restore(Path file, Duration grace) {
    try {
      List<Instance> saved = JSON.readValue(Files.readString(file), new TypeReference<List<Instance>>() {});
      Instant until = clock.instant().plus(grace);
      for (Instance i : saved) {
        restored.put(key(i), new Restored(i, until));
      }
      log.info("restored {} registered instances from {}; each must reconnect within {} or is dropped",
          saved.size(), file, grace);
    } catch (IOException | RuntimeException e) {
      log.warn("cannot read {}: {}; starting with no registered instances", file, e.toString());
    }
  }
}
