#!/usr/bin/env bash
# Steps/s of one process against --nproc-per-node 2 on this machine, for the built-in mixture and
# the Fashion-MNIST image step (batch 32 global; generator updates only, after a 5-step warm-up).
# Usage: scripts/bench-data-parallel.sh [steps]   (default 60 image steps, 1000 mixture steps)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STEPS=${1:-60}
W=$(mktemp -d "${TMPDIR:-/tmp}/diffinstruct-dp.XXXXXX")
trap 'rm -rf "$W"' EXIT
rate() { # the mean steps/s over the logged intervals after the first (start-up excluded)
  python3 -c 'import json,sys; r=[json.loads(l)["steps_per_s"] for l in open(sys.argv[1])][2:]; print("%.2f" % (sum(r)/len(r)))' "$1/metrics.jsonl"
}
image=(--teacher "$ROOT/assets/fashion-mnist/teacher.pt" --batch 32 --sigma-sampler karras --warmup-fake 5
       --steps "$STEPS" --log-every 5 --ckpt-every 100000 -q)
mix=(--batch 256 --warmup-fake 5 --steps 1000 --log-every 100 --ckpt-every 100000 -q --snapshot-every 0)
echo "uptime: $(uptime)"
for what in mix image; do
  declare -n args=$what
  "$ROOT/diffinstruct" distill "${args[@]}" --threads 1 --out "$W/$what-1x1" >/dev/null
  "$ROOT/diffinstruct" distill "${args[@]}" --threads 2 --out "$W/$what-1x2" >/dev/null
  "$ROOT/diffinstruct" distill "${args[@]}" --threads 1 --nproc-per-node 2 --out "$W/$what-2x1" >/dev/null 2>&1
  echo "$what: 1 process 1 thread $(rate "$W/$what-1x1") steps/s; 1 process 2 threads $(rate "$W/$what-1x2");" \
       "2 processes 1 thread each $(rate "$W/$what-2x1")"
done
