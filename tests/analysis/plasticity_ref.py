#!/usr/bin/env python3
"""Independent numpy check of one head's attention-plasticity metrics.

Reads HEAD.npz (q [n, d], k [n, d] float32, position [n], example [n]) and
the three CSVs headscope wrote for it (DIR), recomputes the method with numpy
(written from the method's description, not from headscope's code) and
compares:
  - exactly (1e-6): q_R2_pos, q_R2_scalar, q_mae_baseline, q_mae_proj,
    q_mae_ratio, the first component's residual skewness and excess
    kurtosis and its KS p-value (asymptotic Kolmogorov series), the noise
    medians (every semantic dimension is tested when d - 1 <= 64), and the
    component R^2 and weights;
  - statistically: each bucket cell's plasticity, headscope's average over
    min(256, pairs) key pairs drawn with replacement, against the exact mean
    over every same-example pair of the key bucket (within 5 standard errors
    + 0.01).
Prints a JSON summary; exits 1 on any disagreement.

  plasticity_ref.py HEAD.npz DIR LAYER QHEAD
"""
import csv
import json
import math
import os
import sys

import numpy as np


def bucket(p):
    return 0 if p <= 1 else int(math.floor(math.log2(p)))


def fit(t, X):
    tc = t - t.mean()
    S = (tc ** 2).sum()
    beta = (tc[:, None] * X).sum(0) / S
    alpha = X.mean(0) - beta * t.mean()
    res = X - (alpha + np.outer(t, beta))
    ss_tot = ((X - X.mean(0)) ** 2).sum(0)
    r2 = np.minimum(1.0, 1.0 - (res ** 2).sum(0) / np.maximum(ss_tot, 1e-12))
    return alpha, beta, r2


def moments(x):
    n = len(x)
    z = (x - x.mean()) / x.std(ddof=1)
    m2, m3, m4 = (z ** 2).mean(), (z ** 3).mean(), (z ** 4).mean()
    g1, g2 = m3 / m2 ** 1.5, m4 / m2 ** 2 - 3
    skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)
    kurt = ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3))
    zs = np.sort(z)
    F = 0.5 * (1 + np.vectorize(math.erf)(zs / math.sqrt(2)))
    i = np.arange(1, n + 1)
    D = max((i / n - F).max(), (F - (i - 1) / n).max())
    lam = math.sqrt(n) * D
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 200))
    return skew, kurt, min(max(p, 0.0), 1.0)


