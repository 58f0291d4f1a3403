#!/usr/bin/env bash
# The GPU check of #17, in two halves, because a GPU machine may have a pip torch for CUDA but no
# Java, Maven or compiler:
#
#   scripts/gpu-check.sh bundle [DIR]   here (no GPU needed): builds the tool against pip torch 2.14.1
#                                       for CUDA 13 (scripts/pip-torch.sh cuda) in a copy of the tree,
#                                       jlinks a Java 25 runtime, prepares the benchmark networks, and
#                                       puts it all in DIR (default: target/gpu-bundle, ~57 MB)
#   scripts/gpu-check.sh run [DIR]      on the GPU machine, from the repository root: runs the CUDA
#                                       checks (IKL gradient CUDA vs CPU within 1e-5, one-step sampling,
#                                       a 200-step distillation stopped and resumed, a bf16 step and run)
#                                       and times one training step of the mixture and UNet cases in
#                                       Java and in PyTorch (bench/train_step.py --device cuda) on the
#                                       same GPU; prints one table; exit 1 if a check fails.
#
# `run` uses the machine's own torch (PYTHON, default python3) for the Python twin and for the
# LibTorch the shim loads (LD_LIBRARY_PATH points at its torch/lib and nvidia/*/lib). When that
# torch is not the version the bundle's shim was built for (DIR/BUILT_FOR; the H200 image had
# 2.11.0+cu130 in 2026-11), it builds the shim there with CMake from native-shim/ and loads that one
# (DIFFINSTRUCT_NATIVE); without CMake and a compiler that is one line, exit 2.
# With the device tool: carry the bundle, e.g. run(command="scripts/gpu-check.sh run",
# carry=["target/gpu-bundle"]). The CPU test suite never depends on this script.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${1:?usage: scripts/gpu-check.sh bundle|run [DIR]}
DIR=$(realpath -m "${2:-$ROOT/target/gpu-bundle}")

case "$MODE" in
bundle)
  . "$ROOT/scripts/lib.sh"
  PY=$("$ROOT/scripts/pip-torch.sh" cuda)
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/diffinstruct-gpu-bundle.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$WORK")
  (cd "$WORK" && LIBTORCH_USE_PYTORCH=1 PYTHON="$PY" mvn -q -B package -DskipTests -Dpython="$PY" -pl bench -am) >&2
  rm -rf "$DIR"
  mkdir -p "$DIR/models"
  cp "$WORK/bench/target/benchmarks.jar" "$DIR/"
  "$PY" -c 'import torch; print(torch.__version__)' > "$DIR/BUILT_FOR"
  # the modules the jar needs (jdeps), nothing else: the runtime must travel light
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.management,java.sql,jdk.unsupported,java.logging \
    --strip-debug --no-header-files --no-man-pages --compress zip-9 --output "$DIR/jre"
  # libjvm.so comes with its full symbol table (5 of its 30 MB); the dynamic symbols it needs stay
  if command -v strip >/dev/null; then strip --strip-unneeded "$DIR/jre/lib/server/libjvm.so"; fi
  # the networks, made here on the CPU (TorchScript loads them onto the GPU): the same files for both sides
  BM="$DIR/models"
  mkdir -p "$BM/unet"
  /usr/bin/python3 "$ROOT/models/export_unet.py" --out "$BM/unet/teacher.pt" >&2
  BENCH_MODELS="$BM" "$DIR/jre/bin/java" --enable-native-access=ALL-UNNAMED -cp "$WORK/bench/target/benchmarks.jar" \
    dev.diffinstruct.bench.PrepareModels mixture unet >&2
  # config.json names the files by this machine's paths: make them relative to the bundle
  for c in mixture unet; do
    sed -i "s|$BM/|@BUNDLE@/models/|g" "$BM/$c/config.json"
  done
  echo "gpu-check bundle: $DIR ($(du -sh "$DIR" | cut -f1)), built for torch $(cat "$DIR/BUILT_FOR")"
  ;;
