#!/usr/bin/env bash
# The long reliability runs behind the README's "Reliability" table (not part of scripts/test.sh).
# Usage: scripts/reliability.sh [resume|fuzz|args|signals|diskfull|soak|all]
#   resume    50 runs killed with SIGKILL at random moments, each resumed to the straight run's bits
#   fuzz      1,200 damaged teacher, generator and checkpoint files through inspect/distill/sample/--resume
#   args      every adversarial value for every option of every command
#   signals   SIGTERM/SIGINT at random moments, 50 times per long command
#   diskfull  disk full while checkpointing (a small tmpfs; needs root)
#   soak      20,000 steps with a checkpoint every 100: RSS and open files -> docs/soak.png
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib.sh"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
cd "$ROOT"
what=${1:-all}
build() { [ -n "${BUILT:-}" ] || { mvn -q -B -DskipTests install; BUILT=1; }; }
junit() { build; mvn -B -pl cli surefire:test -Dtest="$1" "${@:2}" | grep -E 'Tests run:|FAIL|^[A-Za-z].*  +[0-9]+|cases|mutations|kills' ; }
run() {
  case $1 in
    resume) junit ResumeAcrossProcessesTest -Dreliability.kills=50 ;;
    fuzz) junit ModelFileFuzzTest -Dreliability.mutations=1200 ;;
    args) junit BadArgumentsFuzzTest -Dreliability.args=all ;;
    signals) build; python3 scripts/reliability/signals.py --tries 50 ;;
    diskfull) build; scripts/reliability/diskfull.sh ;;
    soak) build; python3 scripts/reliability/soak.py --steps 20000 --ckpt-every 100 ;;
    *) echo "unknown: $1 (resume|fuzz|args|signals|diskfull|soak|all)" >&2; exit 2 ;;
  esac
}
if [ "$what" = all ]; then for w in resume fuzz args signals diskfull soak; do run "$w"; done; else run "$what"; fi
