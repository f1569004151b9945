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
# An out-of-range position pair is refused in one line (it used to read past the pattern array).
for pair in 7,0 1,2 -1,0 x; do
  set +e
  msg=$(xvfb-run -a "$HS" shot --run "$RUN" --epoch 0 --panel heads --pair $pair --out "$WORK/x.png" 2>&1)
  rc=$?
  set -e
  [ $rc -eq 2 ] && echo "$msg" | grep -q -- "--pair" && [ "$(echo "$msg" | wc -l)" -eq 1 ] && [ ! -e "$WORK/x.png" ] \
    || { echo "--pair $pair not refused in one line (rc $rc): $msg"; exit 1; }
done

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

# The interactive explorer, scripted: the slider moves across the
# checkpoints; once each step is fully drawn the window is saved. Each step
# must show the same picture as a fresh `shot` at that epoch, and the steps
# must differ from each other (the slider really moved every panel).
xvfb-run -a -s "-screen 0 1400x900x24" "$HS" --run "$RUN" --frames 10 --script-epochs 0,20,60 --script-wait \
  --script-shots steps --frame-log frames.csv --screenshot scripted.png --width 1400 --height 900
$CHECK nonblank scripted.png
i=0
for e in 0 20 60; do
  shot --epoch $e --out fresh_$e.png --width 1400 --height 900
  $CHECK same steps/step_$i.png fresh_$e.png 0.002
  i=$((i + 1))
done
$CHECK differ steps/step_0.png steps/step_1.png 0.02
$CHECK differ steps/step_1.png steps/step_2.png 0.02

# A malformed summary.npz: the panel names the file and shot exits non-zero.
BAD="$WORK/runs/modadd_1l/bad_summary"
cp -r "$RUN" "$BAD"
/usr/bin/python3 - "$BAD/artifacts/attention_freq/summary.npz" <<'PY'
import numpy as np, sys
z = dict(np.load(sys.argv[1]))
z['dominant_freq_per_head'] = z['dominant_freq_per_head'][:2]   # shorter than epochs
np.savez(sys.argv[1], **z)
PY
set +e
msg=$(shot_bad() { xvfb-run -a -s "-screen 0 1400x900x24" "$HS" shot --run "$BAD" --epoch 60 --panel specialization --out bad.png; }; shot_bad 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] && echo "$msg" | grep -q "summary.npz" && echo "$msg" | grep -q "dominant_freq_per_head" \
  || { echo "malformed summary not reported (rc $rc): $msg"; exit 1; }

# Language models: the head-roles panel of the demo LM on a prompt with
# repetition differs from one without (circles and bars change), and the
# same prompt draws the same picture; a missing model folder is an error
# naming it; the window types scripted prompts and each drawn result has the
# token count of its UTF-8 bytes plus BOS (computed here, independently).
DEMO="$(dirname "$0")/../../assets/demo_lm"
lmshot() { xvfb-run -a -s "-screen 0 1400x900x24" "$HS" shot --model "$DEMO" --panel head_roles --width 1000 --height 700 "$@"; }
lmshot --prompt "The cat sat on the mat. The cat sat on the mat." --out lm_rep.png
lmshot --prompt "Jumpy frog" --out lm_norep.png
lmshot --prompt "Jumpy frog" --out lm_norep2.png
$CHECK nonblank lm_rep.png
$CHECK differ lm_rep.png lm_norep.png 0.005
$CHECK same lm_norep.png lm_norep2.png 0.0
set +e
msg=$(xvfb-run -a -s "-screen 0 1400x900x24" "$HS" shot --model "$WORK/no_model" --out x.png 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] && echo "$msg" | grep -q "no_model" || { echo "missing model not reported (rc $rc): $msg"; exit 1; }
printf 'Hello\nThe cat. The cat.\ncafé au lait\nJumpy frog\n' > prompts.txt
xvfb-run -a -s "-screen 0 1400x900x24" "$HS" --model "$DEMO" --frames 3 --script-prompts prompts.txt \
  --frame-log prompts.csv --width 1200 --height 800 > prompts.log 2>&1