run)
  [ -f "$DIR/benchmarks.jar" ] || { echo "gpu-check: no bundle in $DIR: make it with 'scripts/gpu-check.sh bundle' on a machine with Java" >&2; exit 2; }
  PY=${PYTHON:-python3}
  JAVA=${JAVA_HOME:+$JAVA_HOME/bin/java}
  [ -x "$DIR/jre/bin/java" ] && JAVA="$DIR/jre/bin/java"
  have=$("$PY" -c 'import torch; print(torch.__version__, torch.cuda.is_available())' 2>/dev/null) \
    || { echo "gpu-check: $PY cannot import torch" >&2; exit 2; }
  read -r version cuda <<<"$have"
  DEVICE=${GPU_CHECK_DEVICE:-cuda:0} # cpu: the whole script on a machine without a GPU (the CPU against itself), to test it
  [ "$cuda" = True ] || [ "$DEVICE" = cpu ] || { echo "gpu-check: torch $version sees no CUDA device" >&2; exit 2; }
  TORCH_DIR=$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  OUT=$(mktemp -d "${TMPDIR:-/tmp}/diffinstruct-gpu-check.XXXXXX")
  if [ "$version" != "$(cat "$DIR/BUILT_FOR")" ]; then
    # the shim is C++ against one LibTorch's ABI: build it here against this machine's torch
    # (a GPU image with PyTorch usually has CMake and nvcc's host compiler), and load that one
    command -v cmake >/dev/null && command -v c++ >/dev/null || {
      echo "gpu-check: the bundle's shim is built for torch $(cat "$DIR/BUILT_FOR"), this machine has $version and no cmake/c++ to build it: make a bundle against $version" >&2; exit 2; }
    echo "gpu-check: building the shim against torch $version here (the bundle's is for $(cat "$DIR/BUILT_FOR"))" >&2
    cmake -S "$ROOT/native-shim" -B "$OUT/shim-build" -DCMAKE_BUILD_TYPE=Release -DLIBTORCH="$TORCH_DIR" \
      -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$OUT/shim" -Wno-dev --log-level=WARNING >&2
    cmake --build "$OUT/shim-build" -j"$(nproc)" >&2
    export DIFFINSTRUCT_NATIVE="$OUT/shim/libdishim.so"
  fi
  LIBS="$TORCH_DIR/lib"
  for d in "$TORCH_DIR"/../nvidia/*/lib; do [ -d "$d" ] && LIBS="$LIBS:$d"; done
  export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  BM="$OUT/models"
  cp -r "$DIR/models" "$BM"
  for c in mixture unet; do sed -i "s|@BUNDLE@/models/|$BM/|g" "$BM/$c/config.json"; done
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /' || true
  set +e
  BENCH_MODELS="$BM" "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$DIR/benchmarks.jar" \
    dev.diffinstruct.bench.GpuCheck "$DEVICE" "$OUT/work" "$OUT/java.json" mixture unet
  checks=$?
  set -e
  for c in mixture unet; do
    # --device-guard: the twin keeps its non-finite guard on the device as Java does on CUDA (on the CPU run, to exercise it)
    "$PY" "$ROOT/bench/train_step.py" --dir "$BM/$c" --name "trainStep[model=$c]" --device "${DEVICE%%:*}" --device-guard \
      --warmup 5 --iterations 5 --iteration-seconds 2 > "$OUT/py-$c.json"
  done
  "$PY" - "$OUT" <<'PYEOF'
import glob, json, os, sys
out = sys.argv[1]
java = json.load(open(os.path.join(out, "java.json"))) if os.path.exists(os.path.join(out, "java.json")) else {}
py = {}
for f in glob.glob(os.path.join(out, "py-*.json")):
    py.update(json.load(open(f)))
print(f"\n{'one training step':<30} {'Java us':>12} {'PyTorch us':>12} {'Java/PyTorch':>13}")
for k in sorted(set(java) | set(py)):
    j, p = java.get(k, {}).get("mean_us"), py.get(k, {}).get("mean_us")
    fmt = lambda v: f"{v:12.1f}" if v is not None else f"{'-':>12}"
    ratio = f"{j / p:13.2f}" if j and p else f"{'-':>13}"
    print(f"{k:<30} {fmt(j)} {fmt(p)} {ratio}")
PYEOF
  exit $checks
  ;;
*)
  echo "gpu-check: bundle or run, not '$MODE'" >&2; exit 2 ;;
esac
