// HookedTransformer forward pass with TransformerLens hook names.
#include "model/hooked_transformer.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <tuple>

#include "io/array.h"
#include "model/ops.h"

namespace hs::model {
namespace {
torch::Tensor Param(torch::nn::Module& m, const char* name, torch::IntArrayRef shape) {
  return m.register_parameter(name, torch::zeros(shape));
}
}  // namespace

EmbedImpl::EmbedImpl(const TransformerConfig& c) { W_E = Param(*this, "W_E", {c.d_vocab, c.d_model}); }
PosEmbedImpl::PosEmbedImpl(const TransformerConfig& c) { W_pos = Param(*this, "W_pos", {c.n_ctx, c.d_model}); }

NormImpl::NormImpl(const std::string& kind_, int64_t dim, double eps_) : kind(kind_), eps(eps_) {
  w = register_parameter("w", torch::ones({dim}));
  if (kind == "LN") b = Param(*this, "b", {dim});
}

torch::Tensor NormForward(const std::string& kind, const torch::Tensor& x, const torch::Tensor& w,
                          const torch::Tensor& b, double eps) {
  if (kind == "LN") return torch::layer_norm(x, {x.size(-1)}, w, b, eps);
  // RMSNorm as Llama/Qwen: x / sqrt(mean(x^2) + eps) * w.
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * w;
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) const { return NormForward(kind, x, w, b, eps); }

AttentionImpl::AttentionImpl(const TransformerConfig& c) {
  const int64_t kv = c.NumKVHeads();
  W_Q = Param(*this, "W_Q", {c.n_heads, c.d_model, c.d_head});
  W_K = Param(*this, "W_K", {kv, c.d_model, c.d_head});
  W_V = Param(*this, "W_V", {kv, c.d_model, c.d_head});
  W_O = Param(*this, "W_O", {c.n_heads, c.d_head, c.d_model});
  if (c.attn_qkv_bias) {
    b_Q = Param(*this, "b_Q", {c.n_heads, c.d_head});
    b_K = Param(*this, "b_K", {kv, c.d_head});
    b_V = Param(*this, "b_V", {kv, c.d_head});
  }
  if (c.attn_out_bias) b_O = Param(*this, "b_O", {c.d_model});
  if (c.qk_norm) {
    q_norm = register_module("q_norm", Norm("RMS", c.d_head, c.eps));
    k_norm = register_module("k_norm", Norm("RMS", c.d_head, c.eps));
  }
}

std::pair<torch::Tensor, torch::Tensor> AttentionImpl::PackedQKV() {
  std::lock_guard<std::mutex> lock(m_packed_mu);
  std::vector<int64_t> key;
  for (const torch::Tensor* t : {&W_Q, &W_K, &W_V, &b_Q, &b_K, &b_V})
    if (t->defined()) {
      key.push_back(reinterpret_cast<int64_t>(t->data_ptr()));
      key.push_back(t->_version());
    }
  if (key != m_packed_key) {
    torch::NoGradGuard no_grad;
    auto cols = [](const torch::Tensor& W) { return W.permute({1, 0, 2}).reshape({W.size(1), -1}); };
    m_packed_w = torch::cat({cols(W_Q), cols(W_K), cols(W_V)}, 1).contiguous();
    m_packed_b = b_Q.defined() ? torch::cat({b_Q.reshape(-1), b_K.reshape(-1), b_V.reshape(-1)}) : torch::Tensor();
    m_packed_key = key;
  }
  return {m_packed_w, m_packed_b};
}

MLPImpl::MLPImpl(const TransformerConfig& c) {
  W_in = Param(*this, "W_in", {c.d_model, c.d_mlp});
  if (c.gated_mlp) W_gate = Param(*this, "W_gate", {c.d_model, c.d_mlp});
  if (c.mlp_bias) b_in = Param(*this, "b_in", {c.d_mlp});
  W_out = Param(*this, "W_out", {c.d_mlp, c.d_model});
  if (c.mlp_bias) b_out = Param(*this, "b_out", {c.d_model});
}

TransformerBlockImpl::TransformerBlockImpl(const TransformerConfig& c) {
  if (c.HasNorm()) ln1 = register_module("ln1", Norm(c.normalization, c.d_model, c.eps));
  if (c.HasNorm()) ln2 = register_module("ln2", Norm(c.normalization, c.d_model, c.eps));
  attn = register_module("attn", Attention(c));
  mlp = register_module("mlp", MLP(c));
  if (c.post_norms) {
    ln1_post = register_module("ln1_post", Norm(c.normalization, c.d_model, c.eps));
    ln2_post = register_module("ln2_post", Norm(c.normalization, c.d_model, c.eps));
  }
}

UnembedImpl::UnembedImpl(const TransformerConfig& c) {
  if (!c.tied_embeddings) W_U = Param(*this, "W_U", {c.d_model, c.d_vocab_out});
  if (c.unembed_bias) b_U = Param(*this, "b_U", {c.d_vocab_out});
}

HookedTransformerImpl::HookedTransformerImpl(TransformerConfig cfg) : m_cfg(std::move(cfg)) {
  m_cfg.Validate();
  embed = register_module("embed", Embed(m_cfg));
  if (m_cfg.positional_embedding == "standard") pos_embed = register_module("pos_embed", PosEmbed(m_cfg));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int l = 0; l < m_cfg.n_layers; ++l) blocks->push_back(TransformerBlock(m_cfg));
  if (m_cfg.final_norm) ln_final = register_module("ln_final", Norm(m_cfg.normalization, m_cfg.d_model, m_cfg.eps));
  unembed = register_module("unembed", Unembed(m_cfg));
}

