package io.meshlet.controlplane.internal.ca;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshlet.controlplane.internal.ca.CertificateAuthority.RefusedException;
import io.meshlet.identity.CertificateRequests;
import java.io.ByteArrayOutputStream;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.bouncycastle.asn1.pkcs.CertificationRequest;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Thousands of mutations of a valid CSR's DER bytes (bytes flipped, set, inserted, the request cut
 * short or extended), either as they are (the signature then rarely holds) or re-signed with the
 * CSR's key, so that malformed content behind a valid signature reaches the CA's checks too: the
 * CA refuses with a {@link RefusedException} whose message starts with "csr:", or signs a
 * certificate whose only name is the service's own SPIFFE ID. Nothing else ever happens.
 *
 * <p>The cases come from a seeded {@link Random}, so a failure names its try and replays the same
 * way; {@code -Dmeshlet.mutation.seed=N} explores others.
 */
class CsrMutationTest {

  static final String ID = "spiffe://example.org/service/catalog";
  static final long SEED = Long.getLong("meshlet.mutation.seed", 2026L);
  static final int TRIES = 2000;
  static final List<String> KINDS = List.of("flip", "flip", "set", "truncate", "insert", "extend");

  static CertificateAuthority ca;
  static KeyPair keys;
  /** Our own client's CSR (no names), and one asking for exactly the service's ID. */
  static List<byte[]> seeds;

  @BeforeAll
  static void setUp() throws Exception {
    ca = CertificateAuthority.loadOrCreate("example.org", null, Clock.systemUTC());
    keys = CertificateRequests.newKeyPair();
    ExtensionsGenerator ext = new ExtensionsGenerator();
    ext.addExtension(Extension.subjectAlternativeName, false,
        new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, ID)));
    byte[] askingForItsOwn = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=catalog"), keys.getPublic())
        .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, ext.generate())
        .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())).getEncoded();
    seeds = List.of(CertificateRequests.csr(keys, "catalog"), askingForItsOwn);
  }

  /** One edit of a byte array, described so a failing case reads well. */
  record Mutation(String kind, int position, int value) {
    byte[] apply(byte[] in) {
      if (in.length == 0) {
        return new byte[] {(byte) value};
      }
      int i = Math.floorMod(position, in.length + 1);
      return switch (kind) {
        case "flip" -> set(in, Math.min(i, in.length - 1), in[Math.min(i, in.length - 1)] ^ (1 << (value & 7)));
        case "set" -> set(in, Math.min(i, in.length - 1), value);
        case "truncate" -> Arrays.copyOf(in, Math.min(i, in.length - 1));
        case "insert" -> {
          byte[] out = new byte[in.length + 1];
          System.arraycopy(in, 0, out, 0, i);
          out[i] = (byte) value;
          System.arraycopy(in, i, out, i + 1, in.length - i);
          yield out;
        }
        case "extend" -> {
          byte[] out = Arrays.copyOf(in, in.length + 1 + Math.floorMod(value, 16));
          Arrays.fill(out, in.length, out.length, (byte) value);
          yield out;
        }
        default -> throw new IllegalArgumentException(kind);
      };
    }

    private static byte[] set(byte[] in, int i, int value) {
      byte[] out = in.clone();
      out[i] = (byte) value;
      return out;
    }
  }

  /** Mutations of one seed CSR; with {@code resign}, of its signed part, then signed again. */
  record Case(int seed, boolean resign, List<Mutation> mutations) {
    byte[] csr() throws Exception {
      byte[] csr = seeds.get(seed);
      if (!resign) {
        for (Mutation m : mutations) {
          csr = m.apply(csr);
        }
        return csr;
      }
      CertificationRequest parsed = CertificationRequest.getInstance(csr);
      byte[] info = parsed.getCertificationRequestInfo().getEncoded("DER");
      for (Mutation m : mutations) {
        info = m.apply(info);
      }
      return signed(info, parsed.getSignatureAlgorithm().getEncoded("DER"), keys.getPrivate());
    }
  }

  /** A CertificationRequest of {@code info} as given, however malformed, with a valid signature over it. */
  static byte[] signed(byte[] info, byte[] algorithm, PrivateKey key) throws Exception {
    Signature s = Signature.getInstance("SHA256withECDSA");
    s.initSign(key);
    s.update(info);
    byte[] signature = s.sign();
    ByteArrayOutputStream bits = new ByteArrayOutputStream();
    bits.write(0);
    bits.write(signature);
    byte[] bitString = tlv(0x03, bits.toByteArray());
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.write(info);
    body.write(algorithm);
    body.write(bitString);
    return tlv(0x30, body.toByteArray());
  }

  static byte[] tlv(int tag, byte[] value) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(tag);
    int n = value.length;
    if (n < 0x80) {
      out.write(n);
    } else if (n < 0x100) {
      out.write(0x81);
      out.write(n);
    } else {
      out.write(0x82);
      out.write(n >> 8);
      out.write(n & 0xff);
    }
    out.writeBytes(value);
    return out.toByteArray();
  }

  /** One or two edits of either seed CSR, as they are or re-signed. */
  static Case randomCase(Random random) {
    List<Mutation> mutations = new ArrayList<>();
    for (int i = 1 + random.nextInt(2); i > 0; i--) {
      mutations.add(new Mutation(KINDS.get(random.nextInt(KINDS.size())), random.nextInt(1_001), random.nextInt(256)));
    }
    return new Case(random.nextInt(seeds.size()), random.nextBoolean(), mutations);
  }

  @Test
  void aMutatedCsrIsRefusedPreciselyOrSignedForTheServiceOnly() throws Exception {
    Random random = new Random(SEED);
    Map<String, Integer> outcomes = new TreeMap<>();
    for (int t = 0; t < TRIES; t++) {
      Case c = randomCase(random);
      try {
        outcomes.merge(outcome(c) + (c.resign() ? ", re-signed" : ""), 1, Integer::sum);
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("try " + t + " (seed " + SEED + ") " + c + ": " + e.getMessage(), e);
      }
    }
    // Neither half of the property is vacuous: most mutations are refused, a few (a changed
    // letter in the subject, say) keep a CSR the CA signs.
    assertThat(outcomes.getOrDefault("refused", 0)).as("outcomes %s", outcomes).isGreaterThan(TRIES / 10);
    assertThat(outcomes.getOrDefault("refused, re-signed", 0)).as("outcomes %s", outcomes).isGreaterThan(TRIES / 10);
    assertThat(outcomes.getOrDefault("signed, re-signed", 0)).as("outcomes %s", outcomes).isGreaterThan(TRIES / 200);
  }

  static String outcome(Case c) throws Exception {
    X509Certificate cert;
    try {
      cert = ca.sign("catalog", c.csr(), Duration.ofHours(1));
    } catch (RefusedException e) {
      assertThat(e.getMessage()).startsWith("csr: ");
      return "refused";
    }
    List<String> names = new ArrayList<>();
    for (List<?> san : cert.getSubjectAlternativeNames()) {
      names.add(san.get(0) + ":" + san.get(1));
    }
    assertThat(names).containsExactly("6:" + ID);
    assertThat(cert.getBasicConstraints()).isEqualTo(-1);
    return "signed";
  }
}
