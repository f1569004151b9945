#!/usr/bin/env python3
"""Small random Hugging Face model folders and reference outputs for test_hf_models.

For each architecture this writes OUT_DIR/<name>/ exactly as the hub lays it
out (config.json keys, tensor names, shapes, dtypes, the buffers older files
carry, shards with model.safetensors.index.json), and reference.npz with the
outputs of an independent forward written here from transformers' modeling
code (modeling_gpt2.py, modeling_llama.py, modeling_qwen2.py, modeling_qwen3.py,
modeling_gpt_neox.py, modeling_opt.py, modeling_mistral.py, modeling_gemma.py,
modeling_gemma2.py, modeling_phi3.py, with masking_utils.py for sliding windows
and modeling_rope_utils.py for longrope), in float64 on the weights as stored:

  tokens      [batch, pos] int64
  logits      [batch, pos, d_vocab] float32 (Gemma 2: after the final soft-cap)
  pattern_L   [batch, n_heads, query_pos, key_pos] (softmax of causal scores,
              after Gemma 2's attention soft-cap and any sliding window)
  q_L         [batch, pos, n_heads, d_head]     after bias, q/k norm and rotary
  k_L         [batch, pos, n_kv_heads, d_head]  (OPT: q before its 1/sqrt(d_head) scaling;
              longrope: the rotary dims carry the attention factor of the scaled cos/sin)

No transformers or safetensors package is needed: safetensors files are
written by hand (u64 little-endian header length, JSON header, data).

With --broken, each folder also gets reference_broken.npz (same keys, same
tokens) from the same forward with one deliberate mistake (BROKEN below: a
missing window, w for 1 + w, swapped gate/up halves, ...) and
reference_broken.txt describing it in one line, so a test can check that its
comparison tells the mistake apart.

Usage: hf_reference.py [--broken] OUT_DIR [NAME ...]   (default: every fixture)
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

BATCH, SEQ = 2, 12
# HS_FIXTURE_LAYERS=3: deeper fixtures (the streaming-inference tests).
LAYERS = int(os.environ.get("HS_FIXTURE_LAYERS", "0"))
DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.bool: "BOOL",
               torch.uint8: "U8", torch.int64: "I64"}


# --- files ------------------------------------------------------------------

def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    if t.dtype == torch.bool:
        return t.numpy().astype(np.uint8).tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors):
    """tensors: ordered dict name -> torch tensor (stored with its own dtype)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = tensor_bytes(t)
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def write_folder(out, config, tensors, shards=1):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if shards == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), tensors)
        return
    names = list(tensors)
    per = math.ceil(len(names) / shards)
    weight_map, total = {}, 0
    for s in range(shards):
        fname = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        part = {n: tensors[n] for n in names[s * per:(s + 1) * per]}
        write_safetensors(os.path.join(out, fname), part)
        for n, t in part.items():
            weight_map[n] = fname
            total += t.numel() * t.element_size()
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


# --- random weights -----------------------------------------------------------

class Init:
    def __init__(self, seed, dtype):
        self.g = torch.Generator().manual_seed(seed)
        self.dtype = dtype

    def normal(self, *shape, std=1.0, mean=0.0):
        return (torch.randn(*shape, generator=self.g, dtype=torch.float64) * std + mean).to(self.dtype)

    def linear(self, out_f, in_f):  # nn.Linear weight [out, in]
        return self.normal(out_f, in_f, std=1.0 / math.sqrt(in_f))

    def conv1d(self, in_f, out_f):  # GPT-2 Conv1D weight [in, out]
        return self.normal(in_f, out_f, std=1.0 / math.sqrt(in_f))

    def bias(self, n):
        return self.normal(n, std=0.1)

    def norm(self, n):
        return self.normal(n, std=0.1, mean=1.0)


def f64(sd):
    return {k: v.to(torch.float64) for k, v in sd.items()}


# --- the independent forwards (float64) ------------------------------------------

def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps))


def act(name, x):
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name == "relu":
        return torch.relu(x)
    if name == "silu":
        return x * torch.sigmoid(x)
    raise ValueError(name)


def causal_softmax(scores):
    """scores [batch, head, q, k] -> pattern; masked entries get finfo.min as transformers does."""
    t = scores.shape[-1]
    allowed = torch.tril(torch.ones(t, t, dtype=torch.bool))
    scores = torch.where(allowed, scores, torch.tensor(torch.finfo(scores.dtype).min, dtype=scores.dtype))
    return torch.softmax(scores, dim=-1)


def windowed_causal_softmax(scores, window):
    """causal_softmax with a sliding window: query i sees keys j with
    i - window < j <= i (`window` keys, itself included), as masking_utils'
    sliding_window_overlay (kv_idx > q_idx - sliding_window) on top of
    causal_mask_function (kv_idx <= q_idx). window None or 0: plain causal."""
    t = scores.shape[-1]
    i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]
    allowed = j <= i
    if window:
        allowed = allowed & (j > i - window)
    scores = torch.where(allowed, scores, torch.tensor(torch.finfo(scores.dtype).min, dtype=scores.dtype))
    return torch.softmax(scores, dim=-1)


def rope_inv_freq(dim, base, scaling=None):
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    if scaling is None:
        return inv_freq
    # transformers' _compute_llama3_parameters
    factor, lo, hi = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    old = scaling["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / lo, old / hi
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x, inv_freq):
    """x [batch, head, pos, rot_dim]: rotate-half rotary at positions 0..pos-1."""
    pos = torch.arange(x.shape[2], dtype=torch.float64)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def apply_rope_interleaved(x, inv_freq):
    """The GPT-J / Meta-checkpoint rotary (pairs 2i, 2i + 1 rotate together):
    what a loader that forgets HF's q/k row permutation computes (a broken
    reference only)."""
    pos = torch.arange(x.shape[2], dtype=torch.float64)
    ang = torch.outer(pos, inv_freq)
    cos, sin = ang.cos(), ang.sin()
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


def to_tl(x):  # [batch, head, pos, d_head] -> [batch, pos, head, d_head]
    return x.permute(0, 2, 1, 3)


