#!/usr/bin/env bash
# bench/ui_frames: the explorer under Xvfb scrubbing through every checkpoint
# of a run. Prints median and 95th-percentile frame times (CPU time to build
# a frame, and the total with Mesa llvmpipe rendering), with artifacts cached
# on disk and with artifacts computed on demand from the checkpoints, and the
# latency from a slider change to the updated head heatmaps.
#
#   bash bench/ui_frames.sh [RUN_DIR] [BUILD_DIR]
set -euo pipefail
RUN=${1:-runs/modadd_1l/p113_seed999}
BUILD=${2:-build}
HS="$BUILD/headscope"
[ -f "$RUN/config.json" ] || { echo "no run at $RUN; train it first"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
EPOCHS=$(ls "$RUN/checkpoints" | sed -n 's/^epoch_0*\([0-9][0-9]*\)\.safetensors$/\1/p; s/^epoch_00000\.safetensors$/0/p' | sort -n | uniq | paste -sd, -)
N=$(echo "$EPOCHS" | tr ',' '\n' | wc -l)
echo "run $RUN: $N checkpoints"

# A copy of the run with checkpoints only, for the on-demand case.
FRESH="$TMP/runs/modadd_1l/$(basename "$RUN")"
mkdir -p "$FRESH"
cp "$RUN/config.json" "$RUN/metrics.csv" "$FRESH/"
ln -s "$(realpath "$RUN/checkpoints")" "$FRESH/checkpoints"
"$HS" analyze "$RUN" --quiet

run_explorer() {  # RUN_DIR LOG [extra args]
  local dir=$1 log=$2; shift 2
  xvfb-run -a -s "-screen 0 1600x1000x24" "$HS" --run "$dir" --frames 5 --script-epochs "$EPOCHS" \
    --frame-log "$log" --width 1600 --height 1000 "$@" >/dev/null 2>&1
}
run_explorer "$RUN" "$TMP/cached_scrub.csv"
run_explorer "$RUN" "$TMP/cached_latency.csv" --script-wait
rm -rf "$FRESH/artifacts"
run_explorer "$FRESH" "$TMP/ondemand_scrub.csv"
rm -rf "$FRESH/artifacts"
run_explorer "$FRESH" "$TMP/ondemand_latency.csv" --script-wait

/usr/bin/python3 - "$TMP" <<'PY'
import csv, statistics, sys, os
d = sys.argv[1]
def pct(v, q):
    v = sorted(v); return v[min(len(v) - 1, int(q * len(v)))] if v else float('nan')
def frames(name):
    rows = list(csv.DictReader(open(os.path.join(d, name))))[3:]  # skip start-up frames
    return [float(r['build_ms']) for r in rows], [float(r['total_ms']) for r in rows], \
           [float(r['latency_ms']) for r in rows if r['latency_ms']]
print(f"{'case':34s} {'build p50':>9s} {'build p95':>9s} {'total p50':>9s} {'total p95':>9s}")
for case in ('cached_scrub', 'ondemand_scrub'):
    b, t, _ = frames(case + '.csv')
    print(f"{case + ' (one epoch per frame)':34s} {pct(b,.5):9.2f} {pct(b,.95):9.2f} {pct(t,.5):9.2f} {pct(t,.95):9.2f}  ms, {len(b)} frames")
print()
for case in ('cached_latency', 'ondemand_latency'):
    _, _, lat = frames(case + '.csv')
    print(f"{case:34s} slider change -> updated heatmaps: median {pct(lat,.5):.0f} ms, p95 {pct(lat,.95):.0f} ms ({len(lat)} moves)")
PY
