// MappedModel: streamed float32 inference over mapped weights (see mapped_model.h).
#include "model/mapped_model.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "io/units.h"
#include "model/hooked_transformer.h"

namespace hs::model {

// [SECTION] memory
int64_t AvailableMemoryBytes() {
  int64_t avail = std::numeric_limits<int64_t>::max();
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit)
    if (key == "MemAvailable:") {
      avail = kib * 1024;
      break;
    }
  rlimit lim{};
  if (getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    // The address space left: the limit minus what is mapped now (VmSize).
    std::ifstream statm("/proc/self/statm");
    int64_t pages = 0;
    statm >> pages;
    const int64_t left = int64_t(lim.rlim_cur) - pages * int64_t(sysconf(_SC_PAGESIZE));
    avail = std::min(avail, std::max<int64_t>(left, 0));
  }
  return avail;
}

std::string GiB(double bytes) { return io::ByteSize(bytes); }

// [SECTION] layer stores
torch::Tensor LayerStore::P(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? torch::Tensor() : it->second;
}

int64_t LayerStore::Bytes() const { return block.defined() ? block.numel() * 4 : 0; }

namespace {
// One layer's weights in one block of memory on transparent huge pages:
// converting a layer then faults 2 MB pages, not 4 KB ones (this VM charges
// a lot per fault).
torch::Tensor HugeBlock(int64_t floats) {
  constexpr size_t kHuge = size_t(2) << 20;
  const size_t bytes = (size_t(floats) * sizeof(float) + kHuge - 1) / kHuge * kHuge;
  void* p = nullptr;
  if (posix_memalign(&p, kHuge, bytes) != 0) throw std::bad_alloc();
  ::madvise(p, bytes, MADV_HUGEPAGE);
  return torch::from_blob(p, {floats}, [](void* q) { std::free(q); }, torch::kFloat);
}
}  // namespace

LayerStore MakeLayerStore(const TransformerConfig& c) {
  const int64_t D = c.d_model, H = c.n_heads, KV = c.NumKVHeads(), E = c.d_head, M = c.d_mlp;
  // Matrices are stored as the file stores them, so that converting a layer
  // is a straight copy: [out, in] (nn.Linear) for every architecture but
  // GPT-2, whose Conv1D stores [in, out]. The GEMMs take either (a
  // transposed operand costs BLAS nothing).
  const bool out_in = c.original_architecture != "gpt2";
  const int64_t QKV = (H + 2 * KV) * E;
  int64_t total = 0;
  torch::Tensor block;
  auto carve = [&](std::vector<int64_t> shape) {  // the next piece of the block (64-byte aligned)
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const int64_t at = total;
    total += (n + 15) / 16 * 16;
    return block.defined() ? block.narrow(0, at, n).view(shape) : torch::Tensor();
  };
  LayerStore s;
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) block = HugeBlock(total), total = 0;
    s = LayerStore{};
    auto add = [&](const std::string& name, std::vector<int64_t> shape) { s.params[name] = carve(shape); };
    if (c.HasNorm()) {
      add("ln1.w", {D});
      add("ln2.w", {D});
      if (c.normalization == "LN") add("ln1.b", {D}), add("ln2.b", {D});
      if (c.post_norms) {
        add("ln1_post.w", {D}), add("ln2_post.w", {D});
        if (c.normalization == "LN") add("ln1_post.b", {D}), add("ln2_post.b", {D});
      }
    }
    const torch::Tensor qkv = carve(out_in ? std::vector<int64_t>{QKV, D} : std::vector<int64_t>{D, QKV});
    if (pass == 1) {
      s.qkv_w = out_in ? qkv.t() : qkv;  // [D, QKV] either way
      auto heads_view = [&](int64_t col0, int64_t n) {  // [n, D, E]: the projection of heads col0 / E ...
        return out_in ? qkv.narrow(0, col0, n * E).view({n, E, D}).permute({0, 2, 1})
                      : qkv.narrow(1, col0, n * E).view({D, n, E}).permute({1, 0, 2});
      };
      s.params["attn.W_Q"] = heads_view(0, H);
      s.params["attn.W_K"] = heads_view(H * E, KV);
      s.params["attn.W_V"] = heads_view((H + KV) * E, KV);
    }
    if (c.attn_qkv_bias) {
      s.qkv_b = carve({QKV});
      if (pass == 1) {
        s.params["attn.b_Q"] = s.qkv_b.narrow(0, 0, H * E).view({H, E});
        s.params["attn.b_K"] = s.qkv_b.narrow(0, H * E, KV * E).view({KV, E});
        s.params["attn.b_V"] = s.qkv_b.narrow(0, (H + KV) * E, KV * E).view({KV, E});
      }
    }
    if (out_in) {  // o_proj [D, H E] as TL's [H, E, D]
      const torch::Tensor o = carve({D, H * E});
      if (pass == 1) s.params["attn.W_O"] = o.view({D, H, E}).permute({1, 2, 0});
    } else {
      add("attn.W_O", {H, E, D});
    }
    if (c.attn_out_bias) add("attn.b_O", {D});
    if (c.qk_norm) add("attn.q_norm.w", {E}), add("attn.k_norm.w", {E});
    auto matrix = [&](const std::string& name, int64_t in, int64_t out) {  // TL [in, out]
      const torch::Tensor m = carve(out_in ? std::vector<int64_t>{out, in} : std::vector<int64_t>{in, out});
      s.params[name] = out_in && m.defined() ? m.t() : m;
    };
    matrix("mlp.W_in", D, M);
    if (c.gated_mlp) matrix("mlp.W_gate", D, M);
    if (c.mlp_bias) add("mlp.b_in", {M}), add("mlp.b_out", {D});
    matrix("mlp.W_out", M, D);
  }
  s.block = block;
  return s;
}

