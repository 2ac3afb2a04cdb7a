#!/usr/bin/env bash
# Meshlet's end-to-end benchmarks on loopback: Meshlet against direct calls and a two-sidecar
# (HAProxy) path, gRPC xds:/// against a plain channel, the control server's fan-out to many ADS
# clients, and the heap a MeshClient retains. Writes benchmarks/results/latest.json and prints a
# table. See docs/benchmarks.md.
#
#   benchmarks/run.sh --quick     # short phases, a check that every case works (4 min on a busy 2-core machine)
#   benchmarks/run.sh             # the run of record (23 min on a quiet 2-core machine)
#
# Other options: --reps N, --rate R (req/s for the latency phase), --cases direct,meshlet,..., --fanout 10000:delta,50000:delta,10000:sotw (N[:delta|:sotw]),
# --fanout-into FILE, --no-cases, --no-fanout, --no-heap, --out FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

JAR=benchmarks/target/benchmarks.jar
if [[ ! -f "$JAR" ]]; then
  echo "[run.sh] building $JAR ..."
  ./mvnw -B -q -DskipTests package -pl benchmarks -am
fi
if ! command -v haproxy >/dev/null 2>&1; then
  echo "[run.sh] haproxy is not on PATH: the sidecar case will be skipped (apt-get install -y haproxy)"
fi

# The harness stops every process it starts: on exit, on Ctrl-C (its shutdown hook), and its
# children also stop when it dies (they exit when their stdin closes). The trap covers the JVM
# itself if this script is interrupted.
java -Xmx2g -cp "$JAR" io.meshlet.benchmarks.harness.Harness run "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 130' INT TERM
wait "$pid"
