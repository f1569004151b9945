#!/usr/bin/env python3
"""Checks `headscope ablate --json` on a GPT-2-layout folder (the demo LM)
against the float64 forward of hf_reference.py (written from transformers'
modeling_gpt2.py) with the same heads' z (the output before c_proj) zeroed.

  ablate_check.py HEADSCOPE DIR

Runs a prompt with repetition, for single heads and a pair; prints JSON with
the worst per-token difference in nats, clean and ablated, and exits 1 if it
exceeds 1e-4 or if no ablation changes the loss.
"""
import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_lm_check as D  # noqa: E402
import hf_reference as R  # noqa: E402


def main():
    headscope, d = sys.argv[1], sys.argv[2]
    cfg = json.load(open(os.path.join(d, "config.json")))
    sd = D.read_safetensors(os.path.join(d, "model.safetensors"))
    prefix = "transformer." if "transformer.wte.weight" in sd else ""
    text = "The cat sat on the mat. The cat sat on the mat."
    ids = [256] + list(text.encode())  # the demo LM's byte tokenizer with its BOS
    worst, changed, out = 0.0, 0.0, {}
    for heads in ([(1, 1)], [(0, 1)], [(0, 1), (1, 1)]):
        arg = ",".join("%d.%d" % h for h in heads)
        got = json.loads(subprocess.run([headscope, "ablate", d, "--tokens", ",".join(map(str, ids)), "--heads", arg,
                                         "--json"], check=True, capture_output=True).stdout)
        t = torch.tensor([ids])
        for key, zero in (("loss_clean", ()), ("loss_ablated", heads)):
            logits = R.gpt2_forward(sd, cfg, t, prefix, zero_heads=zero)["logits"][0]
            logp = torch.log_softmax(logits, -1)
            ref = [-logp[i, ids[i + 1]].item() for i in range(len(ids) - 1)]
            diff = max(abs(a - b) for a, b in zip(got[key], ref))
            worst = max(worst, diff)
        rise = sum(got["loss_ablated"]) / len(ids[1:]) - sum(got["loss_clean"]) / len(ids[1:])
        changed = max(changed, abs(rise))
        out[arg] = {"mean_loss_rise_nats": rise, "got_tokens": got["tokens"] == ids, "heads": got["heads"]}
    print(json.dumps({"max_abs_diff_nats": worst, "ablations": out}))
    ok = worst <= 1e-4 and changed > 1e-3 and all(v["got_tokens"] for v in out.values())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
