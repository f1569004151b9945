#!/usr/bin/env python3
"""Independent numpy reference for analysis/library/head_detectors.

Writes random causal attention patterns, token lists and their scores to the
file named on the command line; tests/analysis/test_head_detectors.cpp reads
it, scores the same patterns in C++ and compares to 1e-6.

The previous-token, duplicate-token and induction scores follow
TransformerLens's detect_head / compute_head_attention_similarity_score
(transformer_lens/head_detector.py) written here with whole-matrix numpy
operations: detection pattern from the tokens, exclusions zero column 0 and
the diagonal of a copy (of the pattern for "mul", of |A - D| for "abs"),
"mul" = sum(A*D)/sum(A), "abs" = 1 - mean(|A - D|) * T. TL rounds "abs" to 3
decimals; headscope does not, so neither does this reference.

Output, whitespace separated: the number of cases, then per case
  T, T token ids, T*T pattern values (float32, exact), 24 scores
  (role previous/duplicate/induction x measure mul/abs x
  (exclude_bos, exclude_current_token) in (F,F) (T,F) (F,T) (T,T)),
  first-token score, diffuse score.
"""
import sys

import numpy as np


def previous_pattern(tokens):
    t = len(tokens)
    return np.tril(np.eye(t, k=-1))


def duplicate_pattern(tokens):
    tok = np.asarray(tokens)
    eq = (tok[None, :] == tok[:, None]).astype(np.float64)
    np.fill_diagonal(eq, 0)
    return np.tril(eq)


def induction_pattern(tokens):
    dup = duplicate_pattern(tokens)
    shifted = np.roll(dup, 1, axis=1)
    shifted[:, 0] = 0
    return np.tril(shifted)


def similarity(attn, det, exclude_bos, exclude_current, measure):
    a = attn.astype(np.float64).copy()
    if measure == "mul":
        if exclude_bos:
            a[:, 0] = 0
        if exclude_current:
            np.fill_diagonal(a, 0)
        total = a.sum()
        return 0.0 if total == 0 else float((a * det).sum() / total)
    err = np.abs(a - det)
    if exclude_bos:
        err[:, 0] = 0
    if exclude_current:
        np.fill_diagonal(err, 0)
    return float(1 - err.mean() * len(err))


def first_token(attn):
    return float(attn[1:, 0].astype(np.float64).mean())


def diffuse(attn):
    a = attn.astype(np.float64)
    t = len(a)
    vals = []
    for i in range(1, t):
        row = a[i, : i + 1]
        p = row[row > 0]
        vals.append(float(-(p * np.log(p)).sum() / np.log(i + 1)))
    return float(np.mean(vals))


def random_case(rng, t, vocab, sharpness):
    logits = rng.normal(size=(t, t)) * sharpness
    logits[np.triu_indices(t, 1)] = -np.inf
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    attn = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    tokens = rng.integers(0, vocab, size=t).tolist()
    return attn, tokens


def main():
    rng = np.random.default_rng(20261127)
    cases = []
    for t, vocab, sharp in [(2, 2, 1.0), (4, 3, 2.0), (6, 3, 0.5), (9, 4, 3.0), (12, 5, 1.5), (16, 6, 4.0)]:
        cases.append(random_case(rng, t, vocab, sharp))
    # Consecutive equal tokens: the induction pattern then has 1 on the diagonal.
    attn, _ = random_case(rng, 7, 2, 2.0)
    cases.append((attn, [5, 5, 1, 5, 5, 5, 2]))
    out = [str(len(cases))]
    for attn, tokens in cases:
        t = len(tokens)
        out.append(str(t))
        out.append(" ".join(str(int(x)) for x in tokens))
        out.append(" ".join("%.9g" % x for x in attn.flatten()))
        scores = []
        for pattern in (previous_pattern, duplicate_pattern, induction_pattern):
            det = pattern(tokens)
            for measure in ("mul", "abs"):
                for eb, ec in ((False, False), (True, False), (False, True), (True, True)):
                    scores.append(similarity(attn, det, eb, ec, measure))
        scores.append(first_token(attn))
        scores.append(diffuse(attn))
        out.append(" ".join("%.17g" % s for s in scores))
    with open(sys.argv[1], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
