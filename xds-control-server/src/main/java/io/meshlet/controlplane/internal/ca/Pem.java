package io.meshlet.controlplane.internal.ca;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;

/** PEM in and out for the CA: certificates and private keys, from text or from the CA's files. */
final class Pem {

  private Pem() {}

  static X509Certificate convert(X509CertificateHolder holder) throws GeneralSecurityException {
    return new JcaX509CertificateConverter().getCertificate(holder);
  }

  static String pem(Object o) throws IOException {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      w.writeObject(o);
    }
    return out.toString();
  }

  /** A private key as PKCS#8 PEM. */
  static String pemKey(PrivateKey key) throws IOException {
    return pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(key, null));
  }

  /** A private key from PEM text. */
  static PrivateKey parseKey(String pem, String what) throws IOException {
    try (PEMParser p = new PEMParser(new StringReader(pem))) {
      Object o = p.readObject();
      JcaPEMKeyConverter c = new JcaPEMKeyConverter();
      if (o instanceof PEMKeyPair kp) {
        return c.getPrivateKey(kp.getPrivateKeyInfo());
      } else if (o instanceof org.bouncycastle.asn1.pkcs.PrivateKeyInfo info) {
        return c.getPrivateKey(info);
      }
      throw new IOException(what + ": not a PEM private key");
    }
  }

  /** A certificate from PEM text. */
  static X509Certificate parseCertificate(String pem, String what) throws IOException {
    try (PEMParser p = new PEMParser(new StringReader(pem))) {
      Object o = p.readObject();
      if (o instanceof X509CertificateHolder h) {
        return convert(h);
      }
      throw new IOException(what + ": not a PEM certificate");
    } catch (GeneralSecurityException e) {
      throw new IOException(what + ": " + e.getMessage(), e);
    }
  }

  static PrivateKey readKey(Path file) throws IOException {
    try (PEMParser p = new PEMParser(new StringReader(Files.readString(file, StandardCharsets.US_ASCII)))) {
      Object o = p.readObject();
      JcaPEMKeyConverter c = new JcaPEMKeyConverter();
      if (o instanceof PEMKeyPair kp) {
        return c.getPrivateKey(kp.getPrivateKeyInfo());
      } else if (o instanceof org.bouncycastle.asn1.pkcs.PrivateKeyInfo info) {
        return c.getPrivateKey(info);
      }
      throw new IOException(file + ": not a PEM private key (expected: the ca.key this server wrote)");
    }
  }

  static X509Certificate readCertificate(Path file) throws IOException, GeneralSecurityException {
    try (PEMParser p = new PEMParser(new StringReader(Files.readString(file, StandardCharsets.US_ASCII)))) {
      Object o = p.readObject();
      if (o instanceof X509CertificateHolder h) {
        return convert(h);
      }
      throw new IOException(file + ": not a PEM certificate (expected: the ca.crt this server wrote)");
    }
  }
}