// [SECTION] the model
struct MappedModel::Impl {
  std::unique_ptr<Parts> parts;
  std::vector<bool> filled;  // resident layers converted
  int slot_layer = -1;       // the layer the shared slot holds
  std::mutex mu;             // one run at a time

  const LayerStore& Layer(int l) {
    Parts& p = *parts;
    if (l < p.resident_layers) {
      if (!filled[l]) {
        for (auto& f : p.fill[l]) f();
        filled[l] = true;
      }
    } else if (slot_layer != l) {
      slot_layer = -1;  // half-filled if a conversion throws
      for (auto& f : p.fill[l]) f();
      slot_layer = l;
    }
    return p.stores[l];
  }
};

MappedModel::MappedModel(std::unique_ptr<Parts> parts) : m(std::make_unique<Impl>()) {
  m->parts = std::move(parts);
  m->filled.assign(m->parts->cfg.n_layers, false);
}
MappedModel::~MappedModel() = default;

const TransformerConfig& MappedModel::cfg() const { return m->parts->cfg; }
const HFModelInfo& MappedModel::info() const { return m->parts->info; }
int64_t MappedModel::LayerBytes() const { return m->parts->stores.empty() ? 0 : m->parts->stores[0].Bytes(); }
int MappedModel::ResidentLayers() const { return m->parts->resident_layers; }

int64_t MappedModel::WorkingBytes(int64_t T) const {
  const auto& c = cfg();
  const int64_t D = c.d_model, H = c.n_heads, KV = c.NumKVHeads(), E = c.d_head, M = c.d_mlp, L = c.n_layers;
  int64_t floats = T * (4 * D + 2 * (H + 2 * KV) * E + 3 * M);  // residual, normed input, qkv, MLP
  floats += (c.sliding_window > 0 ? 2 : 1) * T * T / 4;         // the attention masks, one byte an entry
  floats += L * T * (H + 2 * KV) * E;                             // the prefix cache (q, k, v per layer)
  const int64_t chunk = std::max<int64_t>(int64_t(128) << 20, T * T * 4);  // one chunk of pattern, at least a head
  return floats * 4 + 3 * chunk + (int64_t(64) << 20);
}

namespace {
void CheckTokens(const TransformerConfig& c, const std::vector<int64_t>& tokens) {
  if (tokens.empty()) throw std::invalid_argument("no tokens");
  if (int64_t(tokens.size()) > c.n_ctx)
    throw std::invalid_argument(std::to_string(tokens.size()) + " tokens, but the model has only " +
                                std::to_string(c.n_ctx) + " positions");
  for (int64_t t : tokens)
    if (t < 0 || t >= c.d_vocab)
      throw std::invalid_argument("token id " + std::to_string(t) + " outside the vocabulary [0, " +
                                  std::to_string(c.d_vocab) + ")");
}

// x [rows, in] times W [in, out] plus an optional bias, as HookedTransformer::Run.
torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& W, const torch::Tensor& b) {
  return b.defined() ? torch::addmm(b, x, W) : torch::mm(x, W);
}
}  // namespace

