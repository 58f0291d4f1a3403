#!/usr/bin/env bash
# Runs the JMH benchmarks and their PyTorch twins on this machine, one after the other, and prints
# Java time / Python time per benchmark with both error bars. Usage: bench/compare.sh [JMH regex]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
PY=${PYTHON:-/usr/bin/python3}
FILTER=${1:-OpOverheadBench}
OUT=$(mktemp -d)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (timings on a busy machine are noise)" >&2
(cd "$ROOT" && mvn -q -B -DskipTests install -pl bench -am) >&2
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar "$ROOT/bench/target/benchmarks.jar" \
  "$FILTER" -rf json -rff "$OUT/jmh.json" >&2
"$PY" "$ROOT/bench/op_overhead.py" > "$OUT/python.json"
"$PY" - "$OUT/jmh.json" "$OUT/python.json" <<'PYEOF'
import json, sys
jmh = json.load(open(sys.argv[1])); py = json.load(open(sys.argv[2]))
print(f"{'benchmark':<24} {'Java us/op':>18} {'Python us/op':>18} {'Java/Python':>12}")
for r in jmh:
    name = r["benchmark"].rsplit(".", 1)[1]
    unit = r["primaryMetric"]["scoreUnit"]
    scale = {"us/op": 1.0, "ms/op": 1e3, "ns/op": 1e-3}[unit]
    j, je = r["primaryMetric"]["score"] * scale, r["primaryMetric"]["scoreError"] * scale
    if name not in py:
        print(f"{name:<24} {j:>10.3f} ± {je:<6.3f} {'(no Python twin)':>18}"); continue
    p, pe = py[name]["mean_us"], py[name]["err_us"]
    print(f"{name:<24} {j:>10.3f} ± {je:<6.3f} {p:>10.3f} ± {pe:<6.3f} {j / p:>12.2f}")
PYEOF
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
