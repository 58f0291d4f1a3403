#!/usr/bin/env bash
# Installs what diffinstruct needs on a Debian 12 machine (libtorch, PyTorch for reference checks,
# an optimised BLAS, the C++ toolchain) and builds it. Safe to run again.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
PKGS="libtorch-dev libgloo-dev python3-torch python3-numpy libopenblas0-pthread cmake g++ make dataset-fashion-mnist fontconfig fonts-dejavu-core"
missing=""
for p in $PKGS; do [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "setup: installing$missing" >&2
  $SUDO apt-get update -q
  # libopenblas0-pthread: without it Debian's libtorch uses the reference BLAS (~10x slower).
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi
. "$ROOT/scripts/lib.sh"
cd "$ROOT" && mvn -q -B -DskipTests install
echo "setup: done; ./diffinstruct --version" >&2