torch::Tensor HookedTransformerImpl::UnembedMatrix() const {
  return m_cfg.tied_embeddings ? embed->W_E.t() : unembed->W_U;
}

void HookedTransformerImpl::InitWeights(uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  const double std = m_cfg.InitRange();
  for (auto& np : named_parameters()) {
    const std::string& name = np.key();
    const size_t dot = name.rfind('.');
    const std::string leaf = name.substr(dot == std::string::npos ? 0 : dot + 1);
    if (leaf.rfind("W_", 0) == 0)
      np.value().normal_(0.0, std, gen);
    else if (leaf == "w")  // norm weights
      np.value().fill_(1.0);
    else
      np.value().zero_();
  }
}

std::map<std::string, torch::Tensor> HookedTransformerImpl::StateDict() const {
  std::map<std::string, torch::Tensor> sd;
  for (const auto& np : named_parameters()) sd[np.key()] = np.value();
  return sd;
}

void HookedTransformerImpl::LoadStateDict(const std::map<std::string, torch::Tensor>& sd) {
  torch::NoGradGuard no_grad;
  for (auto& np : named_parameters()) {
    auto it = sd.find(np.key());
    if (it == sd.end()) throw std::invalid_argument("state dict lacks '" + np.key() + "'");
    if (it->second.sizes() != np.value().sizes()) {
      auto shape = [](torch::IntArrayRef s) { return io::ShapeString(std::vector<int64_t>(s.begin(), s.end())); };
      throw std::invalid_argument("'" + np.key() + "' has shape " + shape(it->second.sizes()) +
                                  " but the model expects " + shape(np.value().sizes()));
    }
    np.value().copy_(it->second.to(torch::kFloat32));
  }
}

torch::Tensor HookedTransformerImpl::forward(const torch::Tensor& tokens) { return Run(tokens, nullptr); }

torch::Tensor HookedTransformerImpl::forward_with_cache(const torch::Tensor& tokens, ActivationCache& cache) {
  cache = ActivationCache(m_cfg.n_layers);
  return Run(tokens, &cache);
}

torch::Tensor HookedTransformerImpl::forward_with_cache(const torch::Tensor& tokens, ActivationCache& cache,
                                                        const std::string& stop_after) {
  cache = ActivationCache(m_cfg.n_layers);
  return Run(tokens, &cache, stop_after);
}

