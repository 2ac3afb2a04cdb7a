package io.meshlet.identity;

import io.meshlet.internal.spiffe.ControlPlaneTls;
import io.meshlet.internal.spiffe.SvidRules;
import io.meshlet.internal.wire.Backoff;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.meshlet.identity.v1.IdentityServiceGrpc;
import io.meshlet.identity.v1.SignRequest;
import io.meshlet.identity.v1.SignResponse;
import java.io.ByteArrayInputStream;
import java.security.KeyPair;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The workload's identity from the Meshlet control server's CA: makes a key pair in this
 * process, sends a CSR with the service's join token, and renews well before expiry (when half
 * of the remaining lifetime has passed, by default), with a new key each time. A failed renewal is retried
 * with backoff, moving to the next control server, while the current certificate stays in use;
 * so is a response that is not a well-formed SVID for the new key (see {@link WorkloadIdentity}).
 *
 * <pre>{@code
 * CaIdentitySource identity = CaIdentitySource.builder()
 *     .service("frontend").joinToken(System.getenv("MESHLET_JOIN_TOKEN"))
 *     .controlServers("10.0.0.5:18000")
 *     .build().start();
 * WorkloadIdentity svid = identity.awaitIdentity(Duration.ofSeconds(10));
 * }</pre>
 *
 * <p>Thread-safe: {@link #current()} is a volatile read. Listeners run on the renewal thread.
 */
public final class CaIdentitySource implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(CaIdentitySource.class);
  /** Renewals never come closer together than this, whatever the certificate's lifetime. */
  private static final Duration MIN_RENEWAL_DELAY = Duration.ofSeconds(1);

  private final String service;
  private final String joinToken;
  private final List<String> servers;
  private final double renewAtFraction;
  private final Duration minRetry;
  private final Clock clock;
  private final List<Consumer<WorkloadIdentity>> listeners = new CopyOnWriteArrayList<>();
  private final CountDownLatch first = new CountDownLatch(1);
  private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "meshlet-identity");
    t.setDaemon(true);
    return t;
  });
  private final List<ManagedChannel> channels = new ArrayList<>();
  private volatile WorkloadIdentity current;
  private int serverIndex;
  private int failures;

  private CaIdentitySource(Builder b) {
    this.service = b.service;
    this.joinToken = b.joinToken;
    this.servers = List.copyOf(b.servers);
    this.renewAtFraction = b.renewAtFraction;
    this.minRetry = b.minRetry;
    this.clock = b.clock;
    // The join token is a secret: it goes only to a server that proves, over TLS, that it is the
    // control server of the trust bundle.
    io.grpc.ChannelCredentials credentials = ControlPlaneTls.channelCredentials(b.controlServerTrust, this::current);
    for (String s : servers) {
      channels.add(NettyChannelBuilder.forTarget(s, credentials).build());
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Requests the first certificate now, in the background. */
  public CaIdentitySource start() {
    executor.execute(this::renew);
    return this;
  }

  /** The identity in force, or null before the first certificate arrived. */
  public WorkloadIdentity current() {
    return current;
  }

  /** Waits for the first certificate. */
  public WorkloadIdentity awaitIdentity(Duration timeout) throws InterruptedException {
    if (!first.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
      throw new IllegalStateException("no certificate for service '" + service + "' from " + servers
          + " within " + timeout.toMillis() + " ms");
    }
    return current;
  }

  /** Calls {@code listener} with every new identity, from the renewal thread. */
  public void addListener(Consumer<WorkloadIdentity> listener) {
    listeners.add(listener);
  }

  private void renew() {
    String server = servers.get(serverIndex);
    try {
      KeyPair pair = CertificateRequests.newKeyPair();
      SignResponse response = IdentityServiceGrpc.newBlockingStub(channels.get(serverIndex))
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .sign(SignRequest.newBuilder()
              .setService(service)
              .setJoinToken(joinToken)
              .setCsrDer(ByteString.copyFrom(CertificateRequests.csr(pair, service)))
              .build());
      WorkloadIdentity identity = identity(response, pair);
      current = identity;
      failures = 0;
      first.countDown();
      log.info("[{}] new certificate {}", service, identity);
      for (Consumer<WorkloadIdentity> l : listeners) {
        try {
          l.accept(identity);
        } catch (RuntimeException e) {
          log.warn("[{}] identity listener threw; ignored", service, e);
        }
      }
      // Measured from now, not from notBefore: CAs back-date certificates for clock skew.
      Instant now = clock.instant();
      Duration left = Duration.between(now, identity.expiresAt());
      long delay = Math.max(MIN_RENEWAL_DELAY.toMillis(), (long) (left.toMillis() * renewAtFraction));
      executor.schedule(this::renew, delay, TimeUnit.MILLISECONDS);
    } catch (RuntimeException | CertificateException e) {
      // Any failure, a bug included, schedules the next try: renewals must never stop silently.
      failures++;
      serverIndex = (serverIndex + 1) % servers.size();
      long delay = Backoff.cap(minRetry.toMillis(), 30_000, failures);
      WorkloadIdentity now = current;
      log.warn("[{}] certificate request to {} failed ({}); {}; retrying in {} ms", service, server,
          e.getMessage(), now == null ? "no certificate yet" : "keeping the current one until "
              + now.expiresAt(), delay);
      executor.schedule(this::renew, delay, TimeUnit.MILLISECONDS);
    }
  }

  /**
   * The identity in a response, once it is a well-formed SVID for the key just made and the
   * SPIFFE ID the response names; the same rules as for peers and identity files.
   */
  private static WorkloadIdentity identity(SignResponse response, KeyPair pair) throws CertificateException {
    List<X509Certificate> chain = certificates(response.getCertificateChainDerList());
    List<X509Certificate> bundle = certificates(response.getTrustBundleDerList());
    String id = SvidRules.check(chain);
    if (!id.equals(response.getSpiffeId())) {
      throw new CertificateException("certificate for " + id + ": spiffe_id: " + response.getSpiffeId()
          + " (expected: the SPIFFE ID of the certificate)");
    }
    if (!chain.get(0).getPublicKey().equals(pair.getPublic())) {
      throw new CertificateException("certificate for " + id + " carries another public key "
          + "(expected: the key of this request's CSR)");
    }
    if (bundle.isEmpty()) {
      throw new CertificateException("trust_bundle_der: no certificate (expected: at least one root)");
    }
    return new WorkloadIdentity(id, chain, pair.getPrivate(), bundle);
  }

  private static List<X509Certificate> certificates(List<ByteString> ders) throws CertificateException {
    CertificateFactory f = CertificateFactory.getInstance("X.509");
    List<X509Certificate> out = new ArrayList<>();
    for (ByteString der : ders) {
      out.add((X509Certificate) f.generateCertificate(new ByteArrayInputStream(der.toByteArray())));
    }
    return out;
  }

  @Override
  public void close() {
    executor.shutdownNow();
    channels.forEach(ManagedChannel::shutdownNow);
  }

  /** Settings of a {@link CaIdentitySource}. */
  public static final class Builder {
    private String service;
    private String joinToken;
    private final List<String> servers = new ArrayList<>();
    private double renewAtFraction = 0.5;
    private Duration minRetry = Duration.ofSeconds(1);
    private Clock clock = Clock.systemUTC();
    private java.nio.file.Path controlServerTrust;

    private Builder() {}

    /**
     * The control server's trust bundle ({@code trust-bundle.pem} in its {@code --ca-dir}):
     * the join token is sent only over TLS to a server that this bundle vouches for. Required.
     */
    public Builder controlServerTrust(java.nio.file.Path trustBundle) {
      this.controlServerTrust = Objects.requireNonNull(trustBundle, "trustBundle");
      return this;
    }

    public Builder service(String service) {
      this.service = Objects.requireNonNull(service, "service");
      return this;
    }

    public Builder joinToken(String token) {
      this.joinToken = Objects.requireNonNull(token, "token");
      return this;
    }

    public Builder controlServers(String... servers) {
      this.servers.clear();
      this.servers.addAll(List.of(servers));
      return this;
    }

    /** When to renew, as a share of the lifetime left when a certificate arrives; 0.5 unless set. */
    public Builder renewAt(double fraction) {
      if (!(fraction > 0 && fraction < 1)) {
        throw new IllegalArgumentException("renewAt: " + fraction + " (expected: between 0 and 1)");
      }
      this.renewAtFraction = fraction;
      return this;
    }

    /** The first retry delay after a failed request; it doubles up to 30 s. 1 s unless set. */
    public Builder minRetry(Duration delay) {
      this.minRetry = Objects.requireNonNull(delay, "delay");
      return this;
    }

    public CaIdentitySource build() {
      if (service == null || joinToken == null || servers.isEmpty()) {
        throw new IllegalStateException("service, joinToken and controlServers are required");
      }
      if (controlServerTrust == null) {
        throw new IllegalStateException("controlServerTrust is required: the join token is sent only over TLS "
            + "to a control server that the trust bundle (trust-bundle.pem in its --ca-dir) vouches for");
      }
      return new CaIdentitySource(this);
    }
  }
}
