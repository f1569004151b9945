"""Independent reference for the progress_measures summary of a tiny run.

Reads every checkpoint's safetensors with the standard library and numpy, runs
the 1-layer modular-addition forward in numpy, and recomputes the restricted
and excluded loss the way the paper's notebook does (2D Fourier directions
(cos x cos y - sin x sin y)/sqrt 2 and (sin x cos y + cos x sin y)/sqrt 2),
the Gini coefficients, participation ratios and trajectory PCA shares, then
compares with artifacts/progress_measures/summary.npz.
usage: progress_ref.py RUN_DIR SPLIT.npz (train_idx)
"""
import json, os, struct, sys
import numpy as np

run = sys.argv[1]
cfg = json.load(open(os.path.join(run, 'config.json')))
p = cfg['p']
s = np.load(os.path.join(run, 'artifacts/progress_measures/summary.npz'))
keys = [int(k) + 1 for k in np.nonzero(s['key_freq_mask'])[0]]


def load(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, v in header.items():
        if name == '__metadata__':
            continue
        a, b = v['data_offsets']
        out[name] = np.frombuffer(data[a:b], dtype=np.float32).reshape(v['shape']).astype(np.float64)
    return out


def forward(w):
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
    z = np.einsum('nhqk,nhke->nhqe', pat, v)
    x = x + np.einsum('nhqe,hed->nqd', z, w['blocks.0.attn.W_O'])
    pre = x @ w['blocks.0.mlp.W_in'] + w['blocks.0.mlp.b_in']
    x = x + np.maximum(pre, 0) @ w['blocks.0.mlp.W_out'] + w['blocks.0.mlp.b_out']
    return (x[:, -1] @ w['unembed.W_U'])[:, :p]                      # [p*p, p]


def ce(logits, idx):
    lab = (idx // p + idx % p) % p
    l = logits[idx]
    m = l.max(1, keepdims=True)
    lse = (m[:, 0] + np.log(np.exp(l - m).sum(1)))
    return float(np.mean(lse - l[np.arange(len(idx)), lab]))


# The paper's 1D basis and 2D (x+y) directions.
x = np.arange(p)
F = [np.ones(p)] + sum([[np.cos(2 * np.pi * k * x / p), np.sin(2 * np.pi * k * x / p)] for k in range(1, (p - 1) // 2 + 1)], [])
F = np.stack([f / np.linalg.norm(f) for f in F])
def term(i, j):
    return np.outer(F[i], F[j]).flatten()
def comps(logits, k):
    cos_d = (term(2 * k - 1, 2 * k - 1) - term(2 * k, 2 * k)) / np.sqrt(2)
    sin_d = (term(2 * k, 2 * k - 1) + term(2 * k - 1, 2 * k)) / np.sqrt(2)
    return np.outer(cos_d, cos_d @ logits) + np.outer(sin_d, sin_d @ logits)


def gini(v):
    v = np.sort(v)
    n = len(v)
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * v) / (n * v.sum()))


def pr(m):
    sv = np.linalg.svd(m, compute_uv=False)
    return float((sv ** 2).sum() ** 2 / (sv ** 4).sum())


# The trainer's split (torch's randperm, not recomputed here): the test writes
# its train indices beside the run.
split = np.load(sys.argv[2])['train_idx']
all_idx = np.arange(p * p)
flat = []
for i, e in enumerate(s['epochs']):
    w = load(os.path.join(run, 'checkpoints/epoch_%05d.safetensors' % e))
    L = forward(w)
    restricted = L.mean(0, keepdims=True) + sum(comps(L, k) for k in keys) if keys else np.repeat(L.mean(0, keepdims=True), p * p, 0)
    got = s['restricted_loss'][i]
    want = ce(restricted, all_idx)
    assert abs(got - want) <= 1e-4 * max(1, want), ('restricted', e, got, want)
    assert abs(s['full_loss'][i] - ce(L, all_idx)) <= 1e-4 * max(1, ce(L, all_idx)), ('full', e)
    excluded = L - sum(comps(L, k) for k in keys) if keys else L
    got = s['excluded_loss'][i]
    want = ce(excluded, split)
    assert abs(got - want) <= 1e-4 * max(1, want), ('excluded', e, got, want)
    assert abs(s['train_loss'][i] - ce(L, split)) <= 1e-4 * max(1, ce(L, split)), ('train', e)
    WE = w['embed.W_E'][:p]
    WL = w['blocks.0.mlp.W_out'] @ w['unembed.W_U'][:, :p]
    assert abs(s['gini_W_E'][i] - gini(np.linalg.norm(F @ WE, axis=1))) < 1e-4, ('gini_W_E', e)
    assert abs(s['gini_W_L'][i] - gini(np.linalg.norm(WL @ F.T, axis=0))) < 1e-4, ('gini_W_L', e)
    assert abs(s['pr_W_in'][i] - pr(w['blocks.0.mlp.W_in'])) < 1e-3 * pr(w['blocks.0.mlp.W_in']), ('pr_W_in', e)
    Q = w['blocks.0.attn.W_Q']
    assert abs(s['pr_W_Q'][i] - pr(Q.transpose(1, 0, 2).reshape(Q.shape[1], -1))) < 1e-3 * s['pr_W_Q'][i], ('pr_W_Q', e)
    flat.append(np.concatenate([w[k].flatten() for k in sorted(w)]))
X = np.stack(flat)
X = X - X.mean(0)
sv = np.linalg.svd(X, compute_uv=False)
share = sv ** 2 / (sv ** 2).sum()
assert np.allclose(s['pca_explained'], share[:3], atol=1e-4), (s['pca_explained'], share[:3])
# PCA coordinates: |coords| match U * S up to sign per component.
U, S, _ = np.linalg.svd(X, full_matrices=False)
for c in range(3):
    a, b = s['pca'][:, c], U[:, c] * S[c]
    assert np.allclose(np.abs(a), np.abs(b), rtol=1e-3, atol=1e-3 * S[0]), ('pca', c)
print('progress_ref: ok', len(s['epochs']), 'checkpoints, key frequencies', keys)
