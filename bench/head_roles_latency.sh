#!/usr/bin/env bash
# bench/head_roles_latency.sh: latency from a prompt edit to the head-role
# badges drawn in the explorer window (Xvfb, Mesa llvmpipe), on the demo LM
# and on the GPT-2-small-shape random model that bench_head_roles_latency
# writes. The window types 40 edits of a 64-token prompt, each as soon as the
# previous one is drawn (--script-prompts), and logs edit -> drawn times.
#
#   bash bench/head_roles_latency.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
HS="$BUILD/headscope"
GPT2=${GPT2_DIR:-/tmp/headscope_bench_gpt2_small}
cmake --build "$BUILD" --target bench_head_roles_latency >/dev/null
[ -f "$GPT2/model.safetensors" ] || "$BUILD/bench/bench_head_roles_latency" --edits 3 >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 - "$TMP/prompts.txt" <<'PY'
import sys
text = list("The cat sat on the mat. The cat sat on the mat. The dog ran off".ljust(63, "."))
letters = "abcdefghijklmnopqrstuvwxyz"
with open(sys.argv[1], "w") as f:
    for i in range(43):
        text[(i * 7) % 63] = letters[i % 26]
        f.write("".join(text) + "\n")
PY
for model in assets/demo_lm "$GPT2"; do
  xvfb-run -a -s "-screen 0 1600x1000x24" "$HS" --model "$model" --frames 3 --script-prompts "$TMP/prompts.txt" \
    --frame-log "$TMP/log.csv" --width 1600 --height 1000 >/dev/null 2>&1
  /usr/bin/python3 - "$TMP/log.csv" "$model" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))[3:]  # warm-up
lat = sorted(float(r["edit_to_drawn_ms"]) for r in rows)
comp = sorted(float(r["compute_ms"]) for r in rows)
p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
print("%s (window): %d edits of a %s-token prompt: edit -> badges drawn median %.1f ms, p95 %.1f ms "
      "(analysis median %.1f ms)" % (sys.argv[2], len(lat), rows[0]["tokens"], statistics.median(lat), p95,
                                     statistics.median(comp)))
PY
done
