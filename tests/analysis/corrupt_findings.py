#!/usr/bin/env python3
"""Corruption driver for the files the findings, progress and variants panels
and `headscope report` read: RUN/summary.json and
artifacts/progress_measures/summary.npz (truncations, byte flips, wrong
types), run through `headscope shot --panel findings|progress|compare_runs`
under Xvfb. Every run must either draw (exit 0) or exit 1 with a line naming
the broken file; a signal, a sanitizer report or "terminate called" is a
failure. Not part of CTest: run it when these readers change, ideally with an
ASan build (ASAN_OPTIONS=detect_leaks=0 is set here: Mesa's allocations).

Usage: corrupt_findings.py HEADSCOPE WORK [--cases N]
"""
import os, random, re, shutil, subprocess, sys

hs, work = sys.argv[1], sys.argv[2]
n_cases = int(sys.argv[sys.argv.index('--cases') + 1]) if '--cases' in sys.argv else 40
BAD = re.compile(r"Sanitizer|runtime error:|terminate called|Segmentation fault|Aborted|core dumped|what\(\):")
env = dict(os.environ, ASAN_OPTIONS='detect_leaks=0', UBSAN_OPTIONS='print_stacktrace=1')
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
tiny = ['--p', '13', '--d-model', '32', '--n-heads', '2', '--d-head', '8', '--d-mlp', '40', '--train-frac', '0.5',
        '--lr', '3e-3', '--epochs', '90', '--checkpoints', '0:30', '--out', os.path.join(work, 'runs'), '--quiet']
subprocess.run([hs, 'train'] + tiny, check=True, env=env)
subprocess.run([hs, 'train'] + tiny + ['--weight-decay', '0'], check=True, env=env)
runs = sorted(os.path.join(work, 'runs/modadd_1l', d) for d in os.listdir(os.path.join(work, 'runs/modadd_1l'))
              if os.path.isdir(os.path.join(work, 'runs/modadd_1l', d)))
for r in runs:
    subprocess.run([hs, 'analyze', r, '--quiet'], check=True, env=env)
run, other = runs
files = {'summary.json': os.path.join(run, 'summary.json'),
         'progress': os.path.join(run, 'artifacts/progress_measures/summary.npz')}
good = {k: open(p, 'rb').read() for k, p in files.items()}
rng = random.Random(7)


def variants(name, data):
    out = [('empty', b''), ('truncated_half', data[:len(data) // 2]), ('truncated_1', data[:1]),
           ('truncated_last', data[:-1])]
    for i in range(n_cases // 4):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        out.append(('flip%d' % i, bytes(b)))
    for i in range(n_cases // 8):
        out.append(('trunc%d' % i, data[:rng.randrange(len(data))]))
    if name == 'summary.json':
        for i, s in enumerate([b'{"run": 1}', b'{"run":"x","heads":{"a":1}}', b'{"run":"x","phases":{"cleanup":[1]}}',
                               b'{"run":"x","heads":[{"coarseness":[1,2]}]}', b'{"run":"x","final":{"test_acc":"1"}}',
                               b'{"run":"x","key_frequencies":{"a":1}}', b'{"run":"x","neurons_per_frequency":[1]}',
                               b'{"run":"x","progress_measures":{"pca_explained":"abc"}}', b'[' * 100000]):
            out.append(('types%d' % i, s))
    return out


failures, count = [], 0
for name, path in files.items():
    for vname, content in variants(name, good[name]):
        open(path, 'wb').write(content)
        for panel in ('findings', 'progress', 'compare_runs'):
            count += 1
            cmd = ['xvfb-run', '-a', hs, 'shot', '--run', run, '--epoch', '90', '--panel', panel, '--compare', other,
                   '--out', os.path.join(work, 'x.png'), '--width', '900', '--height', '600']
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, errors='replace', timeout=120, env=env)
            except subprocess.TimeoutExpired:
                failures.append('%s/%s/%s: hang' % (name, vname, panel))
                continue
            err = p.stderr
            tag = '%s/%s/%s' % (name, vname, panel)
            if BAD.search(err) or p.returncode not in (0, 1):
                failures.append('%s: exit %d: %s' % (tag, p.returncode, err[-400:]))
            elif p.returncode == 1 and os.path.basename(path) not in err and 'summary' not in err:
                failures.append('%s: exit 1 without naming the file: %s' % (tag, err[-300:]))
    open(path, 'wb').write(good[name])
print('corrupt_findings: %d runs, %d failures' % (count, len(failures)))
for f in failures:
    print('FAIL', f)
sys.exit(1 if failures else 0)
