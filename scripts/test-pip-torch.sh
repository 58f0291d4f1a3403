#!/usr/bin/env bash
# Runs the whole test suite against pip torch 2.13 (CPU): the shim built on its LibTorch, the Java
# side loading it, and the tests' Python references run by the same torch. Works in a copy of the
# tree, so neither ./target folders nor ~/.m2 end up on this LibTorch. Extra args go to Maven.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib.sh"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
PY=$("$ROOT/scripts/pip-torch.sh" cpu)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/diffinstruct-torch2.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$WORK")
cd "$WORK"
echo "test-pip-torch: $("$PY" -c 'import torch; print("torch", torch.__version__, "in", torch.__file__)')" >&2
LIBTORCH_USE_PYTORCH=1 PYTHON="$PY" mvn -B verify -Dpython="$PY" "$@"
