#!/usr/bin/env bash
# Runs the JMH benchmarks and their PyTorch twins on this machine (each Java benchmark group and its
# Python twin back to back) and prints one table: Java time, Python time, both with 99.9% error
# bars, and Java/Python.
#
#   bench/compare.sh [ops] [train] [sampling] [memory] [cifar]      (default: ops train sampling)
#
# cifar: a CIFAR-10-sized EDM checkpoint (DDPM++ VP, 55.7 M parameters, random weights, written in
# EDM's pickle format by models/edm/make_edm_pickle.py), imported with `diffinstruct import edm`
# (timed), then teacher forward per image (ForwardTimer and its Python twin), DI iterations at batch
# 8 (StepTimer, train_step.py --cpu-steps) and peak memory (MemoryMain): plain timers, not JMH, as
# one iteration takes seconds on a CPU. CIFAR_STEPS (default 3) timed iterations.
#
# Environment: THREADS (libtorch intra-op threads for both sides; default 1), SKIP_BUILD=1,
# MVN_ARGS (extra Maven arguments, e.g. "-o -Dmaven.repo.local=/tmp/m2"), PYTHON, JMH_ARGS (extra
# JMH arguments, e.g. "-wi 2 -i 3"), MEMORY_STEPS (default 10000), BENCH_MODELS (prepared networks;
# default bench/target/models, made on first use: bench/unet_small.py or models/export_unet.py
# exports the UNet teacher, then PrepareModels builds generators and fake scores as `distill` does).
# TORCH=pip: both sides on pip torch 2.13 (CPU): the venv of scripts/pip-torch.sh for Python, the
# shim built on its LibTorch (LIBTORCH_USE_PYTORCH) in a copy of the tree, so that neither ./target
# nor ~/.m2 end up on that LibTorch; the networks are prepared anew there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GOAL=install
if [ "${TORCH:-}" = pip ]; then
  PYTHON=$("$ROOT/scripts/pip-torch.sh" cpu)
  export PYTHON LIBTORCH_USE_PYTORCH=1
  LIBTORCH=$("$PYTHON" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  export LIBTORCH
  COPY=$(mktemp -d "${TMPDIR:-/tmp}/diffinstruct-bench-pip.XXXXXX")
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$COPY")
  ROOT=$COPY
  GOAL=package # the reactor's own jars: nothing built on this LibTorch reaches ~/.m2
  unset BENCH_MODELS
elif [ -n "${TORCH:-}" ]; then
  echo "compare.sh: TORCH is pip or unset (the build's LibTorch), not '$TORCH'" >&2; exit 2
fi
cd "$ROOT"
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}   # as the diffinstruct launcher sets it
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
export BENCH_MODELS=${BENCH_MODELS:-$ROOT/bench/target/models}
PY=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-1}
WHAT=("$@")
[ ${#WHAT[@]} -eq 0 ] && WHAT=(ops train sampling)
OUT=$(mktemp -d)
JAR="$ROOT/bench/target/benchmarks.jar"
JAVA=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED)
has() { local w; for w in "${WHAT[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load before: $(load); THREADS=$THREADS" >&2
echo "python side: $("$PY" -c 'import torch; print("torch", torch.__version__)' 2>/dev/null)" >&2
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  (mvn -q -B ${MVN_ARGS:-} -DskipTests -Dpython="$PY" "$GOAL" -pl bench -am) >&2
fi
echo "java side: $("${JAVA[@]}" -cp "$JAR" dev.diffinstruct.bench.PrepareModels --version 2>/dev/null || echo "(libtorch of the build)")" >&2

# ---- the prepared networks (same files for Java and Python)
if has train || has sampling || has memory; then
  if [ ! -f "$BENCH_MODELS/unet/config.json" ] || [ ! -f "$BENCH_MODELS/mixture/config.json" ]; then
    mkdir -p "$BENCH_MODELS/unet"
    if [ -f "$ROOT/models/export_unet.py" ]; then
      "$PY" "$ROOT/models/export_unet.py" --out "$BENCH_MODELS/unet/teacher.pt" >&2
    else
      "$PY" "$ROOT/bench/unet_small.py" --out "$BENCH_MODELS/unet/teacher.pt" >&2
    fi
    "${JAVA[@]}" -cp "$JAR" dev.diffinstruct.bench.PrepareModels mixture unet
  fi
fi

# JMH group: jmh <name> <regex> [jmh args...]
jmh() {
  local name=$1 regex=$2; shift 2
  "${JAVA[@]}" -jar "$JAR" "$regex" "$@" ${JMH_ARGS:-} -rf json -rff "$OUT/jmh-$name.json" >&2
}

if has ops; then
  # the floor: the same ops from C++ (compiled once), so that overhead = time - floor
  FLOOR="$ROOT/bench/target/native_floor"
  if [ ! -x "$FLOOR" ] || [ "$ROOT/bench/native_floor.cpp" -nt "$FLOOR" ]; then
    g++ -O2 -std=c++17 -o "$FLOOR" "$ROOT/bench/native_floor.cpp" -I/usr/include/torch/csrc/api/include \
      ${LIBTORCH:+-I$LIBTORCH/include -I$LIBTORCH/include/torch/csrc/api/include -L$LIBTORCH/lib -Wl,-rpath,$LIBTORCH/lib} \
      -ltorch -ltorch_cpu -lc10 >&2 || echo "(no C++ floor: g++ or the libtorch headers are missing)" >&2
  fi
  jmh ops 'OpOverheadBench'
  "$PY" "$ROOT/bench/op_overhead.py" > "$OUT/py-ops.json"
  [ -x "$FLOOR" ] && "$FLOOR" > "$OUT/floor.json"
fi
if has train; then
  for m in mixture unet; do
    jmh "train-$m" 'TrainStepBench' -p model=$m -p threads="$THREADS"
    "$PY" "$ROOT/bench/train_step.py" --dir "$BENCH_MODELS/$m" --name "trainStep[model=$m]" --threads "$THREADS" > "$OUT/py-train-$m.json"
  done
fi
if has sampling; then
  jmh sampling 'SamplingBench' -p threads="$THREADS"
  "$PY" "$ROOT/bench/sampling.py" --dir "$BENCH_MODELS/unet" --threads "$THREADS" > "$OUT/py-sampling.json"
fi

"$PY" - "$OUT" <<'PYEOF'
import glob, json, os, sys
out = sys.argv[1]
py = {}
for f in sorted(glob.glob(os.path.join(out, "py-*.json"))):
    py.update(json.load(open(f)))
rows = []
for f in sorted(glob.glob(os.path.join(out, "jmh-*.json"))):
    for r in json.load(open(f)):
        name = r["benchmark"].rsplit(".", 1)[1]
        params = {k: v for k, v in (r.get("params") or {}).items() if k not in ("threads", "batch")}
        key = name + ("[" + ",".join(f"{k}={v}" for k, v in params.items()) + "]" if params else "")
        unit = r["primaryMetric"]["scoreUnit"]
        scale = {"us/op": 1.0, "ms/op": 1e3, "ns/op": 1e-3}[unit]
        j, je = r["primaryMetric"]["score"] * scale, r["primaryMetric"]["scoreError"] * scale
        extra = ""
        if "batch" in (r.get("params") or {}):
            extra = f"  ({int(r['params']['batch']) / (j / 1e6):,.0f} samples/s Java)"
        p = py.get(key) or py.get(name)
        rows.append((key, j, je, p, extra))
print(f"{'benchmark':<28} {'Java us/op':>20} {'Python us/op':>20} {'Java/Python':>11}")
for key, j, je, p, extra in rows:
    if p is None:
        print(f"{key:<28} {j:>11.2f} ± {je:<7.2f} {'(no twin)':>20}{'':>12}{extra}")
    else:
        print(f"{key:<28} {j:>11.2f} ± {je:<7.2f} {p['mean_us']:>11.2f} ± {p['err_us']:<7.2f} {j / p['mean_us']:>11.2f}{extra}")
floor_file = os.path.join(out, "floor.json")
if os.path.exists(floor_file):
    floor = json.load(open(floor_file))
    print()
    print(f"{'per-op overhead (- C++ floor)':<28} {'C++ floor us':>14} {'Java us':>10} {'Python us':>10} {'Java/Python':>11}")
    for key, j, je, p, extra in rows:
        if key in floor and p is not None:
            f = floor[key]["mean_us"]
            jo, po = j - f, p["mean_us"] - f
            print(f"{key:<28} {f:>14.3f} {jo:>10.3f} {po:>10.3f} {jo / po if po > 0 else float('nan'):>11.2f}")
PYEOF

if has cifar; then
  C="$BENCH_MODELS/cifar"
  if [ ! -f "$C/config.json" ]; then
    mkdir -p "$C"
    # EDM train.py's --arch=ddpmpp --precond=vp network for CIFAR-10 (unconditional: the Python twin's case)
    "$PY" "$ROOT/models/edm/make_edm_pickle.py" --out "$C/net.pkl" --precond VPPrecond --scale 0.05 --config \
      '{"img_resolution": 32, "img_channels": 3, "model_type": "SongUNet", "embedding_type": "positional", "encoder_type": "standard", "decoder_type": "standard", "channel_mult_noise": 1, "resample_filter": [1, 1], "model_channels": 128, "channel_mult": [2, 2, 2], "dropout": 0.13, "augment_dim": 9}' >&2
    T0=$(date +%s%N)
    "$ROOT/diffinstruct" import edm --pkl "$C/net.pkl" --out "$C/teacher.pt" --python "$PY"
    echo "import edm: $(( ($(date +%s%N) - T0) / 1000000 )) ms wall (pickle $(du -m "$C/net.pkl" | cut -f1) MB)"
    rm -f "$C/net.pkl"
    "${JAVA[@]}" -cp "$JAR" dev.diffinstruct.bench.PrepareModels cifar
  fi
  "${JAVA[@]}" -cp "$JAR" dev.diffinstruct.bench.ForwardTimer cifar 8 5 "$THREADS"
  "$PY" - "$C/teacher.pt" "$THREADS" <<'PYEOF'
import sys, time, warnings
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
import torch
torch.set_num_threads(int(sys.argv[2])); torch.set_flush_denormal(True)
t = torch.jit.load(sys.argv[1]).eval()
ms = []
with torch.no_grad():
    for i in range(6):
        x = torch.randn(8, 3, 32, 32); s = torch.ones(8)
        t0 = time.perf_counter(); t(x, s).sum().item()
        if i: ms.append((time.perf_counter() - t0) * 1e3 / 8)
print(f"cifar python: teacher forward {sum(ms) / len(ms):.1f} ms/image at batch 8 (min {min(ms):.1f}, max {max(ms):.1f} over {len(ms)}), {torch.get_num_threads()} threads")
PYEOF
  "${JAVA[@]}" -cp "$JAR" dev.diffinstruct.bench.StepTimer cifar "${CIFAR_STEPS:-3}" 1 "$THREADS"
  "$PY" "$ROOT/bench/train_step.py" --dir "$C" --name cifar --threads "$THREADS" --cpu-steps "${CIFAR_STEPS:-3}"
  "${JAVA[@]}" -Xms64m -Xmx64m -cp "$JAR" dev.diffinstruct.bench.MemoryMain cifar 3 1 1
fi
if has memory; then
  # a fixed Java heap, so that RSS shows native memory rather than G1 growing its heap
  "${JAVA[@]}" -Xms64m -Xmx64m -XX:+AlwaysPreTouch -cp "$JAR" dev.diffinstruct.bench.MemoryMain mixture "${MEMORY_STEPS:-10000}" 3000 1000
fi
echo "load after: $(load)" >&2
