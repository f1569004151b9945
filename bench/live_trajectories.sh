#!/usr/bin/env bash
# bench/live_trajectories: the trainer's speed in the explorer with the live
# trajectories (the newest checkpoint analysed while it trains) and without
# (HEADSCOPE_LIVE=0), in alternating rounds of the default run's first
# SECONDS seconds (the densest checkpoints: one per 50 epochs), each from
# scratch, under Xvfb; and headless `headscope train` for the same time as
# the reference. Prints epochs per second per round and the ratios.
#
#   bash bench/live_trajectories.sh [BUILD_DIR] [SECONDS] [ROUNDS]
set -euo pipefail
BUILD=${1:-build}
SECONDS_PER=${2:-90}
ROUNDS=${3:-2}
HS="$(realpath "$BUILD/headscope")"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
epochs() {  # the last epoch in a run's metrics.csv
  tail -n 1 "$1/modadd_1l/p113_seed999/metrics.csv" | cut -d, -f1
}
window() {  # LIVE OUT_DIR
  rm -rf "$2" && mkdir -p "$2"
  HEADSCOPE_LIVE=$1 timeout -s INT "$SECONDS_PER" xvfb-run -a -s "-screen 0 1600x1000x24" "$HS" --runs "$2" \
    --frames 1000000 --train-scripted --width 1600 --height 1000 >/dev/null 2>&1 || true
  sleep 2
}
headless() {  # OUT_DIR
  rm -rf "$1" && mkdir -p "$1"
  timeout -s INT "$SECONDS_PER" "$HS" train --out "$1" --quiet >/dev/null 2>&1 || true
}
for r in $(seq 1 "$ROUNDS"); do
  headless "$TMP/h"; h=$(epochs "$TMP/h")
  window 0 "$TMP/off"; off=$(epochs "$TMP/off")
  window 1 "$TMP/on"; on=$(epochs "$TMP/on")
  live=$(ls "$TMP/on/modadd_1l/p113_seed999/artifacts/attention_freq" 2>/dev/null | grep -c '^epoch_' || true)
  echo "round $r: epochs in ${SECONDS_PER} s: headless $h, window $off, window with live trajectories $on ($live checkpoints analysed live)"
  echo "$h $off $on" >> "$TMP/rounds"
done
/usr/bin/python3 - "$TMP/rounds" <<'PY'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
h, off, on = (sum(r[i] for r in rows) for i in range(3))
print(f"window / headless: {off / h:.3f}; window with live / headless: {on / h:.3f}; "
      f"live costs the trainer {100 * (1 - on / off):.1f}% against the window without it")
PY
