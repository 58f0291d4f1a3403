#!/usr/bin/env bash
# The README's "Refining a GAN" table, re-measured: trains the DCGAN (models/train_gan.py) unless
# assets/fashion-mnist/gan/gan.pt exists, evaluates it, refines it against the committed teacher in
# stages (--resume to each step count of STAGES), evaluates every stage's generator and its weight
# average on 10,000 samples (FID / precision / recall in the feature space of features.pt, against
# the 10,000 test images) and draws the same latents before and after.
#
#   scripts/refine-gan.sh [OUT]        (default OUT: refine-gan-out)
#
# Environment: STAGES (default "250 500 1000 2000"), THREADS (default 2), REFINE_ARGS (extra refine
# options; the defaults below are the README's), N (eval samples, default 10000).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${1:-refine-gan-out}
PY=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
N=${N:-10000}
STAGES=${STAGES:-250 500 1000 2000}
GAN=assets/fashion-mnist/gan/gan.pt
TEACHER=assets/fashion-mnist/teacher.pt
FEATURES=assets/fashion-mnist/features.pt
DI=("$ROOT/diffinstruct")
mkdir -p "$OUT"
if [ ! -f "$GAN" ]; then
  "$PY" models/train_gan.py --out "$(dirname "$GAN")" --threads "$THREADS"
fi
evaluate() {  # name generator
  local line
  line=$("${DI[@]}" eval --generator "$2" --n "$N" --seed 1 --reference fashion-mnist:test --features "$FEATURES" --threads "$THREADS" \
    | awk '/frechet/ {f=$NF} /^precision/ {p=$NF} /^recall/ {r=$NF} END {printf "%s %s %s", f, p, r}')
  echo "$1 $line" | tee -a "$OUT/table.txt"
}
: > "$OUT/table.txt"
evaluate "gan" "$GAN"
"${DI[@]}" sample --generator "$GAN" --n 64 --seed 7 --out "$OUT/before.npy" > /dev/null
T0=$(date +%s)
for s in $STAGES; do
  # the README's settings: batch 32, fake-score warm-up 100 steps, Karras noise levels, lr 1e-4 for both networks
  # shellcheck disable=SC2086
  "${DI[@]}" refine --generator "$GAN" --teacher "$TEACHER" --out "$OUT/run" --steps "$s" --batch 32 --warmup-fake 100 \
    --sigma-sampler karras --lr-g 1e-4 --lr-f 1e-4 --ema-halflife 20000 --ckpt-every 250 --log-every 50 --threads "$THREADS" \
    --resume=auto -q ${REFINE_ARGS:-}
  echo "stage $s: $(( $(date +%s) - T0 )) s of refinement so far" | tee -a "$OUT/table.txt"
  evaluate "refined-$s" "$OUT/run/generator.pt"
  evaluate "refined-$s-ema" "$OUT/run/generator_ema.pt"
  "${DI[@]}" sample --generator "$OUT/run/generator_ema.pt" --n 64 --seed 7 --out "$OUT/after-$s.npy" > /dev/null
done
"${DI[@]}" grid "$OUT/before.npy" "$OUT/after-${s}.npy" --out "$OUT/before-after.png"
echo "table: $OUT/table.txt (name FID precision recall); grid: $OUT/before-after.png"
