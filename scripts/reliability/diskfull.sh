#!/usr/bin/env bash
# Disk full while checkpointing (needs root for a small tmpfs): the checkpoint write fails, the run
# stops with one clear line, the previous checkpoint stays loadable, and after space is freed
# --resume ends with the same bits as a run that never failed. Usage: scripts/reliability/diskfull.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DI="$ROOT/diffinstruct"
W=${WORK:-/tmp/di-diskfull}
MNT=$W/disk
cleanup() { mountpoint -q "$MNT" && umount "$MNT" || true; }
trap cleanup EXIT
cleanup; rm -rf "$W"; mkdir -p "$MNT"
ARGS=(distill --ckpt-every 100 --keep-checkpoints 2 --batch 128 -q)
"$DI" "${ARGS[@]}" --steps 600 --out "$W/straight" >/dev/null
mount -t tmpfs -o size=16m tmpfs "$MNT"
"$DI" "${ARGS[@]}" --steps 300 --out "$MNT/run" >/dev/null
ckpt=$(stat -c %s "$MNT/run/checkpoints/ckpt-000000300.zip")
# leave room for half a checkpoint: the next write (step 400) cannot complete
free=$(df -B1 --output=avail "$MNT" | tail -1)
fallocate -l $(( free - ckpt / 2 )) "$MNT/filler" 2>/dev/null || dd if=/dev/zero of="$MNT/filler" bs=1 count=0 seek=$(( free - ckpt / 2 )) 2>/dev/null
set +e
"$DI" "${ARGS[@]}" --steps 600 --out "$MNT/run" --resume=auto > "$W/full.log" 2>&1
rc=$?
set -e
echo "disk full: exit $rc; $(grep -m1 '^error' "$W/full.log" || echo 'no error line')"
[ "$rc" -ne 0 ] || { echo "FAIL: the run did not notice the full disk"; exit 1; }
grep -q 'No space left' "$W/full.log" || { echo "FAIL: the message does not say the disk is full"; cat "$W/full.log"; exit 1; }
ls "$MNT/run/checkpoints"
if [ -n "$(find "$MNT/run/checkpoints" -name '*.tmp' -print -quit)" ]; then echo "FAIL: a temporary file was left"; exit 1; fi
rm "$MNT/filler"
"$DI" "${ARGS[@]}" --steps 600 --out "$MNT/run" --resume 2>&1 | grep -m1 'resuming from'
for f in generator.pt generator_ema.pt fake_score.pt; do
  cmp "$W/straight/$f" "$MNT/run/$f" || { echo "FAIL: $f differs from the straight run"; exit 1; }
done
echo "disk full: previous checkpoint kept, no temporary file left, resumed after freeing space to the straight run's bits: PASS"
