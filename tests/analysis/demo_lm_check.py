#!/usr/bin/env python3
"""Independent check of a demo-LM folder (Hugging Face GPT-2 layout, byte
vocabulary, BOS = 256), with the float64 GPT-2 forward of hf_reference.py
(written from transformers' modeling_gpt2.py, not headscope's code).

On held-out [BOS, r, r] sequences of random bytes (len(r) = 40, a seed the
trainer never uses) it measures, per head, the mean attention of the
second-copy rows on the token after the earlier occurrence (induction) and
of every row on the previous token, and the loss predicting r the first
time and the second time. Prints JSON.

  demo_lm_check.py DIR [--require-circuits] [--tokens-out F.npy --logits-out F.npy]

--require-circuits exits 1 unless some head has induction >= 0.5, some head
has previous-token >= 0.5 and the second-copy loss is below a quarter of the
first-copy loss (the issue's acceptance figures).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference as R  # noqa: E402

L, N = 40, 16


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base, out = 8 + n, {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        s, e = v["data_offsets"]
        dt = {"F32": np.float32, "F16": np.float16}[v["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[base + s:base + e], dtype=dt).reshape(v["shape"]).astype(np.float64))
    return out


def main():
    d = sys.argv[1]
    cfg = json.load(open(os.path.join(d, "config.json")))
    assert cfg["model_type"] == "gpt2", cfg["model_type"]
    sd = read_safetensors(os.path.join(d, "model.safetensors"))
    prefix = "transformer." if "transformer.wte.weight" in sd else ""
    rng = np.random.default_rng(20261127)
    r = rng.integers(0, 256, size=(N, L))
    ids = torch.tensor(np.concatenate([np.full((N, 1), 256), r, r], axis=1))
    ref = R.gpt2_forward(sd, cfg, ids, prefix)
    logp = torch.log_softmax(ref["logits"], -1)
    tgt = ids[:, 1:]
    nll = -logp[:, :-1].gather(-1, tgt.unsqueeze(-1)).squeeze(-1)  # [N, 2L]: position i predicts i+1
    first = nll[:, 1:L].mean().item()             # positions 1..L-1 predict r[1:]
    second = nll[:, L + 1:2 * L].mean().item()    # positions L+1..2L-1 predict the second copy's r[1:]
    heads = []
    for layer in range(cfg["n_layer"]):
        p = ref["pattern_%d" % layer].mean(0)  # [H, Q, K]
        for h in range(p.shape[0]):
            ind = np.mean([p[h, i, i - L + 1].item() for i in range(L + 1, 2 * L + 1)])
            prev = np.mean([p[h, i, i - 1].item() for i in range(1, 2 * L + 1)])
            heads.append({"layer": layer, "head": h, "induction": ind, "previous_token": prev})
    best_ind = max(heads, key=lambda x: x["induction"])
    best_prev = max(heads, key=lambda x: x["previous_token"])
    out = {"loss_first_copy": first, "loss_second_copy": second, "induction": best_ind,
           "previous_token": best_prev, "heads": heads}
    print(json.dumps(out))
    if "--require-circuits" in sys.argv:
        ok = best_ind["induction"] >= 0.5 and best_prev["previous_token"] >= 0.5 and second < 0.25 * first
        if not ok:
            print("demo LM lacks its circuits: induction %.2f, previous-token %.2f, copy loss %.2f -> %.2f"
                  % (best_ind["induction"], best_prev["previous_token"], first, second), file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
