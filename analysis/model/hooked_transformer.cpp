// HookedTransformer forward pass with TransformerLens hook names.
#include "model/hooked_transformer.h"

#include <cmath>
#include <limits>
#include <stdexcept>

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

AttentionImpl::AttentionImpl(const TransformerConfig& c) {
  W_Q = Param(*this, "W_Q", {c.n_heads, c.d_model, c.d_head});
  W_K = Param(*this, "W_K", {c.n_heads, c.d_model, c.d_head});
  W_V = Param(*this, "W_V", {c.n_heads, c.d_model, c.d_head});
  W_O = Param(*this, "W_O", {c.n_heads, c.d_head, c.d_model});
}

MLPImpl::MLPImpl(const TransformerConfig& c) {
  W_in = Param(*this, "W_in", {c.d_model, c.d_mlp});
  b_in = Param(*this, "b_in", {c.d_mlp});
  W_out = Param(*this, "W_out", {c.d_mlp, c.d_model});
  b_out = Param(*this, "b_out", {c.d_model});
}

TransformerBlockImpl::TransformerBlockImpl(const TransformerConfig& c) {
  attn = register_module("attn", Attention(c));
  mlp = register_module("mlp", MLP(c));
}

UnembedImpl::UnembedImpl(const TransformerConfig& c) { W_U = Param(*this, "W_U", {c.d_model, c.d_vocab_out}); }

HookedTransformerImpl::HookedTransformerImpl(TransformerConfig cfg) : m_cfg(std::move(cfg)) {
  m_cfg.Validate();
  embed = register_module("embed", Embed(m_cfg));
  pos_embed = register_module("pos_embed", PosEmbed(m_cfg));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int l = 0; l < m_cfg.n_layers; ++l) blocks->push_back(TransformerBlock(m_cfg));
  unembed = register_module("unembed", Unembed(m_cfg));
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

torch::Tensor HookedTransformerImpl::Run(const torch::Tensor& tokens, ActivationCache* cache, const std::string& stop_after) {
  using torch::indexing::Slice;
  if (tokens.dim() != 2) throw std::invalid_argument("tokens must be [batch, pos]");
  const int64_t batch = tokens.size(0), n_pos = tokens.size(1);
  if (n_pos > m_cfg.n_ctx)
    throw std::invalid_argument("sequence of " + std::to_string(n_pos) + " tokens is longer than the context (" +
                                std::to_string(m_cfg.n_ctx) + ")");
  if (tokens.numel() > 0 && (tokens.min().item<int64_t>() < 0 || tokens.max().item<int64_t>() >= m_cfg.d_vocab))
    throw std::invalid_argument("token id outside the vocabulary [0, " + std::to_string(m_cfg.d_vocab) + ")");
  auto hook = [&](const std::string& name, const torch::Tensor& t) {
    if (cache) cache->Store(name, t.detach());
  };

  const torch::Tensor emb = embed->W_E.index_select(0, tokens.reshape(-1)).view({batch, n_pos, m_cfg.d_model});
  const torch::Tensor pos = pos_embed->W_pos.index({Slice(0, n_pos)}).unsqueeze(0).expand({batch, n_pos, m_cfg.d_model});
  hook("hook_embed", emb);           // [batch, pos, d_model]
  hook("hook_pos_embed", pos);       // [batch, pos, d_model]
  torch::Tensor resid = emb + pos;   // [batch, pos, d_model]

  const torch::Tensor causal_mask =
      torch::ones({n_pos, n_pos}, torch::kBool).triu(1);  // true above the diagonal: key after query
  const double scale = 1.0 / std::sqrt(double(m_cfg.d_head));
  for (int l = 0; l < m_cfg.n_layers; ++l) {
    const std::string b = "blocks." + std::to_string(l) + ".";
    auto& attn = *block(l).attn;
    auto& mlp = *block(l).mlp;
    hook(b + "hook_resid_pre", resid);
    // One GEMM per projection: W [head, d_model, d_head] as [d_model, head*d_head].
    const int64_t H = m_cfg.n_heads, E = m_cfg.d_head, D = m_cfg.d_model;
    auto project = [&](const torch::Tensor& W) {  // -> [batch, pos, head, d_head]
      return torch::matmul(resid, W.permute({1, 0, 2}).reshape({D, H * E})).view({batch, n_pos, H, E});
    };
    torch::Tensor q = project(attn.W_Q);
    torch::Tensor k = project(attn.W_K);
    torch::Tensor v = project(attn.W_V);
    hook(b + "attn.hook_q", q);
    hook(b + "attn.hook_k", k);
    hook(b + "attn.hook_v", v);
    // Short contexts: broadcast multiply + sum (a bmm per (batch, head) of
    // 3x32 matrices is far slower); long contexts: batched matmul.
    const bool short_ctx = n_pos <= 8;
    torch::Tensor scores =
        (short_ctx ? (q.unsqueeze(2) * k.unsqueeze(1)).sum(-1).permute({0, 3, 1, 2})
                   : torch::matmul(q.permute({0, 2, 1, 3}), k.permute({0, 2, 3, 1}))) * scale;  // [batch, head, query_pos, key_pos]
    scores = scores.masked_fill(causal_mask, -std::numeric_limits<float>::infinity());
    hook(b + "attn.hook_attn_scores", scores);
    torch::Tensor pattern = torch::softmax(scores, -1);  // [batch, head, query_pos, key_pos]
    hook(b + "attn.hook_pattern", pattern);
    if (!stop_after.empty() && cache && cache->Contains(stop_after)) return torch::Tensor();
    torch::Tensor z = short_ctx ? (pattern.permute({0, 2, 3, 1}).unsqueeze(-1) * v.unsqueeze(1)).sum(2)
                                : torch::matmul(pattern, v.permute({0, 2, 1, 3})).permute({0, 2, 1, 3});  // [batch, pos, head, d_head]
    hook(b + "attn.hook_z", z);
    torch::Tensor attn_out = torch::matmul(z.reshape({batch, n_pos, H * E}), attn.W_O.reshape({H * E, D}));  // [batch, pos, d_model]
    hook(b + "hook_attn_out", attn_out);
    resid = resid + attn_out;
    hook(b + "hook_resid_mid", resid);
    torch::Tensor pre = torch::matmul(resid, mlp.W_in) + mlp.b_in;  // [batch, pos, d_mlp]
    hook(b + "mlp.hook_pre", pre);
    torch::Tensor post;
    if (m_cfg.act_fn == "relu")
      post = Relu(pre);
    else if (m_cfg.act_fn == "gelu")
      post = torch::gelu(pre);
    else
      post = torch::gelu(pre, "tanh");
    hook(b + "mlp.hook_post", post);  // [batch, pos, d_mlp]
    torch::Tensor mlp_out = torch::matmul(post, mlp.W_out) + mlp.b_out;
    hook(b + "hook_mlp_out", mlp_out);
    resid = resid + mlp_out;
    hook(b + "hook_resid_post", resid);
  }
  return torch::matmul(resid, unembed->W_U);  // [batch, pos, d_vocab_out]
}

}  // namespace hs::model
