// A TransformerLens-compatible transformer in LibTorch. Parameter names equal
// TL state-dict names (embed.W_E, blocks.0.attn.W_Q, ...), so checkpoints load
// into HookedTransformer. Attention is computed explicitly (softmax of masked
// scores) so the pattern is always observable.
//
// One implementation serves the grokking model and the Hugging Face causal
// LMs (see TransformerConfig): optional LayerNorm/RMSNorm (ln1, ln2,
// ln_final), rotary positions (hook_q/hook_k hold the rotated vectors),
// grouped-query attention (W_K, W_V have n_key_value_heads heads), parallel
// residual, gated MLPs, biases, Qwen3's q/k norms and tied embeddings.
// Parameters a config does not use are not registered (undefined tensors).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "model/activation_cache.h"
#include "model/transformer_config.h"

namespace hs::model {

struct EmbedImpl : torch::nn::Module {
  explicit EmbedImpl(const TransformerConfig& c);
  torch::Tensor W_E;  // [d_vocab, d_model]
};
TORCH_MODULE(Embed);

struct PosEmbedImpl : torch::nn::Module {
  explicit PosEmbedImpl(const TransformerConfig& c);
  torch::Tensor W_pos;  // [n_ctx, d_model]
};
TORCH_MODULE(PosEmbed);

// LayerNorm (w, b) or RMSNorm (w) over the last dimension.
struct NormImpl : torch::nn::Module {
  NormImpl(const std::string& kind, int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x) const;
  std::string kind;  // LN | RMS
  double eps;
  torch::Tensor w, b;  // [dim]; b only for LN
};
TORCH_MODULE(Norm);

struct AttentionImpl : torch::nn::Module {
  explicit AttentionImpl(const TransformerConfig& c);
  torch::Tensor W_Q;                      // [n_heads, d_model, d_head]
  torch::Tensor W_K, W_V;                 // [n_kv_heads, d_model, d_head]
  torch::Tensor W_O;                      // [n_heads, d_head, d_model]
  torch::Tensor b_Q;                      // [n_heads, d_head]     (attn_qkv_bias)
  torch::Tensor b_K, b_V;                 // [n_kv_heads, d_head]  (attn_qkv_bias)
  torch::Tensor b_O;                      // [d_model]             (attn_out_bias)
  Norm q_norm{nullptr}, k_norm{nullptr};  // RMS over d_head (qk_norm)

  // Inference (no grad): W_Q | W_K | W_V packed once as [d_model, (n_heads +
  // 2 n_kv_heads) * d_head] (biases likewise), so a forward runs one GEMM
  // and copies no weights. Rebuilt when any of them changes.
  std::pair<torch::Tensor, torch::Tensor> PackedQKV();

 private:
  std::mutex m_packed_mu;  // forwards on one model from several threads
  torch::Tensor m_packed_w, m_packed_b;
  std::vector<int64_t> m_packed_key;
};
TORCH_MODULE(Attention);

struct MLPImpl : torch::nn::Module {
  explicit MLPImpl(const TransformerConfig& c);
  torch::Tensor W_in;    // [d_model, d_mlp] (the "up" projection of a gated MLP)
  torch::Tensor W_gate;  // [d_model, d_mlp] (gated_mlp)
  torch::Tensor b_in;    // [d_mlp]
  torch::Tensor W_out;   // [d_mlp, d_model]
  torch::Tensor b_out;   // [d_model]
};
TORCH_MODULE(MLP);

struct TransformerBlockImpl : torch::nn::Module {
  explicit TransformerBlockImpl(const TransformerConfig& c);
  Norm ln1{nullptr}, ln2{nullptr};  // normalization != none
  Norm ln1_post{nullptr}, ln2_post{nullptr};  // post_norms: on the attention and MLP outputs
  Attention attn{nullptr};
  MLP mlp{nullptr};
};
TORCH_MODULE(TransformerBlock);

struct UnembedImpl : torch::nn::Module {
  explicit UnembedImpl(const TransformerConfig& c);
  torch::Tensor W_U;  // [d_model, d_vocab_out]; undefined when embeddings are tied
  torch::Tensor b_U;  // [d_vocab_out] (unembed_bias)
};
TORCH_MODULE(Unembed);

class HookedTransformerImpl : public torch::nn::Module {
 public:
  explicit HookedTransformerImpl(TransformerConfig cfg);

  // tokens [batch, pos] (int64) -> logits [batch, pos, d_vocab_out]
  torch::Tensor forward(const torch::Tensor& tokens);
  // Same, and fills `cache` with every hook activation (detached).
  torch::Tensor forward_with_cache(const torch::Tensor& tokens, ActivationCache& cache);
  // Like TransformerLens's stop_at_layer, by hook: stops as soon as the hook
  // `stop_after` is stored (returns an undefined tensor then). Analyses that
  // need only attention patterns skip the MLP this way.
  torch::Tensor forward_with_cache(const torch::Tensor& tokens, ActivationCache& cache, const std::string& stop_after);

  // Re-draws every weight as TransformerLens does (N(0, init_range), biases
  // zero, norm weights one) from a generator seeded with `seed`, in TL
  // state-dict order.
  void InitWeights(uint64_t seed);

  // TL state-dict names -> parameters (shared storage, not copies).
  std::map<std::string, torch::Tensor> StateDict() const;
  // Copies values in; throws std::invalid_argument on a missing name or a
  // shape mismatch, naming both.
  void LoadStateDict(const std::map<std::string, torch::Tensor>& sd);

  const TransformerConfig& cfg() const { return m_cfg; }

  // The unembedding matrix [d_model, d_vocab_out] (W_E^T when tied).
  torch::Tensor UnembedMatrix() const;

  Embed embed{nullptr};
  PosEmbed pos_embed{nullptr};  // null unless positional_embedding == standard
  torch::nn::ModuleList blocks{nullptr};
  Norm ln_final{nullptr};  // final_norm
  Unembed unembed{nullptr};

  TransformerBlockImpl& block(int i) { return *blocks[i]->as<TransformerBlockImpl>(); }

 private:
  torch::Tensor Run(const torch::Tensor& tokens, ActivationCache* cache, const std::string& stop_after = {});
  TransformerConfig m_cfg;
};
TORCH_MODULE(HookedTransformer);

// The pieces of the forward, shared with MappedModel's streaming inference
// so that both compute exactly the same function.
// LayerNorm (kind "LN", w and b) or RMSNorm ("RMS", w) over the last dimension.
torch::Tensor NormForward(const std::string& kind, const torch::Tensor& x, const torch::Tensor& w,
                          const torch::Tensor& b, double eps);
// cos and sin [n_pos, rotary_dim] for positions 0..n_pos-1 (rotate-half
// layout), as Hugging Face computes them in float32 (Llama 3 scaling included).
std::pair<torch::Tensor, torch::Tensor> RotaryTables(const TransformerConfig& c, int64_t n_pos);
// Rows [row0, row0 + n) of a T-key attention mask: true where query i may not
// see key j (j > i, or j <= i - window when window > 0). [n, T] bool.
torch::Tensor AttentionMask(int64_t row0, int64_t n, int64_t T, int window);
// cap * tanh(x / cap), in place; nothing when cap is 0.
void SoftcapInPlace(torch::Tensor& x, double cap);
// Rotate-half rotary on the first cos.size(-1) dims of x [batch, pos, head,
// d_head]; cos and sin are [pos, rotary_dim].
torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
// relu, gelu, gelu_new (tanh) or silu.
torch::Tensor ActivationFn(const std::string& act_fn, const torch::Tensor& x);

}  // namespace hs::model
