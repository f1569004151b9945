#!/usr/bin/env bash
# `headscope report` of a grokking-like and a no-weight-decay tiny run, checked
# in a real browser without network (report_check.py); `export` opened with
# Python's standard library and numpy; `sweep` lists, runs one index, resumes.
set -euo pipefail
HS=$1
WORK=$2
PY=/usr/bin/python3
rm -rf "$WORK" && mkdir -p "$WORK"
TINY=(--p 13 --d-model 32 --n-heads 2 --d-head 8 --d-mlp 40 --train-frac 0.5 --lr 3e-3 --epochs 120 --checkpoints 0:30
      --out "$WORK/runs" --quiet)
"$HS" train "${TINY[@]}"
"$HS" train "${TINY[@]}" --weight-decay 0
A=$(ls -d "$WORK"/runs/modadd_1l/p13_seed999_* | grep -v wd0 | head -1)
B=$(ls -d "$WORK"/runs/modadd_1l/p13_seed999_*wd0* | head -1)

# The report analyses the runs itself (no DISPLAY: figures under xvfb-run).
env -u DISPLAY -u WAYLAND_DISPLAY "$HS" report "$A" "$B" --out "$WORK/report" --width 1000 --height 640 --quiet
# 1 comparison + 6 panels per run.
$PY "$(dirname "$0")/report_check.py" "$WORK/report" 13 "$WORK"
grep -q "does not grok\|groks" "$WORK/report/report.md"
[ -f "$A/summary.json" ] && [ -f "$A/artifacts/progress_measures/summary.npz" ]

# Bad input: a run folder that is not one.
set +e
msg=$("$HS" report "$WORK/nope" --out "$WORK/r2" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$msg" | grep -q "no such run folder" || { echo "report of a missing run: rc $rc: $msg"; exit 1; }

# Export: a zip Python opens with zipfile + numpy + json.
"$HS" export "$A" --out "$WORK/a.zip" --artifacts attention_freq
$PY - "$WORK/a.zip" <<'PYEOF'
import io, json, struct, sys, zipfile
import numpy as np
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
names = z.namelist()
root = names[0].split('/')[0]
m = json.loads(z.read(root + '/MANIFEST.json'))
assert sorted([f['name'] for f in m['files']] + [root + '/MANIFEST.json']) == sorted(names), 'manifest lists every member'
s = json.loads(z.read(root + '/summary.json'))
assert s['run'] == root and 'phases' in s
pm = np.load(io.BytesIO(z.read(root + '/artifacts/progress_measures/summary.npz')))
assert pm['restricted_loss'].shape == pm['epochs'].shape and list(pm['epochs']) == [0, 30, 60, 90, 120]
af = [n for n in names if '/artifacts/attention_freq/epoch_' in n]
assert len(af) == 5, af
assert np.load(io.BytesIO(z.read(af[0])))['freq_matrix'].shape == (6, 2)
ck = [n for n in names if n.endswith('.safetensors')]
assert ck == [root + '/checkpoints/epoch_00120.safetensors'], ck
raw = z.read(ck[0]); n = struct.unpack('<Q', raw[:8])[0]
assert 'embed.W_E' in json.loads(raw[8:8 + n])
metrics = z.read(root + '/metrics.csv').decode().splitlines()
assert metrics[0].startswith('epoch,train_loss') and len(metrics) == 122  # header + epochs 0..120
print('export: ok', len(names), 'members')
PYEOF
set +e
msg=$("$HS" export "$A" --out "$WORK/b.zip" --artifacts nope 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$msg" | grep -q "analyzer 'nope'" || { echo "export of a missing analyzer: $msg"; exit 1; }

# Sweep: the grid, one index, resume.
"$HS" sweep --p 7,11 --seed 1 --weight-decay 1,0 --epochs 20 --out "$WORK/sweep" --list > "$WORK/grid.txt"
[ "$(wc -l < "$WORK/grid.txt")" -eq 4 ] || { cat "$WORK/grid.txt"; exit 1; }
grep -q "headscope train --p 11 --seed 1 --weight-decay 0 --train-frac 0.3 --epochs 20" "$WORK/grid.txt"
"$HS" sweep --p 7,11 --seed 1 --weight-decay 1,0 --epochs 20 --out "$WORK/sweep" --index 1 --threads 1
D=$(sed -n 2p "$WORK/grid.txt" | cut -f2)
[ -f "$D/summary.json" ] && [ -f "$D/checkpoints/epoch_00020.safetensors" ]
[ "$(ls "$WORK/sweep/modadd_1l" | grep -c seed)" -eq 1 ] || { echo "--index 1 trained more than one point"; exit 1; }
msg=$("$HS" sweep --p 7,11 --seed 1 --weight-decay 1,0 --epochs 20 --out "$WORK/sweep" --index 1 --threads 1 2>&1)
echo "$msg" | grep -q "resuming .* from epoch 20" || { echo "second sweep run did not resume: $msg"; exit 1; }
set +e
msg=$("$HS" sweep --p 7 --epochs 20 --out "$WORK/sweep" --index 3 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && echo "$msg" | grep -q "outside the grid of 1 points" || { echo "bad --index: $msg"; exit 1; }
echo "test_report: ok"
