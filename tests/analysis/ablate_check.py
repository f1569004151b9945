#!/usr/bin/env python3
"""Checks headscope's interventions on a GPT-2-layout folder (the demo LM)
against the float64 forward of hf_reference.py (written from transformers'
modeling_gpt2.py), with the same activations changed by hooks there:

  ablate_check.py HEADSCOPE DIR

- `ablate --json`: zero ablation of heads (hook_z) and neurons (hook_post),
  mean ablation (the means recomputed here from the natural sentences and
  compared with DIR's activation_means.npz first), resampling from a second
  prompt;
- `ablate --each --json`: every head's exact ablation, and attribution
  patching's per-position estimates against torch.autograd's gradient of
  the float64 loss with respect to each z, times -z;
- `patch --json`: every cell of the heads x positions and resid_pre grids;
- `dla --json`: every head's direct logit attribution at every position.

Prints JSON with the worst differences and exits 1 if any check fails.
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_lm_check as D  # noqa: E402
import hf_reference as R  # noqa: E402

TEXT = "The cat sat on the mat. The cat sat on the mat."
OTHER = "A dog ran in the big box. A dog ran in the box!"  # as many bytes as TEXT


def encode(text):
    return [256] + list(text.encode())  # the demo LM's byte tokenizer with its BOS


def losses(logits, ids):
    logp = torch.log_softmax(logits, -1)
    return [-logp[i, ids[i + 1]].item() for i in range(len(ids) - 1)]


def run_cli(headscope, *args):
    r = subprocess.run([headscope, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("headscope %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
    return json.loads(r.stdout)


def main():
    headscope, d = sys.argv[1], sys.argv[2]
    cfg = json.load(open(os.path.join(d, "config.json")))
    sd = D.read_safetensors(os.path.join(d, "model.safetensors"))
    prefix = "transformer." if "transformer.wte.weight" in sd else ""
    n_layers, n_heads, d_model = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    e = d_model // n_heads

    def fwd(ids, **hooks):
        return R.gpt2_forward(sd, cfg, torch.tensor([ids]), prefix, **hooks)["logits"][0]

    ids = encode(TEXT)
    tok_arg = ",".join(map(str, ids))
    clean_ref = losses(fwd(ids), ids)
    report, worst = {}, 0.0
    ok = True

    def compare(name, got, ref, tol=1e-4):
        nonlocal worst, ok
        diff = max(abs(a - b) for a, b in zip(got, ref))
        worst = max(worst, diff)
        report[name] = diff
        if not diff <= tol or len(got) != len(ref):
            ok = False

    # Zero ablation: heads, a pair, and neurons.
    for heads in ([(1, 1)], [(0, 1)], [(0, 1), (1, 1)]):
        arg = ",".join("%d.%d" % h for h in heads)
        got = run_cli(headscope, "ablate", d, "--tokens", tok_arg, "--heads", arg, "--json")
        ok &= got["tokens"] == ids and got["heads"] == [list(h) for h in heads] and got["mode"] == "zero"
        compare("clean", got["loss_clean"], clean_ref)
        compare("zero " + arg, got["loss_ablated"], losses(fwd(ids, zero_heads=heads), ids))
        report["zero %s mean rise" % arg] = float(np.mean(got["loss_ablated"]) - np.mean(got["loss_clean"]))

    def post_zero(neurons):
        def hook(l, m):
            m = m.clone()
            for nl, nn in neurons:
                if nl == l:
                    m[..., nn] = 0
            return m
        return hook

    got = run_cli(headscope, "ablate", d, "--tokens", tok_arg, "--neurons", "0.7,1.300", "--json")
    compare("zero neurons 0.7,1.300", got["loss_ablated"], losses(fwd(ids, post_hook=post_zero([(0, 7), (1, 300)])), ids))

    # Mean ablation: the means first, recomputed from the natural sentences.
    sentences = [s.strip() for s in open(os.path.join(os.path.dirname(d.rstrip("/")), "prompts",
                                                      "natural_sentences.txt"), encoding="utf-8")
                 if s.strip() and not s.startswith("#")]
    zsum = torch.zeros(n_layers, d_model, dtype=torch.float64)
    psum = torch.zeros(n_layers, cfg["n_inner"], dtype=torch.float64)
    count = 0
    for s in sentences:
        sid = encode(s)[:cfg["n_positions"]]

        def zcap(l, z):
            zsum[l] += z[0].sum(0)
            return z

        def pcap(l, m):
            psum[l] += m[0].sum(0)
            return m
        fwd(sid, z_hook=zcap, post_hook=pcap)
        count += len(sid)
    zmean = (zsum / count).view(n_layers, n_heads, e)
    pmean = psum / count
    npz = np.load(os.path.join(d, "activation_means.npz"))
    report["means_z_max_diff"] = float(np.abs(npz["z"] - zmean.numpy()).max())
    report["means_post_max_diff"] = float(np.abs(npz["post"] - pmean.numpy()).max())
    report["means_tokens"] = int(npz["tokens"])
    ok &= report["means_z_max_diff"] < 1e-5 and report["means_post_max_diff"] < 1e-5 and int(npz["tokens"]) == count

    def z_mean(heads):
        def hook(l, z):
            z = z.clone()
            for hl, hh in heads:
                if hl == l:
                    z[..., hh * e:(hh + 1) * e] = zmean[l, hh]
            return z
        return hook

    def post_mean(neurons):
        def hook(l, m):
            m = m.clone()
            for nl, nn in neurons:
                if nl == l:
                    m[..., nn] = pmean[l, nn]
            return m
        return hook

    got = run_cli(headscope, "ablate", d, "--tokens", tok_arg, "--heads", "1.1,0.1", "--neurons", "1.5",
                  "--mode", "mean", "--json")
    compare("mean 1.1,0.1 + neuron 1.5", got["loss_ablated"],
            losses(fwd(ids, z_hook=z_mean([(1, 1), (0, 1)]), post_hook=post_mean([(1, 5)])), ids))

    # Resampling from a second prompt of the same length.
    other = encode(OTHER)
    assert len(other) == len(ids)
    zs = {}

    def zsave(l, z):
        zs[l] = z.clone()
        return z
    fwd(other, z_hook=zsave)

    def z_resample(heads):
        def hook(l, z):
            z = z.clone()
            for hl, hh in heads:
                if hl == l:
                    z[..., hh * e:(hh + 1) * e] = zs[l][..., hh * e:(hh + 1) * e]
            return z
        return hook
    got = run_cli(headscope, "ablate", d, "--tokens", tok_arg, "--heads", "0.1,1.2", "--mode", "resample",
                  "--resample", ",".join(map(str, other)), "--json")
    compare("resample 0.1,1.2", got["loss_ablated"], losses(fwd(ids, z_hook=z_resample([(0, 1), (1, 2)])), ids))

    # Every head alone, exactly and by attribution (zero and mean).
    for mode in ("zero", "mean"):
        each = run_cli(headscope, "ablate", d, "--tokens", tok_arg, "--each", "--mode", mode, "--json")
        zgrad = {}

        def zleaf(l, z):
            z = z.detach().clone().requires_grad_(True) if l == 0 else z
            z.retain_grad()
            zgrad[l] = z
            return z
        logits = fwd(ids, z_hook=zleaf)
        logp = torch.log_softmax(logits, -1)
        loss = -sum(logp[i, ids[i + 1]] for i in range(len(ids) - 1))
        loss.backward()
        attr_worst, attr_scale = 0.0, 0.0
        for h in each["each"]:
            l, hh = h["layer"], h["head"]
            zl = zgrad[l][0, :, hh * e:(hh + 1) * e].detach()
            delta = -zl if mode == "zero" else zmean[l, hh] - zl
            ref = (zgrad[l].grad[0, :, hh * e:(hh + 1) * e] * delta).sum(-1)
            got_a = torch.tensor(h["attribution_positions"], dtype=torch.float64)
            attr_worst = max(attr_worst, (got_a - ref).abs().max().item())
            attr_scale = max(attr_scale, ref.abs().max().item())
            hook = (lambda L_, H_: (lambda l2, z: z_mean([(L_, H_)])(l2, z)))(l, hh) if mode == "mean" else None
            exact_ref = losses(fwd(ids, z_hook=hook) if hook else fwd(ids, zero_heads=[(l, hh)]), ids)
            compare("each %s L%dH%d" % (mode, l, hh), h["loss_ablated"], exact_ref)
        report["attribution_%s_max_rel_diff" % mode] = attr_worst / attr_scale
        report["spearman_%s" % mode] = each["spearman"]
        ok &= attr_worst / attr_scale < 1e-4

    # Activation patching: every cell.
    # Induction copies the object: "mat" in the clean prompt, "box" in the corrupt one.
    clean_text, corrupt_text = "The cat sat on the mat. The cat sat on the ", "The cat sat on the box. The cat sat on the "
    clean_p, corrupt_p = encode(clean_text), encode(corrupt_text)
    assert len(clean_p) == len(corrupt_p)
    answer, wrong = ord("m"), ord("b")
    got = run_cli(headscope, "patch", d, "--clean", clean_text, "--corrupt", corrupt_text, "--answer", "m",
                  "--wrong", "#%d" % wrong, "--json")

    def ld(logits):
        return (logits[-1, answer] - logits[-1, wrong]).item()
    zc, rc = {}, {}

    def save_z(l, z):
        zc[l] = z.clone()
        return z

    def save_r(l, r):
        rc[l] = r.clone()
        return r
    ld_clean = ld(fwd(clean_p, z_hook=save_z, resid_hook=save_r))
    ld_corrupt = ld(fwd(corrupt_p))
    patch_worst = max(abs(ld_clean - got["ld_clean"]), abs(ld_corrupt - got["ld_corrupt"]))
    T = len(clean_p)
    for l in range(n_layers):
        for p in range(T):
            def rhook(l2, r, l=l, p=p):
                if l2 != l:
                    return r
                r = r.clone()
                r[0, p] = rc[l][0, p]
                return r
            v = (ld(fwd(corrupt_p, resid_hook=rhook)) - ld_corrupt) / (ld_clean - ld_corrupt)
            patch_worst = max(patch_worst, abs(v - got["resid_pre"][l][p]))
            for hh in range(n_heads):
                def zhook(l2, z, l=l, p=p, hh=hh):
                    if l2 != l:
                        return z
                    z = z.clone()
                    z[0, p, hh * e:(hh + 1) * e] = zc[l][0, p, hh * e:(hh + 1) * e]
                    return z
                v = (ld(fwd(corrupt_p, z_hook=zhook)) - ld_corrupt) / (ld_clean - ld_corrupt)
                patch_worst = max(patch_worst, abs(v - got["z"][l][hh][p]))
    report["patch_max_abs_diff"] = patch_worst
    report["patch_ld_clean_corrupt"] = [ld_clean, ld_corrupt]
    report["patch_best_head"] = max(((got["z"][l][hh][p], "L%dH%d@%d" % (l, hh, p)) for l in range(n_layers)
                                     for hh in range(n_heads) for p in range(T)))
    ok &= patch_worst < 1e-4
    # Direct logit attribution: each head's z W_O through ln_f with the clean run's scale frozen
    # (centred, divided by the scale, times ln_f.weight), dotted with W_U of the next token.
    got = run_cli(headscope, "dla", d, "--tokens", tok_arg, "--json")
    zc2 = {}

    def save_z2(l, z):
        zc2[l] = z.clone()
        return z
    ref = R.gpt2_forward(sd, cfg, torch.tensor([ids]), prefix, z_hook=save_z2)
    x = ref["resid_final"][0]
    scale = torch.sqrt(x.var(-1, unbiased=False) + cfg["layer_norm_epsilon"])
    W_U = sd[prefix + "wte.weight"]
    dla_worst = 0.0
    for l in range(n_layers):
        W_O = sd["%sh.%d.attn.c_proj.weight" % (prefix, l)]
        for hh in range(n_heads):
            out = zc2[l][0, :, hh * e:(hh + 1) * e] @ W_O[hh * e:(hh + 1) * e]
            out = (out - out.mean(-1, keepdim=True)) / scale[:, None] * sd[prefix + "ln_f.weight"]
            row = got["values"][got["names"].index("L%dH%d" % (l, hh))]
            for p in range(len(ids) - 1):
                dla_worst = max(dla_worst, abs((out[p] @ W_U[ids[p + 1]]).item() - row[p]))
    sums = [sum(v[p] for v in got["values"]) for p in range(len(ids))]
    report["dla_heads_max_abs_diff"] = dla_worst
    report["dla_sum_minus_logit"] = max(abs(a - b) for a, b in zip(sums, got["logits"]))
    ok &= dla_worst < 1e-4 and report["dla_sum_minus_logit"] < 1e-4
    # The output roles verified on the prompt (heads --json): each top head's
    # rows (the earlier key it attends to most, BOS aside), its output through
    # the final norm's shape, and the rank of the attended token (or its
    # successor) among every token but BOS; the attention-weighted share in
    # the top / bottom k. Ties may move a row in float32 (not seen: 5e-7); within 1e-3.
    cats = next(iter(json.load(open(os.path.join(d, "head_categories.json"))).values()))
    k = cats["weight_roles"]["k"]
    succ = {}
    for name in cats["weight_roles"]["ordinal_sets"]:
        items = {"digits 0-9": "0123456789", "letters a-z": "abcdefghijklmnopqrstuvwxyz",
                 "letters A-Z": "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}[name]
        succ.update({ord(a): ord(b) for a, b in zip(items, items[1:])})
    S = [t for t in range(cfg["vocab_size"]) if t != 256]
    out_worst, out_checked = 0.0, 0
    for text in (TEXT, "1 2 3 4 5 6 7 8 9 a b c d e"):
        ids2 = encode(text)
        roles = run_cli(headscope, "heads", d, "--tokens", ",".join(map(str, ids2)), "--json")
        zc3 = {}

        def save_z3(l, z):
            zc3[l] = z.clone()
            return z
        ref = R.gpt2_forward(sd, cfg, torch.tensor([ids2]), prefix, z_hook=save_z3)
        for key, rank_of in (("copying", "top"), ("copy_suppression", "bottom"), ("successor", "succ")):
            for hd in roles.get(key, []):
                l, hh = hd["layer"], hd["head"]
                A = ref["pattern_%d" % l][0, hh].numpy()
                W_O = sd["%sh.%d.attn.c_proj.weight" % (prefix, l)][hh * e:(hh + 1) * e]
                o = zc3[l][0, :, hh * e:(hh + 1) * e] @ W_O
                o = (o - o.mean(-1, keepdim=True)) * sd[prefix + "ln_f.weight"]
                logits = (o @ W_U[S].T).numpy()  # [T, |S|]
                num = den = 0.0
                for i in range(2, len(ids2)):
                    j = 1 + int(np.argmax(A[i, 1:i]))
                    t = ids2[j]
                    target = succ.get(t) if rank_of == "succ" else t
                    if target is None:
                        continue
                    v = (o[i] @ W_U[target]).item()
                    others = np.delete(logits[i], S.index(target))
                    rank = (others <= v).sum() if rank_of == "bottom" else (others >= v).sum()
                    den += A[i, j]
                    num += A[i, j] if rank < k else 0.0
                want = num / den if den > 0 else 0.0
                out_worst = max(out_worst, abs(want - hd["activation_score"]))
                out_checked += 1
    report["output_roles_max_abs_diff"] = out_worst
    report["output_roles_heads_checked"] = out_checked
    ok &= out_worst < 1e-3 and out_checked > 0
    report["max_abs_diff_nats"] = worst
    print(json.dumps(report, indent=1))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