torch::Tensor MappedModel::LogitsLocked(torch::Tensor resid, bool norm_and_bias) {
  const TransformerConfig& c = cfg();
  Parts& parts = *m->parts;
  const int64_t D = c.d_model;
  if (c.final_norm && norm_and_bias) {
    auto it = parts.globals.find("ln_final.b");
    resid = NormForward(c.normalization, resid, parts.globals.at("ln_final.w"),
                        it == parts.globals.end() ? torch::Tensor() : it->second, c.eps);
  }
  // Through the vocabulary in chunks of rows: the unembedding stays mapped.
  const int64_t V = c.d_vocab_out, rows = std::max<int64_t>(1, (int64_t(64) << 20) / (4 * D));
  torch::Tensor logits = torch::empty({resid.size(0), V});
  torch::Tensor w = torch::empty({std::min(rows, V), D});
  for (int64_t r0 = 0; r0 < V && resid.size(0) > 0; r0 += rows) {
    const int64_t rn = std::min(rows, V - r0);
    parts.unembed_rows(r0, rn, w.data_ptr<float>());
    logits.narrow(1, r0, rn).copy_(torch::mm(resid, w.narrow(0, 0, rn).t()));
  }
  if (!norm_and_bias) return logits;
  auto b = parts.globals.find("unembed.b_U");
  if (b != parts.globals.end()) logits += b->second;
  SoftcapInPlace(logits, c.final_softcap);  // Gemma 2
  return logits;
}

torch::Tensor MappedModel::Unembed(const torch::Tensor& x) {
  std::lock_guard<std::mutex> lock(m->mu);
  torch::NoGradGuard no_grad;
  return LogitsLocked(x, false);
}

torch::Tensor MappedModel::Logits(const torch::Tensor& resid) {
  std::lock_guard<std::mutex> lock(m->mu);
  torch::NoGradGuard no_grad;
  return LogitsLocked(resid);
}