def phi(z):
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def main():
    z = np.load(sys.argv[1])
    d_dir, layer, qh = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    Q, K = z["q"].astype(np.float64), z["k"].astype(np.float64)
    pos, ex = z["position"].astype(np.float64), z["example"]
    n, d = Q.shape
    bk = np.array([bucket(int(p)) for p in pos])
    # orientation from the keys' bucket means
    means = np.array([K[bk == b].mean(0) for b in sorted(set(bk))])
    o = np.where(means.mean(0) < 0, -1.0, 1.0)
    Q, K = Q * o, K * o
    alpha, beta, r2 = fit(pos, Q)
    y = np.log2(pos + 1)
    u = beta / np.linalg.norm(beta)
    s = Q @ u
    b = ((s - s.mean()) * y).sum() / ((s - s.mean()) ** 2).sum()
    yhat = y.mean() + b * (s - s.mean())
    mae_b, mae_p = np.abs(y - y.mean()).mean(), np.abs(y - yhat).mean()
    r2_scalar = 1 - ((y - yhat) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    v = u.copy()
    v[0] -= 1
    v /= np.linalg.norm(v)
    H = np.eye(d) - 2 * np.outer(v, v)
    Qr, Kr = Q @ H, K @ H
    a_r, b_r, _ = fit(pos, Qr)
    R = Qr - (a_r + np.outer(pos, b_r))
    sigma2 = R[:, 0].var(ddof=1)
    sk0, ku0, p0 = moments(R[:, 0])
    noise = [moments(Qr[:, j]) for j in range(1, d)]
    r2c = np.maximum(r2, 0)
    weights = r2c / r2c.sum()

    rows = {r["layer"] + "," + r["q_head"]: r for r in csv.DictReader(open(os.path.join(d_dir, "head_metrics.csv")))}
    row = rows["%d,%d" % (layer, qh)]
    mine = {"q_R2_pos": r2.mean(), "q_R2_scalar": r2_scalar, "q_mae_baseline": mae_b, "q_mae_proj": mae_p,
            "q_mae_ratio": mae_p / mae_b, "q_resid0_skew": sk0, "q_resid0_kurt": ku0,
            "q_noise_med_abs_skew": np.median([abs(m[0]) for m in noise]),
            "q_noise_med_abs_kurt": np.median([abs(m[1]) for m in noise]),
            "q_noise_med_ks_p": np.median([m[2] for m in noise])}
    bad = []
    for key, want in mine.items():
        got = float(row[key])
        if abs(got - want) > 1e-6 * max(1.0, abs(want)):
            bad.append("%s: headscope %.9g, numpy %.9g" % (key, got, want))
    got_p0 = float(row["q_resid0_ks_p"])
    if not (abs(got_p0 - p0) <= 1e-6 + 1e-3 * p0):
        bad.append("q_resid0_ks_p: headscope %.6g, numpy %.6g" % (got_p0, p0))
    comp = [r for r in csv.DictReader(open(os.path.join(d_dir, "head_component_weights.csv")))
            if int(r["layer"]) == layer and int(r["q_head"]) == qh]
    for j, r in enumerate(comp):
        if abs(float(r["component_r2"]) - r2[j]) > 1e-6 or abs(float(r["weight"]) - weights[j]) > 1e-6:
            bad.append("component %d: headscope %s/%s, numpy %.6g/%.6g" % (j, r["component_r2"], r["weight"], r2[j],
                                                                           weights[j]))
    # Plasticity: the exact mean over every same-example pair per cell.
    bq = bk
    cells = [r for r in csv.DictReader(open(os.path.join(d_dir, "head_bucket_plasticity.csv")))
             if int(r["layer"]) == layer and int(r["q_head"]) == qh]
    worst = 0.0
    checked = 0
    for r in cells:
        j, kb = int(r["q_bucket"]), int(r["k_bucket"])
        if r["plasticity"] == "":
            continue
        rows_j = np.where(bq == j)[0]
        tau = pos[rows_j].mean()
        S = Qr[rows_j, 1:]
        mu = S.mean(0)
        Sig = np.cov(S, rowvar=False, ddof=1) + 1e-12 * np.eye(d - 1)
        vals = []
        keys = np.where(bk == kb)[0]
        for e in set(ex[keys]):
            idx = keys[ex[keys] == e]
            for a in range(len(idx)):
                for c in range(a + 1, len(idx)):
                    dk = Kr[idx[a]] - Kr[idx[c]]
                    if not dk.any():
                        continue
                    m = dk[0] * (a_r[0] + b_r[0] * tau) + dk[1:] @ mu
                    var = max(dk[0] ** 2 * sigma2 + dk[1:] @ Sig @ dk[1:], 1e-12)
                    p = phi(m / math.sqrt(var))
                    vals.append(4 * p * (1 - p))
        vals = np.array(vals)
        got = float(r["plasticity"])
        # headscope draws n_pairs pairs with replacement (as the original): its standard error.
        se = vals.std() / math.sqrt(max(1, int(r["n_pairs"])))
        diff = abs(got - vals.mean())
        worst = max(worst, diff)
        checked += 1
        if diff > 5 * se + 0.01:
            bad.append("cell (%d, %d): headscope %.4f, exact mean over %d pairs %.4f (se %.4f)" % (
                j, kb, got, len(vals), vals.mean(), se))
    # The set of cells: every query bucket j > 0 with >= 2 queries against
    # every earlier key bucket; empty (NaN) exactly when no example has two
    # keys there. And ap_overall: the finite cells weighted by their query
    # bucket's size.
    want_cells = {}
    for j in sorted(set(bq)):
        if j <= 0 or (bq == j).sum() < 2:
            continue
        for kb in sorted(set(bk)):
            if kb < j:
                keys = np.where(bk == kb)[0]
                has_pair = any((ex[keys] == e).sum() >= 2 for e in set(ex[keys]))
                want_cells[(j, kb)] = has_pair
    got_cells = {(int(r["q_bucket"]), int(r["k_bucket"])): r["plasticity"] != "" for r in cells}
    if got_cells != want_cells:
        bad.append("cells %s, expected %s" % (sorted(got_cells.items()), sorted(want_cells.items())))
    num = sum((bq == int(r["q_bucket"])).sum() * float(r["plasticity"]) for r in cells if r["plasticity"] != "")
    den = sum((bq == int(r["q_bucket"])).sum() for r in cells if r["plasticity"] != "")
    if abs(num / den - float(row["ap_overall"])) > 1e-9:
        bad.append("ap_overall %s, the cells weighted by query bucket size give %.12g" % (row["ap_overall"], num / den))
    frac = np.mean([m[2] < 0.01 for m in noise])
    if abs(frac - float(row["q_noise_frac_ks_p_lt_alpha"])) > 1e-12:
        bad.append("q_noise_frac_ks_p_lt_alpha %s, numpy %.6g" % (row["q_noise_frac_ks_p_lt_alpha"], frac))
    if len(comp) != d:
        bad.append("%d component rows, expected %d" % (len(comp), d))
    print(json.dumps({"metrics_checked": len(mine) + 1, "components": len(comp), "cells_checked": checked,
                      "worst_cell_diff": worst, "problems": bad}))
    sys.exit(1 if bad or checked == 0 else 0)


if __name__ == "__main__":
    main()
