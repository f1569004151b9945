#!/usr/bin/env bash
# The language-model workspace's causal views in a real window under Xvfb, on
# the demo LM: turning off the previous-token head (shot --off) changes the
# window, the head-effects and patching panels draw, and a bad --off is
# refused (a malformed one in one line, a head the model lacks by name).
set -euo pipefail
HS=$1
WORK=$2
HERE="$(cd "$(dirname "$0")" && pwd)"
CHECK="/usr/bin/python3 $HERE/png_check.py"
DEMO="$HERE/../../assets/demo_lm"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
PROMPT="The cat sat on the mat. The cat sat on the mat."
shot() { xvfb-run -a -s "-screen 0 1400x900x24" "$HS" shot --model "$DEMO" --prompt "$PROMPT" "$@"; }
shot --head 1,1 --out on.png --width 1300 --height 850
shot --head 1,1 --off 0.1 --out off.png --width 1300 --height 850
shot --head 1,1 --off 0.1 --off-mode mean --out off_mean.png --width 1300 --height 850
shot --panel head_effects --out effects.png --width 1100 --height 700
shot --panel patching --out patching.png --width 1100 --height 700
shot --panel head_roles --out roles.png --width 1000 --height 500
for f in on off off_mean effects patching roles; do $CHECK nonblank $f.png; done
$CHECK differ on.png off.png 0.02          # chips, loss rows, L1H1 with and without L0H1
$CHECK differ off.png off_mean.png 0.002   # zero and mean ablation are different models

set +e
msg=$(shot --off 0.x --out bad.png 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] && echo "$msg" | grep -q -- "--off '0.x'" && [ "$(echo "$msg" | wc -l)" -eq 1 ] && [ ! -e bad.png ] \
  || { echo "malformed --off not refused in one line (rc $rc): $msg"; exit 1; }
set +e
msg=$(shot --off 5.0 --out missing.png 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] && echo "$msg" | grep -q "L5H0" || { echo "--off of a head the model lacks not reported (rc $rc): $msg"; exit 1; }
echo "LM causal views: ok"
