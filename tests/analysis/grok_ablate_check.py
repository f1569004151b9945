#!/usr/bin/env python3
"""Checks `headscope ablate RUN --epoch E ... --json` on a grokking run against
a forward written here from scratch (numpy, float64) with the same
interventions:

  heads    z (the head's output before W_O, every position) set to zero;
  neurons  the MLP's post-ReLU activation set to zero;
  freqs    at the last position, each neuron's activations over the p*p pairs
           lose their components along the paper's 2D Fourier terms
           (cos a cos b - sin a sin b)/sqrt2 and (sin a cos b + cos a sin b)/sqrt2
           of frequency k (= unit cos/sin(w_k(a+b))).

The train/test split is torch.randperm(p*p) seeded with data_seed, as in the
TransformerLens grokking demo; the clean train and test loss are also checked
against the trainer's own metrics.csv at the checkpoint epochs, which checks
the split and the forward independently of headscope's ablation code.
Then the errors: an epoch without a checkpoint (names the nearest ones), a
head, neuron or frequency out of range, a folder that is not a run.

  grok_ablate_check.py HEADSCOPE RUN_DIR

Prints JSON with the worst differences; exits 1 on any failure.
"""
import csv
import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch

TOL = 1e-4


def load(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, v in header.items():
        if name == '__metadata__':
            continue
        assert v['dtype'] == 'F32', (name, v['dtype'])
        a, b = v['data_offsets']
        out[name] = np.frombuffer(data[a:b], dtype='<f4').reshape(v['shape']).astype(np.float64)
    return out


def fourier_terms(p):
    x = np.arange(p)
    F = [np.ones(p)] + sum([[np.cos(2 * np.pi * k * x / p), np.sin(2 * np.pi * k * x / p)]
                            for k in range(1, (p - 1) // 2 + 1)], [])
    F = np.stack([f / np.linalg.norm(f) for f in F])

    def term(i, j):
        return np.outer(F[i], F[j]).flatten()  # over (a, b), row a*p + b

    def dirs(k):
        cos_d = (term(2 * k - 1, 2 * k - 1) - term(2 * k, 2 * k)) / np.sqrt(2)
        sin_d = (term(2 * k, 2 * k - 1) + term(2 * k - 1, 2 * k)) / np.sqrt(2)
        return cos_d, sin_d
    return dirs


def forward(w, p, heads=(), neurons=(), freqs=()):
    a = np.repeat(np.arange(p), p)
    b = np.tile(np.arange(p), p)
    toks = np.stack([a, b, np.full_like(a, p)], 1)
    x = w['embed.W_E'][toks] + w['pos_embed.W_pos'][None]          # [n, 3, d]
    q = np.einsum('npd,hde->nhpe', x, w['blocks.0.attn.W_Q'])
    k = np.einsum('npd,hde->nhpe', x, w['blocks.0.attn.W_K'])
    v = np.einsum('npd,hde->nhpe', x, w['blocks.0.attn.W_V'])
    sc = np.einsum('nhqe,nhke->nhqk', q, k) / np.sqrt(q.shape[-1])
    sc = np.where(np.tril(np.ones((3, 3), bool)), sc, -np.inf)
    sc = np.exp(sc - sc.max(-1, keepdims=True))
    pat = sc / sc.sum(-1, keepdims=True)
    z = np.einsum('nhqk,nhke->nhqe', pat, v)                        # hook_z
    z[:, list(heads)] = 0
    x = x + np.einsum('nhqe,hed->nqd', z, w['blocks.0.attn.W_O'])
    pre = x @ w['blocks.0.mlp.W_in'] + w['blocks.0.mlp.b_in']
    post = np.maximum(pre, 0)                                       # hook_post
    post[:, :, list(neurons)] = 0
    dirs = fourier_terms(p)
    last = post[:, -1]
    for f in freqs:
        for d in dirs(f):
            last = last - np.outer(d, d @ last)
    post[:, -1] = last
    x = x + post @ w['blocks.0.mlp.W_out'] + w['blocks.0.mlp.b_out']
    return x[:, -1] @ w['unembed.W_U']                               # [p*p, d_vocab_out]


def scores(logits, p, train, test):
    labels = (np.arange(p * p) // p + np.arange(p * p) % p) % p
    m = logits.max(1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(1))
    loss = lse - logits[np.arange(p * p), labels]
    right = (logits.argmax(1) == labels).astype(np.float64)
    return {'train_loss': loss[train].mean(), 'test_loss': loss[test].mean(),
            'train_acc': right[train].mean(), 'test_acc': right[test].mean()}


def main():
    headscope, run = sys.argv[1], sys.argv[2]
    cfg = json.load(open(os.path.join(run, 'config.json')))
    fam_path = os.path.join(os.path.dirname(run), 'family.json')  # written by the first command that views the run
    if os.path.exists(fam_path):
        assert json.load(open(fam_path))['positions'] == ['a', 'b', '='], fam_path
    p = cfg['p']
    g = torch.Generator()
    g.manual_seed(cfg['data_seed'])
    perm = torch.randperm(p * p, generator=g).numpy()
    cut = int(cfg['train_frac'] * p * p)
    train, test = perm[:cut], perm[cut:]
    epochs = sorted(int(f[6:11]) for f in os.listdir(os.path.join(run, 'checkpoints')) if f.endswith('.safetensors'))
    metrics = {int(r['epoch']): r for r in csv.DictReader(open(os.path.join(run, 'metrics.csv')))}
    n_heads, d_mlp, n_freq = cfg['model']['n_heads'], cfg['model']['d_mlp'], (p - 1) // 2
    last, mid = epochs[-1], epochs[len(epochs) // 2]
    cases = [
        (last, [0], [], []),
        (last, [1, 3], [], []),
        (last, list(range(n_heads)), [], []),
        (last, [], [5, 17, d_mlp - 1], []),
        (last, [], [], [1, n_freq]),
        (last, [], [], list(range(1, n_freq + 1))),
        (mid, [2], [3], [4, 9]),
        (epochs[0], [0], [], [2]),
    ]
    worst = {'ablated': 0.0, 'clean': 0.0, 'metrics': 0.0}
    rises, failures, weights = [], [], {}
    for epoch, heads, neurons, freqs in cases:
        cmd = [headscope, 'ablate', run, '--epoch', str(epoch), '--json']
        for flag, vals in (('--heads', heads), ('--neurons', neurons), ('--freqs', freqs)):
            if vals:
                cmd += [flag, ','.join(map(str, vals))]
        got = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        if got['epoch'] != epoch or got['heads'] != heads or got['neurons'] != sorted(neurons) or got['freqs'] != freqs:
            failures.append(('echo', cmd, got))
        if epoch not in weights:
            weights[epoch] = load(os.path.join(run, 'checkpoints', 'epoch_%05d.safetensors' % epoch))
        w = weights[epoch]
        want_clean = scores(forward(w, p), p, train, test)
        want = scores(forward(w, p, heads, neurons, freqs), p, train, test)
        for part, ref in (('clean', want_clean), ('ablated', want)):
            for key, val in ref.items():
                d = abs(got[part][key] - val)
                worst[part] = max(worst[part], d)
                if d > TOL:
                    failures.append((part, key, epoch, heads, neurons, freqs, got[part][key], val))
        # The trainer's metrics at this checkpoint (the split and the forward, independently).
        row = metrics[epoch]
        assert int(row['test_epoch']) == epoch, row
        for key in ('train_loss', 'test_loss', 'train_acc', 'test_acc'):
            d = abs(float(row[key]) - want_clean[key]) / max(1.0, abs(want_clean[key]))
            worst['metrics'] = max(worst['metrics'], d)
            if d > TOL:
                failures.append(('metrics.csv', key, epoch, float(row[key]), want_clean[key]))
        rises.append({'epoch': epoch, 'heads': heads, 'neurons': neurons, 'freqs': freqs,
                      'test_acc': [round(want_clean['test_acc'], 4), round(want['test_acc'], 4)],
                      'test_loss': [round(want_clean['test_loss'], 4), round(want['test_loss'], 4)]})
    if max(abs(r['test_loss'][1] - r['test_loss'][0]) for r in rises) < 0.01:
        failures.append(('no ablation changed the test loss: the check has no teeth',))

    # Errors, in words, with a non-zero exit.
    empty = os.path.join(os.path.dirname(os.path.dirname(run)), 'not_a_run')
    os.makedirs(empty, exist_ok=True)
    gap = next(e for e in range(epochs[0], epochs[-1]) if e not in epochs)
    before = max(e for e in epochs if e < gap)
    after = min(e for e in epochs if e > gap)
    errors = [
        (['--epoch', str(gap), '--heads', '0'], ['no checkpoint at epoch %d' % gap, '%d and %d' % (before, after)]),
        (['--epoch', str(last), '--heads', str(n_heads)], ['head %d is out of range' % n_heads, '0-%d' % (n_heads - 1)]),
        (['--epoch', str(last), '--neurons', str(d_mlp)], ['neuron %d is out of range' % d_mlp]),
        (['--epoch', str(last), '--freqs', str(n_freq + 1)], ['frequency %d is out of range' % (n_freq + 1), '1-%d' % n_freq]),
    ]
    for args, needles in errors:
        r = subprocess.run([headscope, 'ablate', run] + args, capture_output=True, text=True)
        if r.returncode == 0 or not all(n in r.stderr for n in needles):
            failures.append(('error', args, r.returncode, r.stderr))
    r = subprocess.run([headscope, 'ablate', empty, '--epoch', '0', '--heads', '0'], capture_output=True, text=True)
    if r.returncode == 0 or 'not' not in r.stderr:
        failures.append(('not a run', r.returncode, r.stderr))
    # The text table.
    r = subprocess.run([headscope, 'ablate', run, '--epoch', str(last), '--heads', '0'], capture_output=True, text=True)
    if r.returncode != 0 or not all(s in r.stdout for s in ('clean', 'ablated', 'test acc', 'hook_z')):
        failures.append(('text', r.returncode, r.stdout, r.stderr))

    print(json.dumps({'max_abs_diff': worst, 'tolerance': TOL, 'cases': rises, 'failures': failures},
                     default=str))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
