#!/usr/bin/env bash
# The explorer in a real window under Xvfb on a tiny trained run: panels
# render, moving the epoch and switching the position pair change what is
# drawn, nothing is blank; without a display it says so in words.
set -euo pipefail
HS=$1
WORK=$2
CHECK="/usr/bin/python3 $(dirname "$0")/png_check.py"
rm -rf "$WORK" && mkdir -p "$WORK"
"$HS" train --p 11 --d-model 32 --d-mlp 64 --train-frac 0.8 --lr 3e-3 --epochs 60 --checkpoints 0:20 --out "$WORK/runs" --quiet
RUN="$WORK/runs/modadd_1l/p11_seed999_frac0.8_lr0.003_d32h4x32m64"
"$HS" analyze "$RUN" --quiet

# No display: a clear message naming the headless commands, non-zero exit.
set +e
msg=$(env -u DISPLAY -u WAYLAND_DISPLAY "$HS" --run "$RUN" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] || { echo "explorer without display exited 0"; exit 1; }
for want in "no display" "headscope train" "headscope analyze" "headscope shot"; do
  echo "$msg" | grep -q "$want" || { echo "no-display message lacks '$want': $msg"; exit 1; }
done

# A missing run folder is reported.
set +e
msg=$(xvfb-run -a "$HS" --run "$WORK/nope" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] && echo "$msg" | grep -q "not a run folder" || { echo "bad --run not reported: $msg"; exit 1; }
set +e
msg=$("$HS" shot --run "$RUN" --epoch 0 --panel bogus --out "$WORK/x.png" 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] && echo "$msg" | grep -q "unknown --panel 'bogus'" || { echo "bad --panel not reported: $msg"; exit 1; }

cd "$WORK"
shot() { xvfb-run -a -s "-screen 0 1400x900x24" "$HS" shot --run "$RUN" "$@"; }
shot --epoch 0 --panel heads --out heads_e0.png --width 900 --height 700
shot --epoch 60 --panel heads --out heads_e60.png --width 900 --height 700
shot --epoch 60 --panel heads --pair 1,0 --out heads_e60_b_to_a.png --width 900 --height 700
shot --epoch 60 --panel head_freq --out head_freq.png --width 700 --height 600
shot --epoch 60 --panel specialization --out spec.png --width 800 --height 600
shot --epoch 60 --panel neurons --out neurons.png --width 1200 --height 900
shot --epoch 40 --out window.png --width 1400 --height 900
# Compare needs a second run: a variant without weight decay.
"$HS" train --p 11 --d-model 32 --d-mlp 64 --train-frac 0.8 --lr 3e-3 --weight-decay 0 --epochs 40 --checkpoints 0:20 --out "$WORK/runs" --quiet
xvfb-run -a -s "-screen 0 1400x900x24" "$HS" shot --runs "$WORK/runs" --run "$RUN" --epoch 40 --panel compare --out compare.png --width 1400 --height 700
for f in heads_e0 heads_e60 heads_e60_b_to_a head_freq spec neurons window compare; do $CHECK nonblank $f.png; done
$CHECK differ heads_e0.png heads_e60.png 0.05          # the epoch slider changes the heads
$CHECK differ heads_e60.png heads_e60_b_to_a.png 0.05  # so does the position pair

# The interactive explorer, scripted: the slider moves across every
# checkpoint (one per frame) and the last frame is a real picture.
xvfb-run -a -s "-screen 0 1400x900x24" "$HS" --run "$RUN" --frames 40 --script-epochs 0,20,40,60,0,60 \
  --frame-log frames.csv --screenshot scripted.png
$CHECK nonblank scripted.png
python3 - <<'PY'
import csv
rows = list(csv.DictReader(open('frames.csv')))
epochs = {int(r['epoch']) for r in rows}
assert {0, 20, 40, 60} <= epochs, f'slider did not visit every checkpoint: {sorted(epochs)}'
print(f'{len(rows)} frames, epochs visited {sorted(epochs)}')
PY
echo "window test passed"