bool MappedModel::Run(const std::vector<int64_t>& tokens, const RunSpec& spec, PrefixCache* cache,
                      torch::Tensor* logits) {
  using torch::indexing::Slice;
  const TransformerConfig& c = cfg();
  CheckTokens(c, tokens);
  std::lock_guard<std::mutex> lock(m->mu);
  std::optional<torch::NoGradGuard> no_grad;
  if (!spec.track_grad) no_grad.emplace();
  Parts& parts = *m->parts;
  const int64_t T = int64_t(tokens.size());
  const int64_t D = c.d_model, H = c.n_heads, KV = c.NumKVHeads(), E = c.d_head;
  const int L = c.n_layers;
  const int last = spec.last_layer < 0 ? L - 1 : std::min(spec.last_layer, L - 1);
  const bool full = spec.last_layer < 0;

  const bool hooked = spec.hook_z || spec.hook_post || spec.hook_resid_pre || spec.start_layer > 0;
  if (cache && hooked) throw std::invalid_argument("a run with interventions cannot use the prefix cache");
  if (spec.start_layer < 0 || spec.start_layer > last)
    throw std::invalid_argument("start layer " + std::to_string(spec.start_layer) + " outside the layers run");
  if (spec.start_layer > 0 && (!spec.start_resid.defined() || spec.start_resid.dim() != 2 ||
                               spec.start_resid.size(0) != T || spec.start_resid.size(1) != c.d_model))
    throw std::invalid_argument("starting at a later layer needs its resid_pre for every token");
  if (spec.track_grad && Streams())
    throw DoesNotFit("gradients need every layer's weights kept in memory, but this model streams " +
                     std::to_string(c.n_layers - ResidentLayers()) + " of its " + std::to_string(c.n_layers) +
                     " layers through one slot");
  int64_t need = WorkingBytes(T);
  // The graph keeps, per layer, the patterns and a few activations of every row.
  if (spec.track_grad) need += int64_t(L) * T * (3 * c.n_heads * T + 12 * c.d_model + 4 * c.d_mlp) * 4;
  const int64_t avail = AvailableMemoryBytes();
  if (need > avail)
    throw DoesNotFit("a " + std::to_string(T) + "-token prompt needs " + GiB(double(need)) + " of working memory " +
                     (spec.track_grad ? "with gradients " : "") + "on this model, but " + GiB(double(avail)) +
                     " is available");

  // Rows shared with the cached prompt are not run again (at least one row is).
  // Longrope rotates every position by the long factors once the prompt is
  // longer than the original context, so crossing it recomputes all rows.
  int64_t p = 0;
  if (cache) {
    const int64_t orig = c.rope_original_max_position;
    const bool same_rope = !c.LongRope() || (int64_t(cache->tokens.size()) > orig) == (T > orig);
    if (same_rope && cache->layers >= last + 1 && (!spec.keep_queries || !cache->q.empty())) {
      const int64_t n = std::min<int64_t>(int64_t(cache->tokens.size()), T);
      while (p < n && cache->tokens[p] == tokens[p]) ++p;
      p = std::min({p, T - 1, std::max<int64_t>(spec.reuse_max, 0)});
      p -= p % std::max<int64_t>(spec.reuse_align, 1);
    }
    if (p == 0) cache->Clear();
    // Until this run completes the cache describes no prompt (a cancelled
    // run leaves some layers' keys new and others old).
    cache->tokens.clear();
    cache->layers = 0;
  }
  const int64_t n = T - p;

  torch::Tensor resid;
  if (spec.start_layer > 0) {
    resid = spec.hook_resid_pre ? spec.start_resid.clone() : spec.start_resid;  // the hook may edit it in place
  } else {
    resid = torch::empty({n, D});
    parts.embed_rows(tokens.data() + p, n, resid.data_ptr<float>());
    if (c.embed_scale > 0) resid.mul_(c.embed_scale);  // Gemma: float32 sqrt(d_model)
    if (c.positional_embedding == "standard") resid = resid + parts.globals.at("pos_embed.W_pos").narrow(0, p, n);
  }
  const bool rotary = c.positional_embedding == "rotary";
  torch::Tensor rot_cos, rot_sin;
  if (rotary) {
    std::tie(rot_cos, rot_sin) = RotaryTables(c, T);
    rot_cos = rot_cos.narrow(0, p, n), rot_sin = rot_sin.narrow(0, p, n);
  }
  // Key j is masked for new row r (position p + r) when j > p + r (and, on
  // windowed layers, when j <= p + r - window).
  // One mask per kind of layer, built once: [n, T] bools each.
  bool any_causal = false;
  for (int l = 0; l <= last; ++l) any_causal |= c.Window(l) == 0;
  const torch::Tensor causal_mask = any_causal ? AttentionMask(p, n, T, 0) : torch::Tensor();
  const torch::Tensor window_mask = c.sliding_window > 0 ? AttentionMask(p, n, T, c.sliding_window) : torch::Tensor();
  const double scale = c.AttnScale();
  const int64_t group = H / KV;
  const int64_t heads_per_chunk = std::clamp<int64_t>(spec.chunk_bytes / std::max<int64_t>(n * T * 4, 1), 1, H);
  if (cache) {
    cache->k.resize(L), cache->v.resize(L), cache->q.resize(spec.keep_queries ? L : 0);
  }

  for (int l = spec.start_layer; l <= last; ++l) {
    const LayerStore& s = m->Layer(l);
    if (spec.hook_resid_pre) spec.hook_resid_pre(l, resid);
    torch::Tensor x = resid;
    if (c.HasNorm()) x = NormForward(c.normalization, resid, s.P("ln1.w"), s.P("ln1.b"), c.eps);
    const torch::Tensor qkv = Linear(x, s.qkv_w, s.qkv_b).view({n, H + 2 * KV, E});
    torch::Tensor q = qkv.narrow(1, 0, H), k = qkv.narrow(1, H, KV), v = qkv.narrow(1, H + KV, KV);
    if (c.qk_norm) {
      q = NormForward("RMS", q, s.P("attn.q_norm.w"), {}, c.eps);
      k = NormForward("RMS", k, s.P("attn.k_norm.w"), {}, c.eps);
    }
    if (rotary) {
      q = ApplyRotary(q.unsqueeze(0), rot_cos, rot_sin).squeeze(0);
      k = ApplyRotary(k.unsqueeze(0), rot_cos, rot_sin).squeeze(0);
    }
    if (spec.on_qk) spec.on_qk(l, q, k);
    torch::Tensor K = k, V = v, Q = q;  // every row so far: [T, heads, d_head]
    if (p > 0) {
      K = torch::cat({cache->k[l].narrow(0, 0, p), k});
      V = torch::cat({cache->v[l].narrow(0, 0, p), v});
      if (spec.keep_queries) Q = torch::cat({cache->q[l].narrow(0, 0, p), q});
    }
    if (cache) {
      cache->k[l] = K.contiguous(), cache->v[l] = V.contiguous();
      if (spec.keep_queries) cache->q[l] = Q.contiguous();
    }
    const torch::Tensor kh = K.permute({1, 0, 2}), vh = V.permute({1, 0, 2});  // [KV, T, E]
    const torch::Tensor qh = q.permute({1, 0, 2});                             // [H, n, E]
    const bool need_z = full || l < last || static_cast<bool>(spec.on_z);
    const torch::Tensor& mask = c.Window(l) > 0 ? window_mask : causal_mask;
    torch::Tensor z = need_z ? torch::empty({H, n, E}) : torch::Tensor();
    for (int64_t h0 = 0; h0 < H; h0 += heads_per_chunk) {
      const int64_t hn = std::min(heads_per_chunk, H - h0);
      const torch::Tensor kv_index = torch::arange(h0, h0 + hn, torch::kLong).div(group, "floor");
      const torch::Tensor kc = group == 1 ? kh.narrow(0, h0, hn) : kh.index_select(0, kv_index);
      // Scaled inside the GEMM (alpha): one pass over the T x T scores fewer.
      torch::Tensor scores = torch::empty({hn, n, T});
      scores = torch::baddbmm(scores, qh.narrow(0, h0, hn), kc.transpose(1, 2), /*beta=*/0, /*alpha=*/scale);
      SoftcapInPlace(scores, c.attn_softcap);
      scores.masked_fill_(mask, -std::numeric_limits<float>::infinity());
      const torch::Tensor pattern = torch::softmax(scores, -1);
      scores = torch::Tensor();
      if (spec.on_pattern) spec.on_pattern(PatternChunk{l, int(h0), int(hn), p, T, pattern});
      if (need_z) {
        const torch::Tensor vc = group == 1 ? vh.narrow(0, h0, hn) : vh.index_select(0, kv_index);
        z.narrow(0, h0, hn).copy_(torch::matmul(pattern, vc));
      }
    }
    if (!need_z) {
      if (spec.on_progress && !spec.on_progress(l + 1, last + 1)) return false;
      break;
    }
    if (spec.track_grad && !z.requires_grad()) z.requires_grad_(true);  // layer 0: the graph starts here
    if (spec.hook_z) spec.hook_z(l, z);
    if (spec.on_z) spec.on_z(l, z);
    if (!full && l == last) {  // z was wanted by on_z only
      if (spec.on_progress && !spec.on_progress(l + 1, last + 1)) return false;
      break;
    }
    const torch::Tensor zr = z.permute({1, 0, 2}).reshape({n, H * E});
    torch::Tensor attn_out = torch::mm(zr, s.P("attn.W_O").reshape({H * E, D}));  // a view for either layout
    if (s.P("attn.b_O").defined()) attn_out = attn_out + s.P("attn.b_O");
    if (c.post_norms) attn_out = NormForward(c.normalization, attn_out, s.P("ln1_post.w"), s.P("ln1_post.b"), c.eps);
    torch::Tensor mlp_in;
    if (c.parallel_attn_mlp) {
      mlp_in = resid;
    } else {
      resid = resid + attn_out;
      mlp_in = resid;
    }
    if (c.HasNorm()) mlp_in = NormForward(c.normalization, mlp_in, s.P("ln2.w"), s.P("ln2.b"), c.eps);
    torch::Tensor post;
    if (s.P("mlp.W_gate").defined()) {
      const torch::Tensor gate = torch::mm(mlp_in, s.P("mlp.W_gate"));
      post = ActivationFn(c.act_fn, gate) * Linear(mlp_in, s.P("mlp.W_in"), s.P("mlp.b_in"));
    } else {
      post = ActivationFn(c.act_fn, Linear(mlp_in, s.P("mlp.W_in"), s.P("mlp.b_in")));
    }
    if (spec.hook_post) spec.hook_post(l, post);
    torch::Tensor mlp_out = Linear(post, s.P("mlp.W_out"), s.P("mlp.b_out"));
    if (c.post_norms) mlp_out = NormForward(c.normalization, mlp_out, s.P("ln2_post.w"), s.P("ln2_post.b"), c.eps);
    resid = c.parallel_attn_mlp ? resid + attn_out + mlp_out : resid + mlp_out;
    if (spec.on_progress && !spec.on_progress(l + 1, last + 1)) return false;
  }
  if (cache) {
    cache->tokens = tokens;
    cache->layers = last + 1;
  }
  if (full && spec.on_resid_final) spec.on_resid_final(resid);
  if (full && logits) {
    if (spec.logit_rows >= 0 && spec.logit_rows < n) resid = resid.narrow(0, n - spec.logit_rows, spec.logit_rows);
    *logits = LogitsLocked(resid);
  }
  return true;
}

