package io.meshlet.identity;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/** Makes key pairs and certificate signing requests in the workload. */
public final class CertificateRequests {

  private static final SecureRandom RANDOM = new SecureRandom();

  private CertificateRequests() {}

  /** A new EC P-256 key pair. */
  public static KeyPair newKeyPair() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JVM cannot make EC P-256 keys", e);
    }
  }

  /**
   * A DER-encoded PKCS#10 request for the key pair, signed by it. The subject names the service
   * for humans reading it; the CA decides the SPIFFE ID.
   */
  public static byte[] csr(KeyPair pair, String service) {
    try {
      return new JcaPKCS10CertificationRequestBuilder(new X500Name("O=Meshlet, CN=" + service), pair.getPublic())
          .build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate()))
          .getEncoded();
    } catch (OperatorCreationException | java.io.IOException e) {
      throw new IllegalStateException("cannot make a CSR: " + e.getMessage(), e);
    }
  }
}