def attend(q, k, v, ref, layer, scale, window=None, softcap=None):
    """q [b, h, t, e]; k, v [b, kv, t, e] (already repeated for GQA).
    softcap (Gemma 2's eager_attention_forward): scores = tanh(scores / cap) * cap
    after the scaling and before the mask; window: see windowed_causal_softmax."""
    if window is None and softcap is None:
        pattern = causal_softmax(q @ k.transpose(-1, -2) * scale)
    else:
        scores = q @ k.transpose(-1, -2) * scale
        if softcap is not None:
            scores = torch.tanh(scores / softcap) * softcap
        pattern = windowed_causal_softmax(scores, window)
    ref["pattern_%d" % layer] = pattern
    out = pattern @ v  # [b, h, t, e]
    b, h, t, e = out.shape
    return out.permute(0, 2, 1, 3).reshape(b, t, h * e)


def gpt2_forward(sd, cfg, ids, p, bug=None, zero_heads=(), z_hook=None, post_hook=None, resid_hook=None):
    """zero_heads: (layer, head) pairs whose output z (before c_proj) is set to zero.
    z_hook(layer, z [b, t, heads * e]), post_hook(layer, post [b, t, d_mlp]) and
    resid_hook(layer, resid_pre [b, t, d]) return the tensor to go on with
    (TransformerLens's hook_z, hook_post and hook_resid_pre)."""
    d, n = cfg["n_embd"], cfg["n_head"]
    e, eps = d // n, cfg["layer_norm_epsilon"]
    b, t = ids.shape
    ref = {}
    if bug == "conv1d_as_linear":  # the stored [in, out] bytes read as nn.Linear's [out, in]
        def W(name):
            w = sd[name]
            return w.reshape(w.shape[1], w.shape[0]).T
    else:
        def W(name):
            return sd[name]
    h = sd[p + "wte.weight"][ids] + sd[p + "wpe.weight"][torch.arange(t)]
    for l in range(cfg["n_layer"]):
        L = "%sh.%d." % (p, l)
        if resid_hook is not None:
            h = resid_hook(l, h)
        a = layer_norm(h, sd[L + "ln_1.weight"], sd[L + "ln_1.bias"], eps)
        qkv = a @ W(L + "attn.c_attn.weight") + sd[L + "attn.c_attn.bias"]  # Conv1D: x W + b
        q, k, v = qkv.split(d, dim=2)
        q, k, v = (x.view(b, t, n, e).permute(0, 2, 1, 3) for x in (q, k, v))
        ref["q_%d" % l], ref["k_%d" % l] = to_tl(q), to_tl(k)
        z = attend(q, k, v, ref, l, 1.0 / math.sqrt(e))
        for zl, zh in zero_heads:
            if zl == l:
                z[..., zh * e:(zh + 1) * e] = 0
        if z_hook is not None:
            z = z_hook(l, z)
        h = h + z @ W(L + "attn.c_proj.weight") + sd[L + "attn.c_proj.bias"]
        m = layer_norm(h, sd[L + "ln_2.weight"], sd[L + "ln_2.bias"], eps)
        m = act(cfg["activation_function"], m @ W(L + "mlp.c_fc.weight") + sd[L + "mlp.c_fc.bias"])
        if post_hook is not None:
            m = post_hook(l, m)
        h = h + m @ W(L + "mlp.c_proj.weight") + sd[L + "mlp.c_proj.bias"]
    ref["resid_final"] = h
    h = layer_norm(h, sd[p + "ln_f.weight"], sd[p + "ln_f.bias"], eps)
    W_U = sd[p + "wte.weight"] if cfg.get("tie_word_embeddings", True) else sd["lm_head.weight"]
    ref["logits"] = h @ W_U.T
    return ref


