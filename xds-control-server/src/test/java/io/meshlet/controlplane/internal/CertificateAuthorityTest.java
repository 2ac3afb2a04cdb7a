package io.meshlet.controlplane.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A CA key rotation under way survives a restart of the control server, through its CA directory. */
class CertificateAuthorityTest {

  @TempDir Path dir;

  /** A clock the test moves. */
  static final class TestClock extends Clock {
    Instant now = Instant.parse("2026-11-30T12:00:00Z");

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  static String serial(X509Certificate c) {
    return c.getSerialNumber().toString(16);
  }

  @Test
  void aRotationUnderWayGoesOnAfterARestart() throws Exception {
    TestClock clock = new TestClock();
    CertificateAuthority first = CertificateAuthority.loadOrCreate("example.org", dir, clock);
    String oldRoot = serial(first.root());
    CertificateAuthority.Rotation r = first.rotate(Duration.ofHours(2));

    // Restarted before the switch: both roots trusted, the old key still signs.
    CertificateAuthority second = CertificateAuthority.loadOrCreate("example.org", dir, clock);
    assertThat(second.trustBundle()).extracting(CertificateAuthorityTest::serial)
        .containsExactly(oldRoot, r.newRootSerial());
    assertThat(serial(second.root())).isEqualTo(oldRoot);

    // Past the switch: the new key signs, the old root is still trusted; also after a restart.
    clock.now = r.switchAt().plusSeconds(1);
    assertThat(serial(second.root())).isEqualTo(r.newRootSerial());
    CertificateAuthority third = CertificateAuthority.loadOrCreate("example.org", dir, clock);
    assertThat(serial(third.root())).isEqualTo(r.newRootSerial());
    assertThat(third.trustBundle()).extracting(CertificateAuthorityTest::serial)
        .containsExactly(r.newRootSerial(), oldRoot);

    // After the overlap, only the new root.
    clock.now = r.oldRootTrustedUntil().plusSeconds(1);
    CertificateAuthority fourth = CertificateAuthority.loadOrCreate("example.org", dir, clock);
    assertThat(fourth.trustBundle()).extracting(CertificateAuthorityTest::serial).containsExactly(r.newRootSerial());
  }

  @Test
  void aSecondRotationIsRefusedUntilTheFirstOverlapHasEnded() throws Exception {
    TestClock clock = new TestClock();
    CertificateAuthority ca = CertificateAuthority.loadOrCreate("example.org", dir, clock);
    CertificateAuthority.Rotation r = ca.rotate(Duration.ofHours(2));

    assertThatThrownBy(() -> ca.rotate(Duration.ofHours(2))).isInstanceOf(IllegalStateException.class)
        .hasMessage("a rotation is already under way; the new key signs from " + r.switchAt()
            + " and the old root is trusted until " + r.oldRootTrustedUntil());
    // Past the switch the old root is still trusted: a new rotation would drop it at its own switch.
    clock.now = r.switchAt().plusSeconds(1);
    assertThatThrownBy(() -> ca.rotate(Duration.ofHours(2))).isInstanceOf(IllegalStateException.class)
        .hasMessage("a rotation is still under way: the old root is trusted until " + r.oldRootTrustedUntil());

    clock.now = r.oldRootTrustedUntil().plusSeconds(1);
    assertThat(ca.rotate(Duration.ofHours(2)).newRootSerial()).isNotEqualTo(r.newRootSerial());
  }
}
