#!/usr/bin/env bash
# The README's screenshots of the language-model workspace's causal views, on
# the demo LM and the prompt with repetition, drawn under Xvfb:
#   docs/lm_turn_off.png        the whole window with the previous-token head L0H1
#                               turned off: the chips and the per-token loss strip
#                               under the prompt, and the induction head L1H1 with
#                               every head on beside L1H1 without L0H1
#   docs/lm_head_effects.png    the Head effects panel (attribution patching, exact on click)
#   docs/lm_patching.png        the Patching panel on the demo pair
#   docs/lm_checked_badges.png  the head-roles panel with the causal checks' marks
#   bash scripts/shot_lm_causal.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-docs}
PROMPT="The cat sat on the mat. The cat sat on the mat."
shot() { xvfb-run -a -s "-screen 0 1600x1000x24" "$BUILD/headscope" shot --model assets/demo_lm --prompt "$PROMPT" "$@"; }
shot --head 1,1 --off 0.1 --out "$OUT/lm_turn_off.png" --width 1500 --height 950
shot --panel head_effects --out "$OUT/lm_head_effects.png" --width 1300 --height 760
shot --panel patching --out "$OUT/lm_patching.png" --width 1300 --height 760
shot --panel head_roles --out "$OUT/lm_checked_badges.png" --width 1000 --height 500
echo "wrote $OUT/lm_turn_off.png $OUT/lm_head_effects.png $OUT/lm_patching.png $OUT/lm_checked_badges.png"