std::pair<torch::Tensor, torch::Tensor> RotaryTables(const TransformerConfig& m_cfg, int64_t n_pos) {
  // As Hugging Face computes them, in float32: inv_freq_i = 1 / base^(2i/dim),
  // angle = pos * inv_freq, both halves of the rotated dims share a frequency.
  const int64_t dim = m_cfg.RotaryDim();
  const torch::Tensor exponent = torch::arange(0, dim, 2, torch::kLong).to(torch::kFloat32) / double(dim);
  torch::Tensor inv_freq;
  double attention_factor = 1.0;
  if (m_cfg.LongRope()) {
    // Phi-3 longrope (transformers' _compute_longrope_parameters and its
    // dynamic update): the long factors for a sequence longer than the
    // original context, for all of its positions; the short ones otherwise.
    const bool is_long = n_pos > m_cfg.rope_original_max_position;
    const auto& f = is_long ? m_cfg.rope_long_factor : m_cfg.rope_short_factor;
    const torch::Tensor ext = torch::tensor(std::vector<float>(f.begin(), f.end()));
    inv_freq = 1.0 / (ext * torch::pow(m_cfg.rotary_base, exponent));
    attention_factor = m_cfg.rope_attention_factor;
  } else {
    inv_freq = 1.0 / torch::pow(m_cfg.rotary_base, exponent);
  }
  if (m_cfg.rope_scaling_factor > 0) {  // (ReadRope sets llama3 or longrope, never both)
    // Llama 3: long wavelengths divided by `factor`, short ones kept, a smooth
    // blend between (transformers' _compute_llama3_parameters).
    const double factor = m_cfg.rope_scaling_factor, lo = m_cfg.rope_low_freq_factor, hi = m_cfg.rope_high_freq_factor;
    const double old_ctx = m_cfg.rope_original_max_position;
    const double low_freq_wavelen = old_ctx / lo, high_freq_wavelen = old_ctx / hi;
    const torch::Tensor wavelen = 2 * M_PI / inv_freq;
    torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq);
    const torch::Tensor smooth = (old_ctx / wavelen - lo) / (hi - lo);
    const torch::Tensor smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
    const torch::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
    inv_freq = torch::where(medium, smoothed, scaled);
  }
  const torch::Tensor pos = torch::arange(n_pos, torch::kLong).to(torch::kFloat32);
  const torch::Tensor freqs = torch::outer(pos, inv_freq);   // [n_pos, dim/2]
  const torch::Tensor emb = torch::cat({freqs, freqs}, -1);  // [n_pos, dim]
  if (attention_factor != 1.0) return {emb.cos() * attention_factor, emb.sin() * attention_factor};
  return {emb.cos(), emb.sin()};
}

torch::Tensor AttentionMask(int64_t row0, int64_t n, int64_t T, int window) {
  const torch::Tensor key = torch::arange(T, torch::kLong).unsqueeze(0);             // [1, T]
  const torch::Tensor query = (torch::arange(n, torch::kLong) + row0).unsqueeze(1);  // [n, 1]
  torch::Tensor masked = key > query;
  if (window > 0) masked.logical_or_(key <= query - window);
  return masked;
}

void SoftcapInPlace(torch::Tensor& x, double cap) {
  if (!(cap > 0)) return;
  if (torch::GradMode::is_enabled() && x.requires_grad())
    x = torch::tanh(x / cap) * cap;
  else
    x.div_(cap).tanh_().mul_(cap);
}

// Rotate-half rotary on the first cos.size(-1) dims of x [batch, pos, head, d_head].
torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  using torch::indexing::Slice;
  const int64_t dim = cos.size(-1), half = dim / 2;
  const torch::Tensor c = cos.unsqueeze(0).unsqueeze(2), s = sin.unsqueeze(0).unsqueeze(2);  // [1, pos, 1, dim]
  const torch::Tensor xr = x.index({"...", Slice(0, dim)});
  const torch::Tensor rotated =
      torch::cat({-xr.index({"...", Slice(half, dim)}), xr.index({"...", Slice(0, half)})}, -1);
  const torch::Tensor out = xr * c + rotated * s;
  if (dim == x.size(-1)) return out;
  return torch::cat({out, x.index({"...", Slice(dim, torch::indexing::None)})}, -1);
}

torch::Tensor ActivationFn(const std::string& act_fn, const torch::Tensor& x) {
  if (act_fn == "relu") return Relu(x);
  if (act_fn == "gelu") return torch::gelu(x);
  if (act_fn == "silu") return torch::silu(x);
  return torch::gelu(x, "tanh");  // gelu_new
}

