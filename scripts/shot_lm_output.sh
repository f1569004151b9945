#!/usr/bin/env bash
# The README's screenshots of what heads write, on the demo LM and the prompt
# with repetition, drawn under Xvfb:
#   docs/lm_logit_attribution.png  the Logit attribution tab with the induction head L1H1
#                                  selected: the map, the ranked parts, the logit lens,
#                                  what L1H1 promotes and suppresses
#   docs/lm_without_sink.png       the first-token head L1H0's attention without the first key
#   docs/lm_output_roles.png       the head-roles panel with the output roles' badges
#   docs/lm_roles_repetition.png   the whole window (role grids with the output roles and sinks)
#   bash scripts/shot_lm_output.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-docs}
PROMPT="The cat sat on the mat. The cat sat on the mat."
shot() { xvfb-run -a -s "-screen 0 1600x1000x24" "$BUILD/headscope" shot --model assets/demo_lm --prompt "$PROMPT" "$@"; }
shot --panel logit_attribution --head 1,1 --out "$OUT/lm_logit_attribution.png" --width 1500 --height 950
shot --panel lm_attention --head 1,0 --no-sink --out "$OUT/lm_without_sink.png" --width 800 --height 750
shot --panel head_roles --head 1,1 --out "$OUT/lm_output_roles.png" --width 1000 --height 640
shot --head 1,1 --out "$OUT/lm_roles_repetition.png" --width 1600 --height 1000
echo "wrote $OUT/lm_logit_attribution.png $OUT/lm_without_sink.png $OUT/lm_output_roles.png $OUT/lm_roles_repetition.png"
