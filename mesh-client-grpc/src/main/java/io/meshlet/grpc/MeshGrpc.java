package io.meshlet.grpc;

import io.meshlet.internal.wire.WireNames;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.opentelemetry.GrpcOpenTelemetry;
import io.meshlet.MeshClient;
import io.meshlet.transport.MeshCalls;
import io.opentelemetry.api.OpenTelemetry;
import io.grpc.xds.XdsChannelCredentials;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * grpc-java's own xDS client pointed at Meshlet's control servers, from two settings: the
 * service name and the control servers. {@link #install} writes the bootstrap grpc-java reads
 * (once per JVM, so call it before the first {@code xds:///} channel); {@link #channel} makes an
 * {@code xds:///<service>} channel that uses mTLS when the mesh asks for it and, given a
 * {@link MeshClient} or an {@link OpenTelemetry}, reports Meshlet's metrics and spans for its calls
 * under the names the HTTP side uses (see {@link #channel(String, MeshClient)}).
 *
 * <pre>{@code
 * MeshGrpc.bootstrap("frontend", List.of("10.0.0.5:18000")).certificates(files).install();
 * ManagedChannel catalog = MeshGrpc.channel("catalog", mesh);
 * }</pre>
 */
public final class MeshGrpc {

  /** The certificate provider instance Meshlet's clusters name. */
  public static final String CERTIFICATE_PROVIDER = WireNames.CERTIFICATE_PROVIDER;
  /** The system property grpc-java reads its bootstrap JSON from. */
  public static final String BOOTSTRAP_PROPERTY = "io.grpc.xds.bootstrapConfig";

  private static final ObjectMapper JSON = new ObjectMapper();

  private MeshGrpc() {}

  /**
   * A stream tracer for gRPC servers that logs and counts ({@code meshlet.server.denied}) the calls
   * refused by the service's authorization policy, with the caller's SPIFFE ID.
   */
  public static io.grpc.ServerStreamTracer.Factory deniedCallsTracer(io.meshlet.MeshClient mesh) {
    return new DeniedCallsTracer(mesh);
  }

  /**
   * Credentials for an {@code XdsServerBuilder} of this workload. Under {@code mtls.mode: strict}
   * the control server's listener makes grpc-java require mTLS with the bootstrap's certificates;
   * under {@code permissive} the listener carries no TLS context and these credentials accept
   * both mTLS callers (presenting {@code identity}'s current SVID) and plaintext callers on the
   * same port; under {@code off}, plaintext callers.
   *
   * <pre>{@code
   * Server server = XdsServerBuilder.forPort(9001, MeshGrpc.serverCredentials(identity::current))
   *     .addService(new CatalogService()).build().start();
   * }</pre>
   */
  public static io.grpc.ServerCredentials serverCredentials(
      java.util.function.Supplier<io.meshlet.identity.WorkloadIdentity> identity) {
    return io.grpc.xds.XdsServerCredentials.create(
        io.meshlet.grpc.internal.PermissiveServerCredentials.create(identity));
  }

  /** A bootstrap for this service and these control servers (tried in order, falling back). */
  public static Bootstrap bootstrap(String service, List<String> controlServers) {
    return new Bootstrap(service, controlServers);
  }

  /**
   * An {@code xds:///<service>} channel; mTLS when the service's clusters require it. It reports no
   * telemetry: use {@link #channel(String, MeshClient)} or {@link #channel(String, OpenTelemetry)}.
   */
  public static ManagedChannel channel(String service) {
    return channelBuilder(service).build();
  }

  /**
   * An {@code xds:///<service>} channel whose calls are measured and traced through the mesh
   * client's OpenTelemetry ({@link MeshClient#openTelemetry()}), with route names from its config:
   * <ul>
   *   <li>Meshlet's names, as for HTTP calls: {@code meshlet.client.request.duration} (histogram,
   *       seconds, by {@code meshlet.service}, {@code meshlet.route}, {@code meshlet.cluster},
   *       {@code meshlet.outcome}) and {@code meshlet.client.retries}; one CLIENT span
   *       {@code meshlet <service>} per call, child of the current context, with an event per try,
   *       whose W3C trace context goes in the call's metadata ({@code traceparent});
   *   <li>grpc-java's own (gRFC A66, through {@code grpc-opentelemetry}): {@code grpc.client.attempt.started},
   *       {@code grpc.client.attempt.duration}, {@code grpc.client.attempt.*_compressed_message_size},
   *       {@code grpc.client.call.duration}, by {@code grpc.method}, {@code grpc.target},
   *       {@code grpc.status} and {@code grpc.lb.backend_service} (the cluster).
   * </ul>
   */
  public static ManagedChannel channel(String service, MeshClient mesh) {
    return withTelemetry(channelBuilder(service), service, mesh.openTelemetry(), mesh.calls()).build();
  }

  /**
   * An {@code xds:///<service>} channel whose calls are measured and traced through {@code otel} as
   * {@link #channel(String, MeshClient)} says; without a mesh client's config, {@code meshlet.route}
   * is empty.
   */
  public static ManagedChannel channel(String service, OpenTelemetry otel) {
    return withTelemetry(channelBuilder(service), service, otel, MeshCalls.unrouted(otel)).build();
  }

  private static ManagedChannelBuilder<?> channelBuilder(String service) {
    return Grpc.newChannelBuilder("xds:///" + service, XdsChannelCredentials.create(InsecureChannelCredentials.create()));
  }

  private static ManagedChannelBuilder<?> withTelemetry(ManagedChannelBuilder<?> builder, String service,
      OpenTelemetry otel, MeshCalls calls) {
    // grpc-java's per-attempt metrics; the cluster label is off by default (gRFC A89).
    GrpcOpenTelemetry.newBuilder().sdk(otel)
        .addOptionalLabel(MeshClientInterceptor.BACKEND_SERVICE)
        .build()
        .configureChannelBuilder(builder);
    return builder.intercept(new MeshClientInterceptor(service, calls, System::nanoTime));
  }

  /** The settings of a bootstrap. */
  public static final class Bootstrap {
    private final String service;
    private final List<String> controlServers;
    private String nodeId;
    private String zone = "";
    private CertificateFiles certificates;
    private Map<String, Object> instance;
    private java.nio.file.Path controlServerTrust;
    private boolean xdsPlaintext;

    private Bootstrap(String service, List<String> controlServers) {
      this.service = Objects.requireNonNull(service, "service");
      if (controlServers.isEmpty()) {
        throw new IllegalArgumentException("controlServers: [] (expected: at least one host:port)");
      }
      this.controlServers = List.copyOf(controlServers);
      this.nodeId = service + "~" + ProcessHandle.current().pid();
    }

    public Bootstrap nodeId(String id) {
      this.nodeId = Objects.requireNonNull(id, "id");
      return this;
    }

    /**
     * The zone this workload runs in: written as the bootstrap's {@code node.locality.zone}, so
     * that services with {@code locality: { preferLocal: true }} are served to grpc-java with this
     * zone's endpoints at priority 0 and the others at priority 1; a registered
     * {@linkplain #instance instance} is put in it unless its labels name a zone. Empty for none.
     */
    public Bootstrap zone(String zone) {
      this.zone = io.meshlet.internal.wire.MeshNames.requireZone("zone", zone);
      return this;
    }

    /**
     * Registers this JVM's gRPC server as an instance of the service while grpc-java's xDS stream
     * is open: {@code address} ({@code host:port} callers reach) with these labels.
     */
    public Bootstrap instance(String address, Map<String, String> labels) {
      this.instance = Map.of("address", address, "labels", Map.copyOf(labels), "protocol", "grpc");
      return this;
    }

    /**
     * grpc-java talks to the control servers over TLS, checking them against this trust bundle
     * ({@code trust-bundle.pem} in the control server's {@code --ca-dir}) and the host name it
     * dials (the control server's certificate names localhost, its addresses and its
     * {@code --server-name}s). With {@link #certificates} as well, grpc-java presents the
     * workload's SVID (mTLS), which a registration needs. This or {@link #xdsPlaintext()} is
     * required.
     */
    public Bootstrap controlServerTrust(java.nio.file.Path trustBundle) {
      this.controlServerTrust = Objects.requireNonNull(trustBundle, "trustBundle");
      return this;
    }

    /** Plaintext to the control servers, for a server on {@code --xds-plaintext}: never in production. */
    public Bootstrap xdsPlaintext() {
      this.xdsPlaintext = true;
      return this;
    }

    /** The workload certificate files for mTLS, kept fresh by the caller. */
    public Bootstrap certificates(CertificateFiles files) {
      this.certificates = files;
      return this;
    }

    /** The bootstrap JSON. */
    public String json() {
      Map<String, Object> root = new LinkedHashMap<>();
      List<Object> servers = new ArrayList<>();
      if (controlServerTrust == null && !xdsPlaintext) {
        throw new IllegalStateException("controlServerTrust(trust bundle) or xdsPlaintext() is required: give "
            + "the control server's trust-bundle.pem (written to its --ca-dir), or choose plaintext for a server "
            + "started with --xds-plaintext");
      }
      List<Object> credentials;
      if (xdsPlaintext) {
        credentials = List.of(Map.of("type", "insecure"));
      } else {
        // Ours first (grpc-java 1.85's "tls" ignores its config: see MeshletTlsXdsCredentialsProvider);
        // then gRFC A65's "tls" with the same files, for clients that read it.
        Map<String, Object> meshlet = new LinkedHashMap<>();
        meshlet.put("trust_bundle_file", controlServerTrust.toString());
        Map<String, Object> tls = new LinkedHashMap<>();
        tls.put("ca_certificate_file", controlServerTrust.toString());
        if (certificates != null) {
          meshlet.put("certificate_file", certificates.certificateFile().toString());
          meshlet.put("private_key_file", certificates.keyFile().toString());
          meshlet.put("ca_file", certificates.caFile().toString());
          tls.put("certificate_file", certificates.certificateFile().toString());
          tls.put("private_key_file", certificates.keyFile().toString());
        }
        credentials = List.of(
            Map.of("type", io.meshlet.grpc.internal.MeshletTlsXdsCredentialsProvider.NAME, "config", meshlet),
            Map.of("type", "tls", "config", tls));
      }
      for (String s : controlServers) {
        servers.add(Map.of("server_uri", s, "channel_creds", credentials, "server_features", List.of("xds_v3")));
      }
      root.put("xds_servers", servers);
      Map<String, Object> node = new LinkedHashMap<>();
      node.put("id", nodeId);
      node.put("cluster", service);
      if (!zone.isEmpty()) {
        node.put("locality", Map.of("zone", zone));
      }
      if (instance != null) {
        Map<String, Object> registered = instance;
        @SuppressWarnings("unchecked")
        Map<String, String> labels = (Map<String, String>) instance.get("labels");
        if (!zone.isEmpty() && !labels.containsKey(WireNames.ZONE_LABEL)) {
          Map<String, String> withZone = new java.util.TreeMap<>(labels);
          withZone.put(WireNames.ZONE_LABEL, zone);
          registered = Map.of("address", instance.get("address"), "labels", withZone, "protocol", "grpc");
        }
        node.put("metadata", Map.of(WireNames.INSTANCE_METADATA, registered));
      }
      root.put("node", node);
      if (certificates != null) {
        root.put("certificate_providers", Map.of(CERTIFICATE_PROVIDER, Map.of(
            "plugin_name", "file_watcher",
            "config", Map.of(
                "certificate_file", certificates.certificateFile().toString(),
                "private_key_file", certificates.keyFile().toString(),
                "ca_certificate_file", certificates.caFile().toString(),
                "refresh_interval", "1s"))));
      }
      root.put("server_listener_resource_name_template", WireNames.SERVER_LISTENER_TEMPLATE);
      try {
        return JSON.writeValueAsString(root);
      } catch (JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    }

    /** Sets the bootstrap for this JVM; grpc-java reads it when the first xDS channel is made. */
    public void install() {
      System.setProperty(BOOTSTRAP_PROPERTY, json());
    }
  }
}
