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


WEIGHT_THRESHOLDS = {"copying": (0.5, 0.3), "copy_suppression": (0.5, 0.3), "successor": (0.5, 0.3)}
ORDINAL = {"digits 0-9": "0123456789", "letters a-z": "abcdefghijklmnopqrstuvwxyz",
           "letters A-Z": "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def weight_roles(sd, cfg, p, k, ordinal_sets):
    """Copying, copy suppression and successor of every head of a byte-level
    GPT-2 (BOS 256), from the weights: the full OV circuit of the embedding
    after MLP 0, through ln_1's shape (centred, unit RMS, times its weight),
    W_V W_O, the final norm's shape without its scale, and W_U."""
    d, n = cfg["n_embd"], cfg["n_head"]
    e, eps, V = d // n, cfg["layer_norm_epsilon"], cfg["vocab_size"]
    S = [t for t in range(V) if t != 256]
    sets = [[ord(c) for c in ORDINAL[name]] for name in ordinal_sets]
    ids = S + [t for s in sets for t in s]
    wte = sd[p + "wte.weight"]
    WU = (sd["lm_head.weight"] if "lm_head.weight" in sd else wte).T
    E = wte[ids]
    L0 = "%sh.0." % p
    x = R.layer_norm(E, sd[L0 + "ln_2.weight"], sd[L0 + "ln_2.bias"], eps)
    E = E + R.act(cfg["activation_function"], x @ sd[L0 + "mlp.c_fc.weight"] + sd[L0 + "mlp.c_fc.bias"]) @ \
        sd[L0 + "mlp.c_proj.weight"] + sd[L0 + "mlp.c_proj.bias"]
    U = WU[:, ids]
    nS = len(S)
    out = {key: np.zeros((cfg["n_layer"], n)) for key in ("copying", "copy_suppression", "successor")}
    for l in range(cfg["n_layer"]):
        L = "%sh.%d." % (p, l)
        y = E - E.mean(-1, keepdim=True)
        y = y / torch.sqrt((y * y).mean(-1, keepdim=True) + eps) * sd[L + "ln_1.weight"]
        for h in range(n):
            W_V = sd[L + "attn.c_attn.weight"][:, 2 * d + h * e:2 * d + (h + 1) * e]
            W_O = sd[L + "attn.c_proj.weight"][h * e:(h + 1) * e, :]
            o = y @ W_V @ W_O
            o = (o - o.mean(-1, keepdim=True)) * sd[p + "ln_f.weight"]
            rows = (o[:nS] @ U[:, :nS]).numpy()
            diag = np.diag(rows)[:, None]
            out["copying"][l, h] = np.mean((rows >= diag).sum(1) - 1 < k)
            out["copy_suppression"][l, h] = np.mean((rows <= diag).sum(1) - 1 < k)
            at, hits, items = nS, 0, 0
            for s in sets:
                r = (o[at:at + len(s)] @ U[:, at:at + len(s)]).numpy()
                hits += sum(int(np.argmax(r[i]) == i + 1) for i in range(len(s) - 1))
                items += len(s) - 1
                at += len(s)
            out["successor"][l, h] = hits / max(items, 1)
    return out


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
    worst, bad, weights_worst = 0.0, [], {}
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
    # The roles read from the weights, in float64 (ranks may differ from
    # headscope's float32 on near ties: a share may move by a token or two).
    if "weight_roles" in entry:
        w = entry["weight_roles"]
        mine = weight_roles(R.f64(sd), cfg, prefix, w["k"], w["ordinal_sets"])
        for k2, v in mine.items():
            theirs = np.array(entry["all_scores"][k2])
            diff = float(np.abs(v - theirs).max())
            if diff > 0.02:
                bad.append("%s: all_scores differ from the numpy OV circuit by %.2g" % (k2, diff))
            weights_worst[k2] = diff
        for k2 in mine:
            THRESHOLDS[k2] = WEIGHT_THRESHOLDS[k2]
            want = top_heads(entry["all_scores"][k2], *WEIGHT_THRESHOLDS[k2])
            got = [(x["layer"], x["head"]) for x in entry["categories"][k2]["top_heads"]]
            if want != got:
                bad.append("%s: top_heads %s, the rule gives %s" % (k2, got, want))
    else:
        bad.append("no weight_roles: the file predates the roles read from the weights")
    classified = set()
    for k in THRESHOLDS:
        classified |= {(x["layer"], x["head"]) for x in entry["categories"][k]["top_heads"]}
    other = [(x["layer"], x["head"]) for x in entry["categories"]["other"]["top_heads"]]
    want_other = [(l, h) for l in range(n_layers) for h in range(n_heads) if (l, h) not in classified]
    if other != want_other:
        bad.append("other: %s, expected %s" % (other, want_other))
    print(json.dumps({"max_abs_diff": worst, "weight_roles_max_diff": weights_worst, "sentences": len(sentences),
                      "roles": sorted(sums), "problems": bad}))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