torch::Tensor MappedModel::LayerWeight(int layer, const std::string& name) {
  const TransformerConfig& c = cfg();
  if (layer < 0 || layer >= c.n_layers) throw std::invalid_argument("no layer " + std::to_string(layer));
  std::lock_guard<std::mutex> lock(m->mu);
  const torch::Tensor w = m->Layer(layer).P(name);
  if (!w.defined()) return {};
  if (name == "attn.W_O") return w.reshape({c.n_heads, c.d_head, c.d_model}).clone();
  return w.clone();
}

torch::Tensor MappedModel::HeadOutputWeight(int layer, int head) {
  const TransformerConfig& c = cfg();
  if (layer < 0 || layer >= c.n_layers || head < 0 || head >= c.n_heads)
    throw std::invalid_argument("no head L" + std::to_string(layer) + "H" + std::to_string(head));
  std::lock_guard<std::mutex> lock(m->mu);
  return m->Layer(layer).P("attn.W_O").reshape({c.n_heads, c.d_head, c.d_model})[head].clone();
}

torch::Tensor MappedModel::UnembedColumns(const std::vector<int64_t>& ids) {
  const TransformerConfig& c = cfg();
  torch::Tensor rows = torch::empty({int64_t(ids.size()), c.d_model});
  std::lock_guard<std::mutex> lock(m->mu);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= c.d_vocab_out)
      throw std::invalid_argument("token id " + std::to_string(ids[i]) + " outside the output vocabulary [0, " +
                                  std::to_string(c.d_vocab_out) + ")");
    m->parts->unembed_rows(ids[i], 1, rows.data_ptr<float>() + int64_t(i) * c.d_model);
  }
  return rows.t().contiguous();
}