def llama_forward(sd, cfg, ids, bug=None):
    """llama, qwen2 and qwen3 (q_norm/k_norm before rotary)."""
    d, n = cfg["hidden_size"], cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", n)
    e = cfg.get("head_dim") or d // n
    eps = cfg["rms_norm_eps"]
    qwen3 = cfg["model_type"] == "qwen3"
    inv_freq = rope_inv_freq(e, cfg.get("rope_theta", 10000.0), cfg.get("rope_scaling"))
    b, t = ids.shape
    ref = {}
    h = sd["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        L = "model.layers.%d." % l

        def proj(name, x):
            y = x @ sd[L + "self_attn.%s.weight" % name].T
            bias = sd.get(L + "self_attn.%s.bias" % name)
            if bug == "no_qk_bias" and name in ("q_proj", "k_proj"):
                bias = None
            return y if bias is None else y + bias

        a = rms_norm(h, sd[L + "input_layernorm.weight"], eps)
        q = proj("q_proj", a).view(b, t, n, e)
        k = proj("k_proj", a).view(b, t, kv, e)
        v = proj("v_proj", a).view(b, t, kv, e).transpose(1, 2)
        if qwen3 and bug != "qk_norm_after_rope":
            q = rms_norm(q, sd[L + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, sd[L + "self_attn.k_norm.weight"], eps)
        rope = apply_rope_interleaved if bug == "rope_interleaved" else apply_rope
        q, k = rope(q.transpose(1, 2), inv_freq), rope(k.transpose(1, 2), inv_freq)
        if qwen3 and bug == "qk_norm_after_rope":
            q = rms_norm(q, sd[L + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, sd[L + "self_attn.k_norm.weight"], eps)
        ref["q_%d" % l], ref["k_%d" % l] = to_tl(q), to_tl(k)
        rep = n // kv  # repeat_kv: kv head j serves query heads j*rep .. j*rep+rep-1
        k = k[:, :, None].expand(b, kv, rep, t, e).reshape(b, n, t, e)
        v = v[:, :, None].expand(b, kv, rep, t, e).reshape(b, n, t, e)
        z = attend(q, k, v, ref, l, e ** -0.5)
        h = h + proj("o_proj", z)
        m = rms_norm(h, sd[L + "post_attention_layernorm.weight"], eps)
        gate = m @ sd[L + "mlp.gate_proj.weight"].T
        up = m @ sd[L + "mlp.up_proj.weight"].T
        h = h + (act(cfg["hidden_act"], gate) * up) @ sd[L + "mlp.down_proj.weight"].T
    h = rms_norm(h, sd["model.norm.weight"], eps)
    W_U = sd["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else sd["lm_head.weight"]
    ref["logits"] = h @ W_U.T
    return ref


def neox_forward(sd, cfg, ids, bug=None):
    d, n = cfg["hidden_size"], cfg["num_attention_heads"]
    e, eps = d // n, cfg["layer_norm_eps"]
    rot = int(e * cfg["rotary_pct"])
    inv_freq = rope_inv_freq(rot, cfg["rotary_emb_base"])
    b, t = ids.shape
    ref = {}

    def linear(x, name):
        return x @ sd[name + ".weight"].T + sd[name + ".bias"]

    def mlp(x, L):
        return linear(act(cfg["hidden_act"], linear(x, L + "mlp.dense_h_to_4h")), L + "mlp.dense_4h_to_h")

    h = sd["gpt_neox.embed_in.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        L = "gpt_neox.layers.%d." % l
        a = layer_norm(h, sd[L + "input_layernorm.weight"], sd[L + "input_layernorm.bias"], eps)
        if bug == "qkv_blocks":  # [q | k | v] over the whole width, as GPT-2's c_attn
            qkv = linear(a, L + "attention.query_key_value").split(d, dim=2)
            q, k, v = (x.view(b, t, n, e).permute(0, 2, 1, 3) for x in qkv)
        else:
            qkv = linear(a, L + "attention.query_key_value").view(b, t, n, 3 * e)  # per head [q | k | v]
            q, k, v = (qkv[..., i * e:(i + 1) * e].permute(0, 2, 1, 3) for i in range(3))
        q = torch.cat((apply_rope(q[..., :rot], inv_freq), q[..., rot:]), dim=-1)
        k = torch.cat((apply_rope(k[..., :rot], inv_freq), k[..., rot:]), dim=-1)
        ref["q_%d" % l], ref["k_%d" % l] = to_tl(q), to_tl(k)
        attn = linear(attend(q, k, v, ref, l, e ** -0.5), L + "attention.dense")
        ln2 = lambda x: layer_norm(x, sd[L + "post_attention_layernorm.weight"],
                                   sd[L + "post_attention_layernorm.bias"], eps)
        if cfg["use_parallel_residual"]:
            h = h + attn + mlp(ln2(h), L)
        else:
            h = h + attn
            h = h + mlp(ln2(h), L)
    h = layer_norm(h, sd["gpt_neox.final_layer_norm.weight"], sd["gpt_neox.final_layer_norm.bias"], eps)
    ref["logits"] = h @ sd["embed_out.weight"].T
    return ref


def opt_forward(sd, cfg, ids, bug=None):
    d, n = cfg["hidden_size"], cfg["num_attention_heads"]
    e, eps = d // n, 1e-5
    b, t = ids.shape
    P = "model.decoder."
    ref = {}

    def linear(x, name):
        return x @ sd[name + ".weight"].T + sd[name + ".bias"]

    def ln(x, name):
        return layer_norm(x, sd[name + ".weight"], sd[name + ".bias"], eps)

    # OPTLearnedPositionalEmbedding: positions from the attention mask, plus 2
    positions = torch.cumsum(torch.ones(b, t, dtype=torch.long), dim=1) - 1
    offset = 0 if bug == "no_pos_offset" else 2
    h = sd[P + "embed_tokens.weight"][ids] + sd[P + "embed_positions.weight"][positions + offset]
    for l in range(cfg["num_hidden_layers"]):
        L = P + "layers.%d." % l
        a = ln(h, L + "self_attn_layer_norm")
        q = linear(a, L + "self_attn.q_proj").view(b, t, n, e).transpose(1, 2)
        k = linear(a, L + "self_attn.k_proj").view(b, t, n, e).transpose(1, 2)
        v = linear(a, L + "self_attn.v_proj").view(b, t, n, e).transpose(1, 2)
        ref["q_%d" % l], ref["k_%d" % l] = to_tl(q), to_tl(k)
        h = h + linear(attend(q * e ** -0.5, k, v, ref, l, 1.0), L + "self_attn.out_proj")
        m = ln(h, L + "final_layer_norm")
        h = h + linear(act(cfg["activation_function"], linear(m, L + "fc1")), L + "fc2")
    h = ln(h, P + "final_layer_norm")
    ref["logits"] = h @ sd[P + "embed_tokens.weight"].T
    return ref


def longrope_or_default_inv_freq(cfg, rot, seq_len, bug=None):
    """(inv_freq over the rot rotary dims, factor on cos and sin).

    Default rope: 1 / base^(2i / rot). Longrope (modeling_rope_utils'
    _compute_longrope_parameters, and Phi3RotaryEmbedding's / dynamic_rope_update's
    longrope update): the long factors once seq_len = max(position_ids) + 1
    exceeds original_max_position_embeddings, else the short ones;
    inv_freq = 1 / (ext_factors * base^(2i / rot)); cos and sin times
    attention_factor = sqrt(1 + ln(factor) / ln(original)), factor =
    max_position_embeddings / original_max_position_embeddings (1 when factor <= 1).
    """
    base = cfg.get("rope_theta", 10000.0)
    shape = torch.arange(0, rot, 2, dtype=torch.float64) / rot
    scaling = cfg.get("rope_scaling")
    if not scaling:
        return 1.0 / (base ** shape), 1.0
    assert scaling.get("rope_type", scaling.get("type")) == "longrope"
    original = cfg["original_max_position_embeddings"]
    factor = cfg["max_position_embeddings"] / original
    attention_factor = scaling.get("attention_factor")
    if attention_factor is None:
        attention_factor = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original))
    long = seq_len > original and bug != "short_factors"
    ext = torch.tensor(scaling["long_factor"] if long else scaling["short_factor"], dtype=torch.float64)
    return 1.0 / (ext * base ** shape), attention_factor


def decoder_forward(sd, cfg, ids, bug=None):
    """mistral, gemma, gemma2 and phi3: the llama layout with

    mistral: a sliding window on every layer (sliding_window null: none), head_dim key;
    gemma:   embeddings times sqrt(hidden_size), RMSNorm times (1 + w), the MLP's
             activation from hidden_activation (GemmaMLP / Gemma2MLP), tied unembedding;
    gemma2:  gemma plus post_attention_layernorm on the attention output and
             post_feedforward_layernorm on the MLP output (both before the residual
             add, pre_feedforward_layernorm the MLP's input norm), scores scaled by
             query_pre_attn_scalar^-0.5 then soft-capped, the window on even layers
             (layer_types' default: sliding_attention when (i + 1) % 2), final soft-cap;
    phi3:    fused qkv_proj (q rows, k rows, v rows) and gate_up_proj (gate = first
             half), partial rotary (the first rot dims rotate), longrope, window.
    """
    mt = cfg["model_type"]
    gemma, gemma2, phi3 = mt in ("gemma", "gemma2"), mt == "gemma2", mt == "phi3"
    d, n = cfg["hidden_size"], cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads") or n
    e = cfg.get("head_dim") or d // n
    eps = cfg["rms_norm_eps"]
    rot = int(e * cfg.get("partial_rotary_factor", 1.0))  # int() as transformers
    b, t = ids.shape
    inv_freq, rope_factor = longrope_or_default_inv_freq(cfg, rot, t, bug)
    hidden_act = cfg["hidden_activation"] if gemma else cfg["hidden_act"]
    scale = cfg["query_pre_attn_scalar"] ** -0.5 if gemma2 else e ** -0.5
    softcap = cfg.get("attn_logit_softcapping") if gemma2 and bug != "no_attn_softcap" else None
    ref = {}

    def norm(x, name):  # GemmaRMSNorm: x_normed * (1 + w); Llama/Mistral/Phi3: w * x_normed
        w = sd[name]
        return rms_norm(x, 1.0 + w if gemma and bug != "norm_w" else w, eps)

    def rotary(x):  # x [b, h, t, e]: the first rot dims rotate (Phi-3's partial rotary)
        r = 2 * inv_freq.shape[0]
        return torch.cat((apply_rope(x[..., :r], inv_freq) * rope_factor, x[..., r:]), dim=-1)

    def window(layer):
        if bug == "no_window":
            return None
        if bug == "window_5":
            return 5
        if gemma2:
            return cfg.get("sliding_window") if layer % 2 == 0 else None
        return cfg.get("sliding_window") if mt in ("mistral", "phi3") else None

    h = sd["model.embed_tokens.weight"][ids]
    if gemma:
        # GemmaModel: hidden_states * torch.tensor(hidden_size**0.5, dtype=hidden_states.dtype).
        # headscope's forward runs in float32, so the normaliser is sqrt(d) rounded to float32.
        h = h * float(np.float32(math.sqrt(d)))
    for l in range(cfg["num_hidden_layers"]):
        L = "model.layers.%d." % l
        a = norm(h, L + "input_layernorm.weight")
        if phi3:
            qkv = a @ sd[L + "self_attn.qkv_proj.weight"].T
            q, k, v = qkv.split([n * e, kv * e, kv * e], dim=-1)
        else:
            q, k, v = (a @ sd[L + "self_attn.%s_proj.weight" % x].T for x in "qkv")
        q = rotary(q.view(b, t, n, e).transpose(1, 2))
        k = rotary(k.view(b, t, kv, e).transpose(1, 2))
        v = v.view(b, t, kv, e).transpose(1, 2)
        ref["q_%d" % l], ref["k_%d" % l] = to_tl(q), to_tl(k)
        rep = n // kv
        k = k[:, :, None].expand(b, kv, rep, t, e).reshape(b, n, t, e)
        v = v[:, :, None].expand(b, kv, rep, t, e).reshape(b, n, t, e)
        z = attend(q, k, v, ref, l, scale, window=window(l), softcap=softcap)
        o = z @ sd[L + "self_attn.o_proj.weight"].T
        if gemma2:
            o = norm(o, L + "post_attention_layernorm.weight")
        h = h + o
        m = norm(h, L + ("pre_feedforward_layernorm.weight" if gemma2 else "post_attention_layernorm.weight"))
        if phi3:
            gate, up = (m @ sd[L + "mlp.gate_up_proj.weight"].T).chunk(2, dim=-1)
            if bug == "gate_up_swapped":
                gate, up = up, gate
        else:
            gate, up = m @ sd[L + "mlp.gate_proj.weight"].T, m @ sd[L + "mlp.up_proj.weight"].T
        y = (act(hidden_act, gate) * up) @ sd[L + "mlp.down_proj.weight"].T
        if gemma2:
            y = norm(y, L + "post_feedforward_layernorm.weight")
        h = h + y
    h = norm(h, "model.norm.weight")
    tied = cfg.get("tie_word_embeddings", gemma)  # GemmaConfig defaults to tied, Mistral/Phi3 to untied
    W_U = sd["model.embed_tokens.weight"] if tied else sd["lm_head.weight"]
    logits = h @ W_U.T
    cap = cfg.get("final_logit_softcapping") if gemma2 else None
    if cap is not None:
        logits = torch.tanh(logits / cap) * cap
    ref["logits"] = logits
    return ref


# --- fixtures -----------------------------------------------------------------------

def gpt2_fixture(seed, dtype, prefix, tied, lm_head_present, bias_dtype, shards=1):
    V, n_pos, d, n, layers = 97, 32, 64, 4, 2
    layers = LAYERS or layers
    cfg = {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
        "bos_token_id": V - 1, "embd_pdrop": 0.1, "eos_token_id": V - 1, "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": n_pos, "n_embd": d, "n_head": n,
        "n_inner": None, "n_layer": layers, "n_positions": n_pos, "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
        "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
        "summary_type": "cls_index", "summary_use_proj": True, "transformers_version": "4.26.0",
        "use_cache": True, "vocab_size": V,
    }
    if not tied:
        cfg["tie_word_embeddings"] = False
    w = Init(seed, dtype)
    p = "transformer." if prefix else ""
    sd = {p + "wte.weight": w.normal(V, d), p + "wpe.weight": w.normal(n_pos, d, std=0.5)}
    for l in range(layers):
        L = "%sh.%d." % (p, l)
        sd[L + "ln_1.weight"], sd[L + "ln_1.bias"] = w.norm(d), w.bias(d)
        mask = torch.tril(torch.ones(n_pos, n_pos)).view(1, 1, n_pos, n_pos).to(bias_dtype)
        sd[L + "attn.bias"] = mask  # the causal-mask buffer older files carry
        sd[L + "attn.masked_bias"] = torch.tensor(-1e4, dtype=torch.float32)
        sd[L + "attn.c_attn.weight"], sd[L + "attn.c_attn.bias"] = w.conv1d(d, 3 * d), w.bias(3 * d)
        sd[L + "attn.c_proj.weight"], sd[L + "attn.c_proj.bias"] = w.conv1d(d, d), w.bias(d)
        sd[L + "ln_2.weight"], sd[L + "ln_2.bias"] = w.norm(d), w.bias(d)
        sd[L + "mlp.c_fc.weight"], sd[L + "mlp.c_fc.bias"] = w.conv1d(d, 4 * d), w.bias(4 * d)
        sd[L + "mlp.c_proj.weight"], sd[L + "mlp.c_proj.bias"] = w.conv1d(4 * d, d), w.bias(d)
    sd[p + "ln_f.weight"], sd[p + "ln_f.bias"] = w.norm(d), w.bias(d)
    if lm_head_present:
        sd["lm_head.weight"] = sd[p + "wte.weight"].clone() if tied else w.normal(V, d)
    return cfg, sd, lambda s, ids, bug=None: gpt2_forward(s, cfg, ids, p, bug), shards


def llama_weights(w, cfg, model_type, V, layers, d, n, kv, e, inter):
    """The llama layout's tensors, drawn in file order (shared by llama, qwen2, qwen3 and mistral)."""
    sd = {"model.embed_tokens.weight": w.normal(V, d)}
    for l in range(layers):
        L = "model.layers.%d." % l
        sd[L + "input_layernorm.weight"] = w.norm(d)
        sd[L + "self_attn.q_proj.weight"] = w.linear(n * e, d)
        sd[L + "self_attn.k_proj.weight"] = w.linear(kv * e, d)
        sd[L + "self_attn.v_proj.weight"] = w.linear(kv * e, d)
        if model_type == "qwen2":
            sd[L + "self_attn.q_proj.bias"] = w.normal(n * e, std=0.5)
            sd[L + "self_attn.k_proj.bias"] = w.normal(kv * e, std=0.5)
            sd[L + "self_attn.v_proj.bias"] = w.bias(kv * e)
        sd[L + "self_attn.o_proj.weight"] = w.linear(d, n * e)
        if model_type == "qwen3":
            sd[L + "self_attn.q_norm.weight"] = w.norm(e)
            sd[L + "self_attn.k_norm.weight"] = w.norm(e)
        if model_type == "llama":  # older Llama files store the rotary buffer
            sd[L + "self_attn.rotary_emb.inv_freq"] = (
                1.0 / (500000.0 ** (torch.arange(0, e, 2).float() / e))).to(torch.float32)
        sd[L + "post_attention_layernorm.weight"] = w.norm(d)
        sd[L + "mlp.gate_proj.weight"] = w.linear(inter, d)
        sd[L + "mlp.up_proj.weight"] = w.linear(inter, d)
        sd[L + "mlp.down_proj.weight"] = w.linear(d, inter)
    sd["model.norm.weight"] = w.norm(d)
    if not cfg["tie_word_embeddings"]:
        sd["lm_head.weight"] = w.linear(V, d)
    return sd


def llama_family_fixture(seed, model_type):
    w_dtype = {"llama": torch.float16, "qwen2": torch.bfloat16, "qwen3": torch.bfloat16}[model_type]
    V, layers, n, kv, inter, n_pos = 101, 2, 4, 2, 96, 64
    layers = LAYERS or layers
    d = 48 if model_type == "qwen3" else 64
    e = 16  # qwen3: head_dim 16 while hidden_size / heads = 12
    w = Init(seed, w_dtype)
    cfg = {"architectures": [{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
                              "qwen3": "Qwen3ForCausalLM"}[model_type]],
           "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
           "hidden_size": d, "initializer_range": 0.02, "intermediate_size": inter,
           "max_position_embeddings": n_pos, "model_type": model_type, "num_attention_heads": n,
           "num_hidden_layers": layers, "num_key_value_heads": kv, "rms_norm_eps": 1e-05,
           "torch_dtype": {torch.float16: "float16", torch.bfloat16: "bfloat16"}[w_dtype],
           "transformers_version": "4.51.0", "use_cache": True, "vocab_size": V}
    if model_type == "llama":  # Llama 3.2 style
        cfg.update({"attention_bias": False, "mlp_bias": False, "pretraining_tp": 1, "rope_theta": 500000.0,
                    "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                     "original_max_position_embeddings": 64, "rope_type": "llama3"},
                    "tie_word_embeddings": True, "eos_token_id": [2, 3]})
    elif model_type == "qwen2":  # Qwen2.5-0.5B style
        cfg.update({"bos_token_id": 0, "max_window_layers": layers, "rope_theta": 1000000.0,
                    "rope_scaling": None, "sliding_window": n_pos, "tie_word_embeddings": True,
                    "use_sliding_window": False})
    else:  # Qwen3 style, untied (as the larger Qwen3 models)
        cfg.update({"attention_bias": False, "head_dim": e, "max_window_layers": layers,
                    "rope_theta": 1000000.0, "rope_scaling": None, "sliding_window": None,
                    "tie_word_embeddings": False, "use_sliding_window": False})
    sd = llama_weights(w, cfg, model_type, V, layers, d, n, kv, e, inter)
    return cfg, sd, lambda s, ids, bug=None: llama_forward(s, cfg, ids, bug), 1


def neox_fixture(seed, dtype, parallel, rotary_pct):
    V, layers, d, n, n_pos = 103, 2, 64, 4, 64
    layers = LAYERS or layers
    e = d // n
    w = Init(seed, dtype)
    cfg = {"architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0,
           "hidden_act": "gelu", "hidden_size": d, "initializer_range": 0.02, "intermediate_size": 4 * d,
           "layer_norm_eps": 1e-05, "max_position_embeddings": n_pos, "model_type": "gpt_neox",
           "num_attention_heads": n, "num_hidden_layers": layers, "rotary_emb_base": 10000,
           "rotary_pct": rotary_pct, "tie_word_embeddings": False, "torch_dtype": "float16",
           "transformers_version": "4.24.0", "use_cache": True, "use_parallel_residual": parallel,
           "vocab_size": V}
    rot = int(e * rotary_pct)
    sd = {"gpt_neox.embed_in.weight": w.normal(V, d)}
    for l in range(layers):
        L = "gpt_neox.layers.%d." % l
        sd[L + "input_layernorm.weight"], sd[L + "input_layernorm.bias"] = w.norm(d), w.bias(d)
        sd[L + "post_attention_layernorm.weight"] = w.norm(d)
        sd[L + "post_attention_layernorm.bias"] = w.bias(d)
        sd[L + "attention.bias"] = torch.tril(torch.ones(n_pos, n_pos, dtype=torch.bool)).view(1, 1, n_pos, n_pos)
        sd[L + "attention.masked_bias"] = torch.tensor(-1e9, dtype=torch.float32)
        sd[L + "attention.rotary_emb.inv_freq"] = 1.0 / (10000 ** (torch.arange(0, rot, 2).float() / rot))
        sd[L + "attention.query_key_value.weight"] = w.linear(3 * d, d)
        sd[L + "attention.query_key_value.bias"] = w.normal(3 * d, std=0.3)
        sd[L + "attention.dense.weight"], sd[L + "attention.dense.bias"] = w.linear(d, d), w.bias(d)
        sd[L + "mlp.dense_h_to_4h.weight"], sd[L + "mlp.dense_h_to_4h.bias"] = w.linear(4 * d, d), w.bias(4 * d)
        sd[L + "mlp.dense_4h_to_h.weight"], sd[L + "mlp.dense_4h_to_h.bias"] = w.linear(d, 4 * d), w.bias(d)
    sd["gpt_neox.final_layer_norm.weight"] = w.norm(d)
    sd["gpt_neox.final_layer_norm.bias"] = w.bias(d)
    sd["embed_out.weight"] = w.linear(V, d)
    return cfg, sd, lambda s, ids, bug=None: neox_forward(s, cfg, ids, bug), 1


def opt_fixture(seed):
    V, layers, d, n, ffn, n_pos = 89, 2, 64, 4, 128, 32
    layers = LAYERS or layers
    w = Init(seed, torch.float16)
    cfg = {"_name_or_path": "facebook/opt-125m", "_remove_final_layer_norm": False, "activation_dropout": 0.0,
           "activation_function": "relu", "architectures": ["OPTForCausalLM"], "attention_dropout": 0.0,
           "bos_token_id": 2, "do_layer_norm_before": True, "dropout": 0.1, "eos_token_id": 2, "ffn_dim": ffn,
           "hidden_size": d, "init_std": 0.02, "layerdrop": 0.0, "max_position_embeddings": n_pos,
           "model_type": "opt", "num_attention_heads": n, "num_hidden_layers": layers, "pad_token_id": 1,
           "prefix": "</s>", "torch_dtype": "float16", "transformers_version": "4.21.0.dev0", "use_cache": True,
           "vocab_size": V, "word_embed_proj_dim": d}
    P = "model.decoder."
    sd = {P + "embed_tokens.weight": w.normal(V, d), P + "embed_positions.weight": w.normal(n_pos + 2, d, std=0.5)}
    for l in range(layers):
        L = P + "layers.%d." % l
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            sd[L + "self_attn.%s.weight" % proj] = w.linear(d, d)
            sd[L + "self_attn.%s.bias" % proj] = w.bias(d)
        sd[L + "self_attn_layer_norm.weight"], sd[L + "self_attn_layer_norm.bias"] = w.norm(d), w.bias(d)
        sd[L + "fc1.weight"], sd[L + "fc1.bias"] = w.linear(ffn, d), w.bias(ffn)
        sd[L + "fc2.weight"], sd[L + "fc2.bias"] = w.linear(d, ffn), w.bias(d)
        sd[L + "final_layer_norm.weight"], sd[L + "final_layer_norm.bias"] = w.norm(d), w.bias(d)
    sd[P + "final_layer_norm.weight"], sd[P + "final_layer_norm.bias"] = w.norm(d), w.bias(d)
    return cfg, sd, lambda s, ids, bug=None: opt_forward(s, cfg, ids, bug), 1


TORCH_DTYPE = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def mistral_fixture(seed, dtype, window):
    """Mistral-7B-v0.1's config.json keys (and v0.3's attention_dropout, head_dim)."""
    V, layers, d, n, kv, e, inter, n_pos = 109, 2, 64, 4, 2, 16, 96, 64
    layers = LAYERS or layers
    w = Init(seed, dtype)
    cfg = {"architectures": ["MistralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
           "head_dim": e, "hidden_act": "silu", "hidden_size": d, "initializer_range": 0.02,
           "intermediate_size": inter, "max_position_embeddings": n_pos, "model_type": "mistral",
           "num_attention_heads": n, "num_hidden_layers": layers, "num_key_value_heads": kv, "rms_norm_eps": 1e-05,
           "rope_theta": 10000.0, "sliding_window": window, "tie_word_embeddings": False,
           "torch_dtype": TORCH_DTYPE[dtype], "transformers_version": "4.42.0", "use_cache": True, "vocab_size": V}
    sd = llama_weights(w, cfg, "mistral", V, layers, d, n, kv, e, inter)
    return cfg, sd, lambda s, ids, bug=None: decoder_forward(s, cfg, ids, bug), 1


def gemma_fixture(seed, model_type):
    """google/gemma-2b's (gemma) and google/gemma-2-2b's (gemma2) config.json keys;
    head_dim 16 while hidden_size / heads = 12; tied (no lm_head tensor)."""
    gemma2 = model_type == "gemma2"
    V, layers, d, n, e, inter, n_pos = (127 if gemma2 else 113), 2, 48, 4, 16, 96, 64
    kv = 2 if gemma2 else 1  # gemma-2b: multi-query; gemma-2-2b: 8 heads over 4 kv heads
    layers = LAYERS or layers
    w = Init(seed, torch.bfloat16)
    cfg = {"architectures": ["Gemma2ForCausalLM" if gemma2 else "GemmaForCausalLM"], "attention_bias": False,
           "attention_dropout": 0.0, "bos_token_id": 2, "eos_token_id": 1, "head_dim": e,
           "hidden_act": "gelu_pytorch_tanh" if gemma2 else "gelu", "hidden_activation": "gelu_pytorch_tanh",
           "hidden_size": d, "initializer_range": 0.02, "intermediate_size": inter, "max_position_embeddings": n_pos,
           "model_type": model_type, "num_attention_heads": n, "num_hidden_layers": layers,
           "num_key_value_heads": kv, "pad_token_id": 0, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
           "torch_dtype": "bfloat16", "use_cache": True, "vocab_size": V}
    if gemma2:
        # Small caps so they bite on random weights; query_pre_attn_scalar != head_dim;
        # no layer_types key (google/gemma-2-2b's config.json has none).
        cfg.update({"attn_logit_softcapping": 2.0, "cache_implementation": "hybrid", "final_logit_softcapping": 3.0,
                    "query_pre_attn_scalar": 24, "sliding_window": 4, "transformers_version": "4.42.4"})
    else:
        cfg.update({"rope_scaling": None, "transformers_version": "4.38.0.dev0"})
    cfg = dict(sorted(cfg.items()))

    def gnorm(k):  # stored w of a (1 + w) norm: near 0, so w and 1 + w differ hugely
        return w.normal(k, std=0.3)

    sd = {"model.embed_tokens.weight": w.linear(V, d)}  # std 1/sqrt(d): times sqrt(d) gives O(1)
    for l in range(layers):
        L = "model.layers.%d." % l
        sd[L + "input_layernorm.weight"] = gnorm(d)
        sd[L + "self_attn.q_proj.weight"] = w.linear(n * e, d)
        sd[L + "self_attn.k_proj.weight"] = w.linear(kv * e, d)
        sd[L + "self_attn.v_proj.weight"] = w.linear(kv * e, d)
        sd[L + "self_attn.o_proj.weight"] = w.linear(d, n * e)
        sd[L + "post_attention_layernorm.weight"] = gnorm(d)
        if gemma2:
            sd[L + "pre_feedforward_layernorm.weight"] = gnorm(d)
            sd[L + "post_feedforward_layernorm.weight"] = gnorm(d)
        sd[L + "mlp.gate_proj.weight"] = w.linear(inter, d)
        sd[L + "mlp.up_proj.weight"] = w.linear(inter, d)
        sd[L + "mlp.down_proj.weight"] = w.linear(d, inter)
    sd["model.norm.weight"] = gnorm(d)
    return cfg, sd, lambda s, ids, bug=None: decoder_forward(s, cfg, ids, bug), 1


def phi3_fixture(seed, longrope):
    """phi3: microsoft/Phi-3-mini-4k-instruct's config.json keys (window, untied,
    rope_scaling null); phi3_longrope: microsoft/Phi-4-mini-instruct's (longrope with
    partial_rotary_factor 0.75, tied, here no window and an original context of 8
    positions so the 12-token prompt takes the long factors). GQA: 4 heads, 2 kv heads."""
    V, layers, d, n, kv, inter, n_pos = 131, 2, 64, 4, 2, 96, 64
    layers = LAYERS or layers
    e = d // n
    w = Init(seed, torch.bfloat16)
    cfg = {"architectures": ["Phi3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "auto_map": {"AutoConfig": "configuration_phi3.Phi3Config",
                        "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"},
           "bos_token_id": 1, "embd_pdrop": 0.0, "eos_token_id": V - 2, "hidden_act": "silu", "hidden_size": d,
           "initializer_range": 0.02, "intermediate_size": inter, "max_position_embeddings": n_pos,
           "model_type": "phi3", "num_attention_heads": n, "num_hidden_layers": layers, "num_key_value_heads": kv,
           "original_max_position_embeddings": n_pos, "pad_token_id": V - 2, "resid_pdrop": 0.0,
           "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000.0, "sliding_window": 6,
           "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.40.2",
           "use_cache": True, "vocab_size": V}
    if longrope:
        rot = int(e * 0.75)
        g = torch.Generator().manual_seed(seed + 1000)
        # Multiples of 1/256: exact in float32 (transformers holds the factors as float32).
        grid = lambda lo, hi: [round(float(lo + (hi - lo) * x) * 256) / 256
                               for x in torch.rand(rot // 2, generator=g, dtype=torch.float64)]
        cfg.update({"bos_token_id": V - 1, "eos_token_id": V - 1, "full_attn_mod": 1, "interpolate_factor": 1,
                    "lm_head_bias": False, "mlp_bias": False, "original_max_position_embeddings": 8,
                    "pad_token_id": V - 1, "partial_rotary_factor": 0.75,
                    "rope_scaling": {"long_factor": grid(1.0, 8.0), "short_factor": grid(1.0, 1.5),
                                     "type": "longrope"},
                    "sliding_window": None, "tie_word_embeddings": True, "transformers_version": "4.45.0"})
        cfg = dict(sorted(cfg.items()))
    sd = {"model.embed_tokens.weight": w.normal(V, d)}
    for l in range(layers):
        L = "model.layers.%d." % l
        sd[L + "input_layernorm.weight"] = w.norm(d)
        sd[L + "self_attn.qkv_proj.weight"] = w.linear((n + 2 * kv) * e, d)  # q rows, k rows, v rows
        sd[L + "self_attn.o_proj.weight"] = w.linear(d, n * e)
        sd[L + "post_attention_layernorm.weight"] = w.norm(d)
        sd[L + "mlp.gate_up_proj.weight"] = w.linear(2 * inter, d)  # gate rows, then up rows
        sd[L + "mlp.down_proj.weight"] = w.linear(d, inter)
    sd["model.norm.weight"] = w.norm(d)
    if not cfg["tie_word_embeddings"]:
        sd["lm_head.weight"] = w.linear(V, d)
    return cfg, sd, lambda s, ids, bug=None: decoder_forward(s, cfg, ids, bug), 1


FIXTURES = {
    # gpt2's own file: no "transformer." prefix, F32, float mask buffers, no lm_head
    "gpt2": lambda: gpt2_fixture(1, torch.float32, False, True, False, torch.float32),
    # distilgpt2-like names with the prefix, a tied lm_head stored anyway, F16, uint8 masks
    "gpt2_prefix": lambda: gpt2_fixture(2, torch.float16, True, True, True, torch.uint8),
    # three shards and an index; untied lm_head; bool masks
    "gpt2_sharded": lambda: gpt2_fixture(3, torch.float32, True, False, True, torch.bool, shards=3),
    "llama": lambda: llama_family_fixture(4, "llama"),
    "qwen2": lambda: llama_family_fixture(5, "qwen2"),
    "qwen3": lambda: llama_family_fixture(6, "qwen3"),
    "gpt_neox": lambda: neox_fixture(7, torch.float16, True, 0.25),
    "gpt_neox_sequential": lambda: neox_fixture(8, torch.float32, False, 0.5),
    "opt": lambda: opt_fixture(9),
    # sliding window 5 < SEQ on every layer, GQA, explicit head_dim, untied, BF16
    "mistral": lambda: mistral_fixture(10, torch.bfloat16, 5),
    # Mistral v0.2+ style "sliding_window": null, F16
    "mistral_nowindow": lambda: mistral_fixture(11, torch.float16, None),
    # sqrt(d) embedding scale, (1 + w) norms, tanh GeGLU, head_dim 16 != 48 / 4, one kv head, tied, BF16
    "gemma": lambda: gemma_fixture(12, "gemma"),
    # gemma plus post norms, soft-caps, query_pre_attn_scalar 24, window 4 on layers 0, 2, ...
    "gemma2": lambda: gemma_fixture(13, "gemma2"),
    # fused qkv_proj / gate_up_proj, GQA, window 6, untied
    "phi3": lambda: phi3_fixture(14, False),
    # longrope (long factors: 12 > original 8), partial rotary 0.75, tied, no window
    "phi3_longrope": lambda: phi3_fixture(15, True),
}

# One deliberate mistake per fixture for reference_broken.npz: (forward's bug key, description).
_GPT2_BUG = ("conv1d_as_linear", "Conv1D weights read as nn.Linear [out, in] (the stored [in, out] bytes "
                                 "reinterpreted: transposed where square)")
_NEOX_BUG = ("qkv_blocks", "query_key_value split as [q | k | v] blocks over the whole width instead of "
                           "[q | k | v] per head")
BROKEN = {
    "gpt2": _GPT2_BUG,
    "gpt2_prefix": _GPT2_BUG,
    "gpt2_sharded": _GPT2_BUG,
    "llama": ("rope_interleaved", "rotary on interleaved pairs (2i, 2i + 1) instead of rotate-half"),
    "qwen2": ("no_qk_bias", "q_proj and k_proj biases dropped"),
    "qwen3": ("qk_norm_after_rope", "q_norm / k_norm applied after the rotary instead of before"),
    "gpt_neox": _NEOX_BUG,
    "gpt_neox_sequential": _NEOX_BUG,
    "opt": ("no_pos_offset", "learned positions read from row i instead of row i + 2"),
    "mistral": ("no_window", "sliding_window 5 ignored (full causal attention)"),
    "mistral_nowindow": ("window_5", "a sliding window of 5 applied although sliding_window is null"),
    "gemma": ("norm_w", "RMSNorm weights used as w instead of (1 + w)"),
    "gemma2": ("no_attn_softcap", "attention scores not soft-capped (attn_logit_softcapping ignored)"),
    "phi3": ("gate_up_swapped", "gate_up_proj halves swapped (gate taken from the second half, up from the first)"),
    "phi3_longrope": ("short_factors", "longrope short_factor used instead of long_factor for the 12-token "
                                       "prompt (> original_max_position_embeddings 8)"),
}


def save_reference(path, ids, ref):
    arrays = {"tokens": ids.numpy().astype(np.int64)}
    arrays.update({k: v.numpy().astype(np.float32) for k, v in ref.items() if k != "resid_final"})
    np.savez(path, **arrays)


def main():
    args = sys.argv[1:]
    broken = "--broken" in args
    args = [a for a in args if a != "--broken"]
    if not args:
        sys.exit(__doc__)
    out_dir, names = args[0], args[1:] or list(FIXTURES)
    unknown = [n for n in names if n not in FIXTURES]
    if unknown:
        sys.exit("unknown fixture(s) %s; known: %s" % (", ".join(unknown), ", ".join(FIXTURES)))
    for name in names:
        cfg, sd, forward, shards = FIXTURES[name]()
        folder = os.path.join(out_dir, name)
        write_folder(folder, cfg, sd, shards)
        g = torch.Generator().manual_seed(1000 + len(name))
        ids = torch.randint(0, cfg["vocab_size"], (BATCH, SEQ), generator=g)
        weights = f64(sd)
        save_reference(os.path.join(folder, "reference.npz"), ids, forward(weights, ids))
        if broken:
            bug, what = BROKEN[name]
            save_reference(os.path.join(folder, "reference_broken.npz"), ids, forward(weights, ids, bug))
            with open(os.path.join(folder, "reference_broken.txt"), "w") as f:
                f.write(what + "\n")
        print(name, folder)


if __name__ == "__main__":
    main()
