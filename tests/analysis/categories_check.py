#!/usr/bin/env python3
"""Independent check of a demo-LM folder's head_categories.json.

Recomputes, with the float64 GPT-2 forward of hf_reference.py and the numpy
detectors of head_detector_ref.py (neither is headscope's code), the
previous-token, first-token and diffuse scores of every head, averaged over
the natural sentences (each encoded as BOS 256 + its UTF-8 bytes, as the byte
tokenizer does), and compares them with the file's all_scores. Then applies
the top-head rule of seed 002 (threshold, best head of every other layer above
the lower threshold, at most 8, best first) to the file's all_scores and
compares with its top_heads, for every category. Prints the largest score
difference; exits 1 on any disagreement.

  categories_check.py DIR SENTENCES_FILE [REPEATED_JSON]

REPEATED_JSON (a list of token-id lists: the random repeated sequences
headscope used, which numpy cannot regenerate from the seed) adds the
induction and duplicate-token scores to the comparison.
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import demo_lm_check as D  # noqa: E402
import head_detector_ref as ref  # noqa: E402
import hf_reference as R  # noqa: E402

# display name -> (threshold, lower threshold for layer diversity); the
# values headscope documents in library/head_roles.cpp.
THRESHOLDS = {"previous_token": (0.4, 0.25), "induction": (0.4, 0.25), "duplicate_token": (0.4, 0.25),
              "first_token": (0.5, 0.35), "diffuse": (0.75, 0.65)}


def top_heads(scores, threshold, lower, cap=8):
    picked = [(s, l, h) for l, row in enumerate(scores) for h, s in enumerate(row) if s >= threshold]
    layers = {l for _, l, _ in picked}
    for l, row in enumerate(scores):
        if l not in layers and max(row) >= lower:
            picked.append((max(row), l, int(np.argmax(row))))
    picked.sort(key=lambda x: -x[0])  # stable: ties keep layer/head order... as headscope's stable sort
    return [(l, h) for _, l, h in picked[:cap]]


def main():
    d, sentences_file = sys.argv[1], sys.argv[2]
    entry = next(iter(json.load(open(os.path.join(d, "head_categories.json"))).values()))
    cfg = json.load(open(os.path.join(d, "config.json")))
    sd = D.read_safetensors(os.path.join(d, "model.safetensors"))
    prefix = "transformer." if "transformer.wte.weight" in sd else ""
    sentences = [s for s in open(sentences_file, encoding="utf-8").read().split("\n")
                 if s.strip() and not s.startswith("#")]
    n_layers, n_heads = cfg["n_layer"], cfg["n_head"]
    sums = {k: np.zeros((n_layers, n_heads)) for k in ("previous_token", "first_token", "diffuse")}
    for s in sentences:
        ids = [256] + list(s.encode("utf-8"))
        out = R.gpt2_forward(sd, cfg, torch.tensor([ids]), prefix)
        for layer in range(n_layers):
            p = out["pattern_%d" % layer][0].numpy()
            for h in range(n_heads):
                a = p[h]
                sums["previous_token"][layer, h] += ref.similarity(a, ref.previous_pattern(ids), False, False, "mul")
                sums["first_token"][layer, h] += ref.first_token(a)
                sums["diffuse"][layer, h] += ref.diffuse(a)
    if len(sys.argv) > 3:
        seqs = json.load(open(sys.argv[3]))
        for k in ("induction", "duplicate_token"):
            sums[k] = np.zeros((n_layers, n_heads))
        for ids in seqs:
            out = R.gpt2_forward(sd, cfg, torch.tensor([ids]), prefix)
            for layer in range(n_layers):
                p = out["pattern_%d" % layer][0].numpy()
                for h in range(n_heads):
                    sums["induction"][layer, h] += ref.similarity(p[h], ref.induction_pattern(ids), False, False, "mul")
                    sums["duplicate_token"][layer, h] += ref.similarity(p[h], ref.duplicate_pattern(ids), False, False,
                                                                        "mul")
    counts = {k: (len(seqs) if k in ("induction", "duplicate_token") else len(sentences)) for k in sums}
    worst, bad = 0.0, []
    for k, v in sums.items():
        mine = v / counts[k]
        theirs = np.array(entry["all_scores"][k])
        diff = float(np.abs(mine - theirs).max())
        worst = max(worst, diff)
        if diff > 1e-4:
            bad.append("%s: all_scores differ from the independent forward by %.2g" % (k, diff))
    for k, (t, lower) in THRESHOLDS.items():
        want = top_heads(entry["all_scores"][k], t, lower)
        got = [(x["layer"], x["head"]) for x in entry["categories"][k]["top_heads"]]
        if want != got:
            bad.append("%s: top_heads %s, the rule gives %s" % (k, got, want))
    classified = set()
    for k in THRESHOLDS:
        classified |= {(x["layer"], x["head"]) for x in entry["categories"][k]["top_heads"]}
    other = [(x["layer"], x["head"]) for x in entry["categories"]["other"]["top_heads"]]
    want_other = [(l, h) for l in range(n_layers) for h in range(n_heads) if (l, h) not in classified]
    if other != want_other:
        bad.append("other: %s, expected %s" % (other, want_other))
    print(json.dumps({"max_abs_diff": worst, "sentences": len(sentences), "roles": sorted(sums), "problems": bad}))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