torch::Tensor MappedModel::EmbedRows(const std::vector<int64_t>& ids) {
  const TransformerConfig& c = cfg();
  for (int64_t t : ids)
    if (t < 0 || t >= c.d_vocab)
      throw std::invalid_argument("token id " + std::to_string(t) + " outside the vocabulary [0, " +
                                  std::to_string(c.d_vocab) + ")");
  torch::Tensor rows = torch::empty({int64_t(ids.size()), c.d_model});
  std::lock_guard<std::mutex> lock(m->mu);
  if (!ids.empty()) m->parts->embed_rows(ids.data(), int64_t(ids.size()), rows.data_ptr<float>());
  return rows;
}

torch::Tensor MappedModel::GlobalWeight(const std::string& name) const {
  auto it = m->parts->globals.find(name);
  return it == m->parts->globals.end() ? torch::Tensor() : it->second;
}

torch::Tensor MappedModel::HeadPattern(const PrefixCache& cache, int layer, int head) const {
  const TransformerConfig& c = cfg();
  if (layer < 0 || layer >= cache.layers || head < 0 || head >= c.n_heads || int(cache.q.size()) <= layer ||
      !cache.q[layer].defined())
    return {};
  torch::NoGradGuard no_grad;
  const int64_t T = cache.q[layer].size(0), group = c.n_heads / c.NumKVHeads();
  const torch::Tensor q = cache.q[layer].select(1, head), k = cache.k[layer].select(1, head / group);  // [T, E]
  torch::Tensor scores = torch::mm(q, k.t()) * c.AttnScale();
  SoftcapInPlace(scores, c.attn_softcap);
  scores.masked_fill_(AttentionMask(0, T, T, c.Window(layer)), -std::numeric_limits<float>::infinity());
  return torch::softmax(scores, -1);
}

}  // namespace hs::model
