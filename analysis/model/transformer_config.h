// Hyperparameters of a HookedTransformer-style model. Torch-free so that the
// UI and the file layer can read and show them.
//
// One config covers the grokking model and the Hugging Face causal LMs
// headscope loads (gpt2, llama, qwen2, qwen3, mistral, gemma, gemma2, phi3,
// gpt_neox, opt). The defaults are
// the grokking model of Nanda et al. (2023): no normalisation, learned
// positions, ReLU, MLP biases only, separate unembedding. Names follow
// TransformerLens's HookedTransformerConfig where TL has the field.
#pragma once

#include <cmath>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace hs::model {

struct TransformerConfig {
  int n_layers = 1;
  int d_model = 128;
  int n_heads = 4;
  int d_head = 32;
  int d_mlp = 512;
  int d_vocab = 114;      // input tokens: 0..p-1 and '=' (= p)
  int d_vocab_out = 113;  // output classes
  int n_ctx = 3;
  // relu, gelu (exact erf), gelu_new (tanh approximation), silu
  std::string act_fn = "relu";
  // TransformerLens "gpt2" init: every weight matrix ~ N(0, init_range),
  // biases zero, norm weights one. init_range <= 0 means 0.8 / sqrt(d_model).
  double init_range = -1.0;

  // --- architecture switches (all off for the grokking model) -------------
  std::string normalization = "none";             // none | LN (LayerNorm, weight+bias) | RMS (RMSNorm, weight)
  double eps = 1e-5;                              // norm epsilon
  std::string positional_embedding = "standard";  // standard (learned W_pos) | rotary | none
  int rotary_dim = 0;                             // rotary: leading dims of each head rotated (0 = d_head)
  double rotary_base = 10000.0;
  // Llama 3 rope scaling ("rope_type": "llama3"); factor <= 0 means none.
  double rope_scaling_factor = 0.0;
  double rope_low_freq_factor = 1.0;
  double rope_high_freq_factor = 4.0;
  int rope_original_max_position = 8192;  // llama3 and longrope
  // Phi-3 "longrope": per-frequency divisors, the long ones when the sequence
  // is longer than rope_original_max_position (for every position of it), the
  // short ones otherwise; cos and sin are multiplied by rope_attention_factor.
  // Empty: no longrope.
  std::vector<double> rope_long_factor, rope_short_factor;
  double rope_attention_factor = 1.0;
  int n_key_value_heads = 0;       // grouped-query attention; 0 = n_heads
  bool parallel_attn_mlp = false;  // GPT-NeoX: resid + attn(ln1 x) + mlp(ln2 x)
  bool gated_mlp = false;          // SiLU-gated (Llama): W_out(act(x W_gate) * (x W_in))
  bool attn_qkv_bias = false;      // b_Q, b_K, b_V
  bool attn_out_bias = false;      // b_O
  bool mlp_bias = true;            // b_in, b_out
  bool unembed_bias = false;       // b_U
  bool final_norm = false;         // ln_final before the unembedding (when normalization != none)
  bool qk_norm = false;            // Qwen3: RMSNorm over d_head of each q and k head, before rotary
  bool tied_embeddings = false;    // W_U = W_E^T (no separate unembed.W_U)
  // Sliding-window attention (Mistral, Phi-3, Gemma 2): on windowed layers
  // query i sees keys i - sliding_window < j <= i. Layer l is windowed when
  // l % sliding_window_period == 0 (1: every layer; Gemma 2: 2, the even layers).
  int sliding_window = 0;  // 0: none
  int sliding_window_period = 1;
  double attn_scale = 0;     // scores = q.k * attn_scale; 0: 1/sqrt(d_head) (Gemma 2: query_pre_attn_scalar^-1/2)
  double attn_softcap = 0;   // Gemma 2: scores = cap * tanh(scores / cap) before the mask; 0: none
  double final_softcap = 0;  // Gemma 2: logits = cap * tanh(logits / cap); 0: none
  double embed_scale = 0;    // Gemma: embeddings times this (float32 sqrt(d_model)); 0: none
  bool post_norms = false;   // Gemma 2: ln1_post on the attention output, ln2_post on the MLP output
  // Where the model came from (gpt2, llama, ...; "" for headscope's own).
  std::string original_architecture;

  double InitRange() const { return init_range > 0 ? init_range : 0.8 / std::sqrt(double(d_model)); }
  int NumKVHeads() const { return n_key_value_heads > 0 ? n_key_value_heads : n_heads; }
  int RotaryDim() const { return rotary_dim > 0 ? rotary_dim : d_head; }
  bool HasNorm() const { return normalization != "none"; }
  bool LongRope() const { return !rope_long_factor.empty(); }
  // Keys a query of layer l sees before it: 0 = all (causal only).
  int Window(int l) const { return sliding_window > 0 && l % sliding_window_period == 0 ? sliding_window : 0; }
  double AttnScale() const { return attn_scale > 0 ? attn_scale : 1.0 / std::sqrt(double(d_head)); }
  // Throws std::invalid_argument naming the field that is out of range.
  void Validate() const;
};

// The grokking model of Nanda et al. (2023) for modulus p.
TransformerConfig ModAddConfig(int p);

void to_json(nlohmann::json& j, const TransformerConfig& c);
void from_json(const nlohmann::json& j, TransformerConfig& c);

}  // namespace hs::model
