#!/usr/bin/env python3
"""Writes two GPT-2-layout model folders with headscope's byte tokenizer:

  planted_circuits.py OUT_DIR     -> OUT_DIR/planted, OUT_DIR/random

planted: 2 layers x 4 heads, d_model 1024, d_head 256. The token embeddings
are orthonormal and zero-mean (tied with the unembedding); layer 0's heads are
random (N(0, 0.02), unplanted) and its MLP is zero, so the embedding after the
first MLP is the embedding itself. Layer 1 plants one circuit per head:
  L1H0 copies:      W_V W_O maps each token's embedding to itself;
  L1H1 suppresses:  ... to minus itself;
  L1H2 successor:   ... to the next item of its ordinal sequence (digits 0-9,
                    letters a-z, A-Z); every other token to another token
                    (a derangement), so it does not copy;
  L1H3 sinks:       a constant query (bias) meets a key that reads position 0's
                    embedding: it attends to the first position on any input;
                    its OV is zero.
Positions have directions of their own (orthogonal to the tokens'), and
heads 0-2 of layer 1 attend to the previous token through them, so on a
prompt each writes (copies, suppresses, succeeds) one token it attends to.
random: the same shapes, every weight N(0, 0.02) (TransformerLens's init),
norms one: no head should score above a role's threshold.
"""
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference as R  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
V, D, H, E, M, L, CTX = 257, 1024, 4, 256, 64, 2, 64


def config():
    return {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_embd": D, "n_head": H,
            "n_layer": L, "n_inner": M, "n_positions": CTX, "n_ctx": CTX, "activation_function": "gelu_new",
            "layer_norm_epsilon": 1e-5, "bos_token_id": 256, "eos_token_id": 256, "tie_word_embeddings": True}


def write(out, t):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config(), f, indent=1)
    shutil.copy(os.path.join(HERE, "..", "..", "assets", "demo_lm", "headscope_tokenizer.json"), out)
    R.write_safetensors(os.path.join(out, "model.safetensors"), {k: v.float().contiguous() for k, v in t.items()})


def base(rng, random_all):
    g = lambda *s: torch.from_numpy(rng.normal(0, 0.02, s))  # noqa: E731
    z = lambda *s: torch.zeros(*s, dtype=torch.float64)  # noqa: E731
    t = {}
    t["wte.weight"] = g(V, D)
    t["wpe.weight"] = g(CTX, D)
    for l in range(L):
        p = "h.%d." % l
        t[p + "ln_1.weight"], t[p + "ln_1.bias"] = torch.ones(D, dtype=torch.float64), z(D)
        t[p + "ln_2.weight"], t[p + "ln_2.bias"] = torch.ones(D, dtype=torch.float64), z(D)
        rnd = random_all or l == 0
        t[p + "attn.c_attn.weight"] = g(D, 3 * D) if rnd else z(D, 3 * D)  # Conv1D: [in, out]
        t[p + "attn.c_attn.bias"] = z(3 * D)
        t[p + "attn.c_proj.weight"] = g(D, D) if rnd else z(D, D)
        t[p + "attn.c_proj.bias"] = z(D)
        t[p + "mlp.c_fc.weight"] = g(D, M) if random_all else z(D, M)
        t[p + "mlp.c_fc.bias"] = z(M)
        t[p + "mlp.c_proj.weight"] = g(M, D) if random_all else z(M, D)
        t[p + "mlp.c_proj.bias"] = z(D)
    t["ln_f.weight"], t["ln_f.bias"] = torch.ones(D, dtype=torch.float64), z(D)
    return t


def planted(rng):
    t = base(rng, False)
    # Orthonormal, zero-mean directions: one per token, one for position 0,
    # and one per position (for the heads' previous-token attention).
    a = rng.normal(size=(D, V + 1 + CTX))
    a -= a.mean(axis=0, keepdims=True)
    q, _ = np.linalg.qr(a)
    q = torch.from_numpy(q.T.copy())  # [V + 1, D]
    t["wte.weight"] = q[:V].clone()
    f0 = q[V]
    pos = q[V + 1:]  # [CTX, D]
    wpe = pos.clone()
    wpe[0] += 10.0 * f0
    t["wpe.weight"] = wpe
    # Successor map over the ordinal sets; a derangement elsewhere.
    succ = {}
    for seq in ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        for x, y in zip(seq, seq[1:]):
            succ[ord(x)] = ord(y)
    rest = [i for i in range(256) if i not in succ]
    perm = rest[1:] + rest[:1]  # a cycle: no fixed point
    for i, j in zip(rest, perm):
        succ[i] = j
    W = t["h.1.attn.c_attn.weight"]    # [D, 3D]: q | k | v, head h at columns h*E:(h+1)*E of each
    Wo = t["h.1.attn.c_proj.weight"]   # [D, D]: rows h*E:(h+1)*E take head h's z
    b = t["h.1.attn.c_attn.bias"]
    # OV of heads 0-2: v = coordinates of the token direction (tokens 0..255: E = 256 of them).
    for h in range(3):
        W[:, 2 * D + h * E:2 * D + (h + 1) * E] = q[:256].T
    for j in range(256):
        Wo[0 * E + j] = q[j]
        Wo[1 * E + j] = -q[j]
        Wo[2 * E + j] = q[succ[j]]
    # QK of heads 0-2: position i's query meets position i-1's key (one-hot
    # coordinates of the position directions): sharp previous-token attention,
    # so what they attend to is one token, which their OV then writes.
    for h in range(3):
        for i in range(CTX):
            W[:, h * E + i] += pos[i]
            if i + 1 < CTX:
                W[:, D + h * E + i + 1] += pos[i]
    # Head 3: constant query u; key = (x . f0) w, with u . w = 10.
    u = torch.zeros(E, dtype=torch.float64)
    u[0] = 10.0
    b[3 * E:4 * E] = u
    w = torch.zeros(E, dtype=torch.float64)
    w[0] = 1.0
    W[:, D + 3 * E:D + 4 * E] = torch.outer(f0, w)
    return t


def main():
    out = sys.argv[1]
    write(os.path.join(out, "planted"), planted(np.random.default_rng(1)))
    write(os.path.join(out, "random"), base(np.random.default_rng(2), True))


if __name__ == "__main__":
    main()