torch::Tensor HookedTransformerImpl::Run(const torch::Tensor& tokens, ActivationCache* cache,
                                         const std::string& stop_after) {
  using torch::indexing::Slice;
  if (tokens.dim() != 2) throw std::invalid_argument("tokens must be [batch, pos]");
  const int64_t batch = tokens.size(0), n_pos = tokens.size(1);
  if (batch == 0 || n_pos == 0)
    throw std::invalid_argument("no tokens (tokens is [" + std::to_string(batch) + ", " + std::to_string(n_pos) + "])");
  if (n_pos > m_cfg.n_ctx)
    throw std::invalid_argument("sequence of " + std::to_string(n_pos) + " tokens is longer than the context (" +
                                std::to_string(m_cfg.n_ctx) + ")");
  if (tokens.numel() > 0 && (tokens.min().item<int64_t>() < 0 || tokens.max().item<int64_t>() >= m_cfg.d_vocab))
    throw std::invalid_argument("token id outside the vocabulary [0, " + std::to_string(m_cfg.d_vocab) + ")");
  auto hook = [&](const std::string& name, const torch::Tensor& t) {
    if (cache) cache->Store(name, t.detach());
  };
  auto stop = [&] { return !stop_after.empty() && cache && cache->Contains(stop_after); };

  const int64_t H = m_cfg.n_heads, KV = m_cfg.NumKVHeads(), E = m_cfg.d_head, D = m_cfg.d_model;
  torch::Tensor emb = embed->W_E.index_select(0, tokens.reshape(-1)).view({batch, n_pos, D});
  if (m_cfg.embed_scale > 0) emb = emb * m_cfg.embed_scale;  // Gemma: float32 sqrt(d_model)
  hook("hook_embed", emb);  // [batch, pos, d_model]
  torch::Tensor resid = emb;
  if (pos_embed) {
    const torch::Tensor pos = pos_embed->W_pos.index({Slice(0, n_pos)}).unsqueeze(0).expand({batch, n_pos, D});
    hook("hook_pos_embed", pos);  // [batch, pos, d_model]
    resid = emb + pos;            // [batch, pos, d_model]
  }
  const bool rotary = m_cfg.positional_embedding == "rotary";
  torch::Tensor rot_cos, rot_sin;
  if (rotary) std::tie(rot_cos, rot_sin) = RotaryTables(m_cfg, n_pos);

  const torch::Tensor causal_mask = AttentionMask(0, n_pos, n_pos, 0);  // true above the diagonal: key after query
  const torch::Tensor window_mask =
      m_cfg.sliding_window > 0 ? AttentionMask(0, n_pos, n_pos, m_cfg.sliding_window) : torch::Tensor();
  const double scale = m_cfg.AttnScale();
  for (int l = 0; l < m_cfg.n_layers; ++l) {
    const std::string b = "blocks." + std::to_string(l) + ".";
    auto& blk = block(l);
    auto& attn = *blk.attn;
    auto& mlp = *blk.mlp;
    hook(b + "hook_resid_pre", resid);
    torch::Tensor x = resid;
    if (blk.ln1) {
      x = blk.ln1->forward(resid);
      hook(b + "ln1.hook_normalized", x);
    }
    // One GEMM per projection: W [head, d_model, d_head] as [d_model, head*d_head].
    auto project = [&](const torch::Tensor& W, const torch::Tensor& bias) {  // -> [batch, pos, head, d_head]
      const int64_t heads = W.size(0);
      torch::Tensor out = torch::matmul(x, W.permute({1, 0, 2}).reshape({D, heads * E})).view({batch, n_pos, heads, E});
      return bias.defined() ? out + bias : out;
    };
    torch::Tensor q, k, v;
    if (torch::GradMode::is_enabled()) {
      q = project(attn.W_Q, attn.b_Q);
      k = project(attn.W_K, attn.b_K);
      v = project(attn.W_V, attn.b_V);
    } else {
      const auto [w, bias] = attn.PackedQKV();
      const torch::Tensor x2 = x.reshape({-1, D});
      const torch::Tensor qkv =
          (bias.defined() ? torch::addmm(bias, x2, w) : torch::mm(x2, w)).view({batch, n_pos, -1, E});
      q = qkv.narrow(2, 0, H);
      k = qkv.narrow(2, H, KV);
      v = qkv.narrow(2, H + KV, KV);
    }
    if (attn.q_norm) {
      q = attn.q_norm->forward(q);
      k = attn.k_norm->forward(k);
    }
    if (rotary) {
      q = ApplyRotary(q, rot_cos, rot_sin);
      k = ApplyRotary(k, rot_cos, rot_sin);
    }
    if (rotary) {  // TransformerLens's names for the rotated vectors (the same tensors)
      hook(b + "attn.hook_rot_q", q);
      hook(b + "attn.hook_rot_k", k);
    }
    hook(b + "attn.hook_q", q);  // [batch, pos, n_heads, d_head], after rotary
    hook(b + "attn.hook_k", k);  // [batch, pos, n_kv_heads, d_head], after rotary
    hook(b + "attn.hook_v", v);
    if (KV != H) {  // query head h reads key/value head h / (H / KV)
      k = k.repeat_interleave(H / KV, 2);
      v = v.repeat_interleave(H / KV, 2);
    }
    // Short contexts: broadcast multiply + sum (a bmm per (batch, head) of
    // 3x32 matrices is far slower); long contexts: batched matmul.
    const bool short_ctx = n_pos <= 8;
    torch::Tensor scores = (short_ctx ? (q.unsqueeze(2) * k.unsqueeze(1)).sum(-1).permute({0, 3, 1, 2})
                                      : torch::matmul(q.permute({0, 2, 1, 3}), k.permute({0, 2, 3, 1}))) *
                           scale;  // [batch, head, query_pos, key_pos]
    SoftcapInPlace(scores, m_cfg.attn_softcap);
    scores = scores.masked_fill(m_cfg.Window(l) > 0 ? window_mask : causal_mask,
                                -std::numeric_limits<float>::infinity());
    hook(b + "attn.hook_attn_scores", scores);
    torch::Tensor pattern = torch::softmax(scores, -1);  // [batch, head, query_pos, key_pos]
    hook(b + "attn.hook_pattern", pattern);
    if (stop()) return torch::Tensor();
    torch::Tensor z =
        short_ctx
            ? (pattern.permute({0, 2, 3, 1}).unsqueeze(-1) * v.unsqueeze(1)).sum(2)
            : torch::matmul(pattern, v.permute({0, 2, 1, 3})).permute({0, 2, 1, 3});  // [batch, pos, head, d_head]
    hook(b + "attn.hook_z", z);
    torch::Tensor attn_out =
        torch::matmul(z.reshape({batch, n_pos, H * E}), attn.W_O.reshape({H * E, D}));  // [batch, pos, d_model]
    if (attn.b_O.defined()) attn_out = attn_out + attn.b_O;
    if (blk.ln1_post) attn_out = blk.ln1_post->forward(attn_out);  // Gemma 2: normed before the residual
    hook(b + "hook_attn_out", attn_out);

    // The MLP reads the residual after attention, or (parallel) the same
    // residual the attention read.
    torch::Tensor mlp_in;
    if (m_cfg.parallel_attn_mlp) {
      mlp_in = resid;
    } else {
      resid = resid + attn_out;
      hook(b + "hook_resid_mid", resid);
      mlp_in = resid;
    }
    if (blk.ln2) {
      mlp_in = blk.ln2->forward(mlp_in);
      hook(b + "ln2.hook_normalized", mlp_in);
    }
    auto linear = [](const torch::Tensor& in, const torch::Tensor& W, const torch::Tensor& bias) {
      return bias.defined()
                 ? torch::addmm(bias, in.reshape({-1, in.size(-1)}), W).view({in.size(0), in.size(1), W.size(1)})
                 : torch::matmul(in, W);
    };
    torch::Tensor post;
    if (mlp.W_gate.defined()) {
      const torch::Tensor gate = torch::matmul(mlp_in, mlp.W_gate);  // [batch, pos, d_mlp]
      hook(b + "mlp.hook_pre", gate);
      const torch::Tensor up = linear(mlp_in, mlp.W_in, mlp.b_in);
      hook(b + "mlp.hook_pre_linear", up);
      post = ActivationFn(m_cfg.act_fn, gate) * up;
    } else {
      const torch::Tensor pre = linear(mlp_in, mlp.W_in, mlp.b_in);  // [batch, pos, d_mlp]
      hook(b + "mlp.hook_pre", pre);
      post = ActivationFn(m_cfg.act_fn, pre);
    }
    hook(b + "mlp.hook_post", post);  // [batch, pos, d_mlp]
    torch::Tensor mlp_out = linear(post, mlp.W_out, mlp.b_out);
    if (blk.ln2_post) mlp_out = blk.ln2_post->forward(mlp_out);
    hook(b + "hook_mlp_out", mlp_out);
    resid = m_cfg.parallel_attn_mlp ? resid + attn_out + mlp_out : resid + mlp_out;
    hook(b + "hook_resid_post", resid);
    if (stop()) return torch::Tensor();
  }
  if (ln_final) {
    resid = ln_final->forward(resid);
    hook("ln_final.hook_normalized", resid);
  }
  torch::Tensor logits = torch::matmul(resid, UnembedMatrix());  // [batch, pos, d_vocab_out]
  if (unembed->b_U.defined()) logits = logits + unembed->b_U;
  SoftcapInPlace(logits, m_cfg.final_softcap);  // Gemma 2
  return logits;
}

}  // namespace hs::model