/usr/bin/python3 - prompts.txt prompts.csv <<'PY'
import csv, sys
prompts = [l for l in open(sys.argv[1], encoding='utf-8').read().split('\n') if l]
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == len(prompts), (rows, prompts)
for p, r in zip(prompts, rows):
    assert int(r['tokens']) == len(p.encode('utf-8')) + 1, (p, r)
    assert float(r['edit_to_drawn_ms']) > 0 and float(r['compute_ms']) > 0, r
print('scripted prompts: %s ms from edit to drawn' % ', '.join(r['edit_to_drawn_ms'][:5] for r in rows))
PY

# The plasticity panel draws the demo LM's shipped CSVs; a broken CSV makes
# shot fail naming the file and the line.
xvfb-run -a -s "-screen 0 1400x900x24" "$HS" shot --model "$DEMO" --panel plasticity --head 1,1 --out plast.png
$CHECK nonblank plast.png
cp -r "$DEMO" demo_badcsv
sed -i '3s/.*/0,1,1,oops/' demo_badcsv/plasticity/head_metrics.csv
set +e
msg=$(xvfb-run -a -s "-screen 0 1400x900x24" "$HS" shot --model demo_badcsv --panel plasticity --out bad_plast.png 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] && echo "$msg" | grep -q "head_metrics.csv: line 3" || { echo "broken plasticity CSV not reported (rc $rc): $msg"; exit 1; }

# The language-model workspace is remembered: a session on the demo LM with a
# prompt, closed with Ctrl-C; the next session without arguments opens that
# workspace with that prompt (it saves them again on exit; a session that
# did not restore them would save the grokking workspace and the default prompt).
mkdir -p state && cd state
xvfb-run -a -s "-screen 0 1200x800x24" "$HS" --no-train --runs "$WORK/state_runs" --model "$DEMO" --prompt "Jumpy frog" > s1.log 2>&1 &
sleep 5; pkill -INT -f -- "--runs $WORK/state_runs --model" || true; wait
/usr/bin/python3 -c "import json; s = json.load(open('headscope_state.json')); assert s['workspace'] == 'lm', s; s['lm']['prompt'] = 'Hello again'; json.dump(s, open('headscope_state.json', 'w'))"
xvfb-run -a -s "-screen 0 1200x800x24" "$HS" --no-train --runs "$WORK/state_runs" > s2.log 2>&1 &
sleep 5; pkill -INT -f -- "--runs $WORK/state_runs$" || true; wait
/usr/bin/python3 - <<'PY'
import json
s = json.load(open('headscope_state.json'))
assert s['workspace'] == 'lm' and s['lm']['prompt'] == 'Hello again' and s['lm']['model'].endswith('demo_lm'), s
print('LM workspace remembered:', s['lm'])
PY
cd "$WORK"

# Ctrl-C while the explorer trains: training state is saved at the current
# epoch (not the last checkpoint), so the run resumes exactly there.
RUNS2="$WORK/runs2"
xvfb-run -a -s "-screen 0 1200x800x24" "$HS" --runs "$RUNS2" > ctrlc.log 2>&1 &
for i in $(seq 1 120); do
  [ -f "$RUNS2/modadd_1l/p113_seed999/metrics.csv" ] && [ "$(wc -l < "$RUNS2/modadd_1l/p113_seed999/metrics.csv")" -gt 12 ] && break
  sleep 0.5
done
pkill -INT -f -- "headscope --runs $RUNS2" || { echo "explorer not running"; cat ctrlc.log; exit 1; }
wait
/usr/bin/python3 - "$RUNS2/modadd_1l/p113_seed999" <<'PY'
import json, struct, sys, os, csv
d = sys.argv[1]
raw = open(os.path.join(d, 'train_state.safetensors'), 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
state_epoch = int(json.loads(raw[8:8 + n])['__metadata__']['epoch'])
rows = list(csv.DictReader(open(os.path.join(d, 'metrics.csv'))))
last = int(rows[-1]['epoch'])
ckpts = sorted(int(f[6:11]) for f in os.listdir(os.path.join(d, 'checkpoints')) if f.endswith('.safetensors'))
print(f'state saved at epoch {state_epoch}, metrics to {last}, last checkpoint {ckpts[-1]}')
assert state_epoch > 0 and state_epoch == last + 1, 'Ctrl-C did not save the state at the current epoch'
PY
grep -q "interrupted" ctrlc.log || { echo "no interrupt message"; cat ctrlc.log; exit 1; }
echo "window test passed"
