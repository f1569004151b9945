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

# Seeds: a sweep of three seeds, then `report --seeds` finds the group,
# writes the across-seeds table and the Seeds panel; seeds.json checked
# against each run's summary.json with numpy.
"$HS" sweep --p 7 --seed 1,2,3 --epochs 40 --out "$WORK/seeds" --threads 1 > /dev/null
"$HS" sweep --p 7 --seed 4 --weight-decay 0 --epochs 40 --out "$WORK/seeds" --threads 1 > /dev/null  # another recipe
env -u DISPLAY -u WAYLAND_DISPLAY "$HS" report --seeds --runs "$WORK/seeds" --out "$WORK/seeds_report" --width 1000 --height 640 --quiet
grep -q "## Across seeds" "$WORK/seeds_report/report.md"
[ -s "$WORK/seeds_report/figures/seeds.png" ]
$PY - "$WORK/seeds_report/seeds.json" <<'PYEOF'
import json, sys
import numpy as np
s = json.load(open(sys.argv[1]))
assert s['seeds'] == [1, 2, 3], s['seeds']                     # the wd-0 run is another recipe
assert not s['paper_recipe']                                   # p = 7: no published values
runs = [json.load(open(d + '/summary.json')) for d in s['runs']]
def get(f, *path):
    for k in path:
        if not isinstance(f, dict) or k not in f: return None
        f = f[k]
    return f
checks = {'memorised': ('memorisation_epoch',), 'grok_0.9': ('test_accuracy_crossings', '0.9'),
          'test_loss_peak': ('test_loss_peak', 'epoch'), 'neuron_frac': ('neuron_frac_explained',),
          'final_test_loss': ('final', 'test_loss')}
stats = {x['key']: x for x in s['stats']}
for key, path in checks.items():
    vals = [get(f, *path) for f in runs]
    assert stats[key]['values'] == vals, (key, stats[key]['values'], vals)
    got = [v for v in vals if v is not None]
    if got:
        assert abs(stats[key]['mean'] - np.mean(got)) < 1e-9 * max(1, abs(np.mean(got))), key
        if len(got) > 1: assert abs(stats[key]['sd'] - np.std(got, ddof=1)) < 1e-9 * max(1, np.std(got)), key
        assert stats[key]['min'] == min(got) and stats[key]['max'] == max(got), key
    else:
        assert stats[key]['mean'] is None, key
# The heads' lock epochs: the mean over the heads that lock, per seed.
for i, f in enumerate(runs):
    on = [h.get('specialization_onset') for h in f['heads']]
    on = [x for x in on if x is not None]
    v = stats['head_lock_mean']['values'][i]
    assert (v is None) if not on else abs(v - np.mean(on)) < 1e-9, (i, v, on)
curves = s['curves']
assert len(curves['test_loss']) == 3 and all(len(c) == len(curves['epochs']) for c in curves['test_loss'])
print('seeds: ok', len(s['stats']), 'findings')
PYEOF
set +e
msg=$("$HS" report --seeds "$WORK/seeds/modadd_1l/p7_seed1" "$WORK/seeds/modadd_1l/p7_seed4_wd0" --out "$WORK/r3" 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && echo "$msg" | grep -q "differ in more than the seed: weight_decay" || { echo "report --seeds of two recipes: rc $rc: $msg"; exit 1; }
echo "test_report: ok"
