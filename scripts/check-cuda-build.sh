#!/usr/bin/env bash
# Builds the tool against pip torch 2.14.1 for CUDA 13.0 (C++20 headers; NVRTC from its wheel) and
# checks that it loads: --version names the CUDA build; without a GPU, --device cuda is one line and
# exit 2 and --device auto trains on the CPU; with one, a short distillation runs on it. Works in
# a copy of the tree (neither ./target nor ~/.m2 change). Needs no GPU; scripts/gpu-check.sh is the GPU test.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib.sh"
PY=$("$ROOT/scripts/pip-torch.sh" cuda)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/diffinstruct-cuda.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$WORK")
cd "$WORK"
LIBTORCH_USE_PYTORCH=1 PYTHON="$PY" mvn -q -B package -DskipTests -Dpython="$PY"
# Read the NEEDED entries into a variable first (see scripts/lib.sh on `| grep -q` and pipefail).
needed=$(readelf -d native-shim/target/classes/native/linux-x86_64/libdishim.so)
grep -q 'NEEDED.*\[libtorch_cuda\.so\]' <<<"$needed" || { echo "check-cuda-build: FAIL: the shim does not link libtorch_cuda" >&2; exit 1; }
run() { "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar cli/target/diffinstruct.jar "$@"; }
fail() { echo "check-cuda-build: FAIL: $*" >&2; exit 1; }
version=$(run --version)
echo "$version"
grep -q "^libtorch     2\.14" <<<"$version" || fail "--version does not report LibTorch 2.14"
grep -q "built for CUDA 13" <<<"$version" || fail "--version does not report the CUDA 13 build"
grep -q "^distributed  c10d gloo, nccl" <<<"$version" || fail "--version does not report Gloo and NCCL"
if grep -q "^CUDA         no device" <<<"$version"; then
  set +e
  err=$(run distill --device cuda --steps 2 --out "$WORK/cuda-run" 2>&1 >/dev/null); rc=$?
  set -e
  [ "$rc" = 2 ] || fail "--device cuda without a GPU: exit $rc, expected 2 ($err)"
  [ "$(printf '%s\n' "$err" | grep -c .)" = 1 ] || fail "--device cuda without a GPU: not one line: $err"
  echo "--device cuda without a GPU: exit 2, '$err'"
  # --tf32 sets libtorch's legacy TF32 flags: 2.x warns only when they are mixed with the new API
  err=$(run distill --device auto --tf32 --steps 20 --log-every 10 --quiet --out "$WORK/auto-run" 2>&1 >/dev/null)
  if grep -qiE 'tf32|^\[W' <<<"$err"; then fail "--tf32 on this LibTorch printed a warning: $err"; fi
  grep -q '"device": "cpu"' "$WORK/auto-run/config.json" || fail "--device auto did not pick the CPU"
  echo "--device auto --tf32 without a GPU: trained on the CPU, no warning"
else
  run distill --device cuda --steps 50 --log-every 10 --quiet --out "$WORK/cuda-run"
  echo "--device cuda: a 50-step distillation ran on the GPU"
fi
# c10d on this LibTorch: two workers over Gloo (CPU tensors) train one run
run distill --nproc-per-node 2 --device cpu --steps 40 --log-every 10 --quiet --out "$WORK/gloo-run" >/dev/null
[ -f "$WORK/gloo-run/generator.pt" ] || fail "--nproc-per-node 2 wrote no generator"
echo "--nproc-per-node 2 (Gloo): trained"
echo "check-cuda-build: OK"
