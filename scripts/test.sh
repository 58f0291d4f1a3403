#!/usr/bin/env bash
# Runs every test (C shim build, PyTorch reference fixtures, JUnit suites). Needs scripts/setup.sh's packages.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib.sh"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
cd "$ROOT" && exec mvn -B install "$@"
