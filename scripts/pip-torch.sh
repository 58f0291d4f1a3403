#!/usr/bin/env bash
# Makes a virtual environment holding a pip torch (a complete LibTorch: headers, libraries, CMake
# config) from this machine's local wheel folders, without waiting on the unreachable PyPI, and
# prints its python. Usage: scripts/pip-torch.sh cpu|cuda [DIR]
#   cpu   torch==2.13.0+cpu (MKL, oneDNN) and numpy           default DIR: .venv/torch-2.13-cpu
#   cuda  torch==2.14.1 (CUDA 13.0) with its nvidia-* wheels  default DIR: .venv/torch-2.14-cu130
#         (--no-deps: its cuda-bindings and triton are not to be had here; libtorch needs neither)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KIND=${1:?usage: scripts/pip-torch.sh cpu|cuda [DIR]}
case "$KIND" in
  cpu) DIR=${2:-$ROOT/.venv/torch-2.13-cpu} ;;
  cuda) DIR=${2:-$ROOT/.venv/torch-2.14-cu130} ;;
  *) echo "pip-torch: cpu or cuda, not '$KIND'" >&2; exit 2 ;;
esac
# Only the local folders: --no-index keeps pip from retrying pypi.org for minutes.
LOCAL="--no-index --disable-pip-version-check"
for d in /opt/wheels /opt/pypi/files /opt/pypi-more/files; do [ -d "$d" ] && LOCAL="$LOCAL --find-links $d"; done
if [ ! -x "$DIR/bin/python" ]; then
  /usr/bin/python3 -m venv "$DIR" >&2
fi
if ! "$DIR/bin/python" -c "import torch" 2>/dev/null; then
  if [ "$KIND" = cpu ]; then
    "$DIR/bin/pip" install -q $LOCAL torch==2.13.0+cpu numpy >&2
  else
    "$DIR/bin/pip" install -q $LOCAL --no-deps torch==2.14.1 >&2
    "$DIR/bin/pip" install -q $LOCAL "cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.3" \
      nvidia-cudnn-cu13==9.24.0.43 nvidia-cusparselt-cu13==0.8.1 nvidia-nccl-cu13==2.30.7 nvidia-nvshmem-cu13==3.4.5 \
      filelock typing-extensions sympy networkx jinja2 fsspec numpy >&2
  fi
fi
echo "$DIR/bin/python"
