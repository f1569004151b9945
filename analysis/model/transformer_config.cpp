// TransformerConfig validation and JSON (see transformer_config.h).
#include "model/transformer_config.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace hs::model {

void TransformerConfig::Validate() const {
  auto positive = [](int v, const char* name) {
    if (v <= 0) throw std::invalid_argument(std::string(name) + " must be positive, got " + std::to_string(v));
  };
  positive(n_layers, "n_layers");
  positive(d_model, "d_model");
  positive(n_heads, "n_heads");
  positive(d_head, "d_head");
  positive(d_mlp, "d_mlp");
  positive(d_vocab, "d_vocab");
  positive(d_vocab_out, "d_vocab_out");
  positive(n_ctx, "n_ctx");
  if (act_fn != "relu" && act_fn != "gelu" && act_fn != "gelu_new" && act_fn != "silu")
    throw std::invalid_argument("act_fn must be relu, gelu, gelu_new or silu, got " + act_fn);
  if (normalization != "none" && normalization != "LN" && normalization != "RMS")
    throw std::invalid_argument("normalization must be none, LN or RMS, got " + normalization);
  if (positional_embedding != "standard" && positional_embedding != "rotary" && positional_embedding != "none")
    throw std::invalid_argument("positional_embedding must be standard, rotary or none, got " + positional_embedding);
  if (!(eps > 0)) throw std::invalid_argument("eps must be positive");
  if (n_key_value_heads < 0 || n_heads % NumKVHeads() != 0)
    throw std::invalid_argument("n_heads (" + std::to_string(n_heads) + ") must be a multiple of n_key_value_heads (" +
                                std::to_string(NumKVHeads()) + ")");
  if (positional_embedding == "rotary" && (RotaryDim() > d_head || RotaryDim() % 2 != 0 || rotary_dim < 0))
    throw std::invalid_argument("rotary_dim must be even and at most d_head, got " + std::to_string(RotaryDim()));
  if (positional_embedding == "rotary" && !(rotary_base > 0))
    throw std::invalid_argument("rotary_base must be positive");
  if (tied_embeddings && d_vocab != d_vocab_out)
    throw std::invalid_argument("tied embeddings need d_vocab == d_vocab_out");
  if (final_norm && !HasNorm()) throw std::invalid_argument("final_norm needs a normalization type");
  if (post_norms && !HasNorm()) throw std::invalid_argument("post_norms needs a normalization type");
  if (sliding_window < 0 || sliding_window_period < 1)
    throw std::invalid_argument("sliding_window must be >= 0 and sliding_window_period >= 1");
  if (!(attn_scale >= 0) || !(attn_softcap >= 0) || !(final_softcap >= 0) || !(embed_scale >= 0))
    throw std::invalid_argument("attn_scale, attn_softcap, final_softcap and embed_scale must be >= 0");
  if (LongRope() && (rope_long_factor.size() != size_t(RotaryDim() / 2) ||
                     rope_short_factor.size() != size_t(RotaryDim() / 2)))
    throw std::invalid_argument("longrope needs rotary_dim / 2 = " + std::to_string(RotaryDim() / 2) +
                                " long and short factors, got " + std::to_string(rope_long_factor.size()) + " and " +
                                std::to_string(rope_short_factor.size()));
  for (const auto* f : {&rope_long_factor, &rope_short_factor})
    for (double v : *f)
      if (!(v > 0)) throw std::invalid_argument("longrope factors must be positive");
  if (LongRope() && (!(rope_attention_factor > 0) || rope_original_max_position <= 0))
    throw std::invalid_argument("longrope needs a positive attention factor and original context");
}

TransformerConfig ModAddConfig(int p) {
  TransformerConfig c;
  c.d_vocab = p + 1;
  c.d_vocab_out = p;
  return c;
}

void to_json(nlohmann::json& j, const TransformerConfig& c) {
  j = {{"n_layers", c.n_layers}, {"d_model", c.d_model},       {"n_heads", c.n_heads},         {"d_head", c.d_head},
       {"d_mlp", c.d_mlp},       {"d_vocab", c.d_vocab},       {"d_vocab_out", c.d_vocab_out}, {"n_ctx", c.n_ctx},
       {"act_fn", c.act_fn},     {"init_range", c.InitRange()}};
  // The grokking model's config.json keeps its historical keys only; the
  // architecture switches are written when they differ from the defaults.
  const TransformerConfig d;
  j["normalization_type"] = c.HasNorm() ? nlohmann::json(c.normalization) : nlohmann::json(nullptr);
  if (c.eps != d.eps) j["eps"] = c.eps;
  if (c.positional_embedding != d.positional_embedding) j["positional_embedding_type"] = c.positional_embedding;
  if (c.rotary_dim != d.rotary_dim) j["rotary_dim"] = c.rotary_dim;
  if (c.rotary_base != d.rotary_base) j["rotary_base"] = c.rotary_base;
  if (c.rope_scaling_factor > 0) {
    j["rope_scaling_factor"] = c.rope_scaling_factor;
    j["rope_low_freq_factor"] = c.rope_low_freq_factor;
    j["rope_high_freq_factor"] = c.rope_high_freq_factor;
    j["rope_original_max_position"] = c.rope_original_max_position;
  }
  if (c.n_key_value_heads != d.n_key_value_heads) j["n_key_value_heads"] = c.n_key_value_heads;
  if (c.parallel_attn_mlp) j["parallel_attn_mlp"] = true;
  if (c.gated_mlp) j["gated_mlp"] = true;
  if (c.attn_qkv_bias) j["attn_qkv_bias"] = true;
  if (c.attn_out_bias) j["attn_out_bias"] = true;
  if (!c.mlp_bias) j["mlp_bias"] = false;
  if (c.unembed_bias) j["unembed_bias"] = true;
  if (c.final_norm) j["final_norm"] = true;
  if (c.qk_norm) j["qk_norm"] = true;
  if (c.tied_embeddings) j["tied_embeddings"] = true;
  if (c.LongRope()) {
    j["rope_long_factor"] = c.rope_long_factor;
    j["rope_short_factor"] = c.rope_short_factor;
    j["rope_attention_factor"] = c.rope_attention_factor;
    j["rope_original_max_position"] = c.rope_original_max_position;
  }
  if (c.sliding_window) j["sliding_window"] = c.sliding_window;
  if (c.sliding_window_period != d.sliding_window_period) j["sliding_window_period"] = c.sliding_window_period;
  if (c.attn_scale) j["attn_scale"] = c.attn_scale;
  if (c.attn_softcap) j["attn_softcap"] = c.attn_softcap;
  if (c.final_softcap) j["final_softcap"] = c.final_softcap;
  if (c.embed_scale) j["embed_scale"] = c.embed_scale;
  if (c.post_norms) j["post_norms"] = true;
  if (!c.original_architecture.empty()) j["original_architecture"] = c.original_architecture;
}

void from_json(const nlohmann::json& j, TransformerConfig& c) {
  c.n_layers = j.at("n_layers").get<int>();
  c.d_model = j.at("d_model").get<int>();
  c.n_heads = j.at("n_heads").get<int>();
  c.d_head = j.at("d_head").get<int>();
  c.d_mlp = j.at("d_mlp").get<int>();
  c.d_vocab = j.at("d_vocab").get<int>();
  c.d_vocab_out = j.at("d_vocab_out").get<int>();
  c.n_ctx = j.at("n_ctx").get<int>();
  c.act_fn = j.value("act_fn", std::string("relu"));
  c.init_range = j.value("init_range", -1.0);
  const TransformerConfig d;
  const auto norm = j.find("normalization_type");
  c.normalization = (norm == j.end() || norm->is_null()) ? "none" : norm->get<std::string>();
  c.eps = j.value("eps", d.eps);
  c.positional_embedding = j.value("positional_embedding_type", d.positional_embedding);
  c.rotary_dim = j.value("rotary_dim", d.rotary_dim);
  c.rotary_base = j.value("rotary_base", d.rotary_base);
  c.rope_scaling_factor = j.value("rope_scaling_factor", d.rope_scaling_factor);
  c.rope_low_freq_factor = j.value("rope_low_freq_factor", d.rope_low_freq_factor);
  c.rope_high_freq_factor = j.value("rope_high_freq_factor", d.rope_high_freq_factor);
  c.rope_original_max_position = j.value("rope_original_max_position", d.rope_original_max_position);
  c.n_key_value_heads = j.value("n_key_value_heads", d.n_key_value_heads);
  c.parallel_attn_mlp = j.value("parallel_attn_mlp", d.parallel_attn_mlp);
  c.gated_mlp = j.value("gated_mlp", d.gated_mlp);
  c.attn_qkv_bias = j.value("attn_qkv_bias", d.attn_qkv_bias);
  c.attn_out_bias = j.value("attn_out_bias", d.attn_out_bias);
  c.mlp_bias = j.value("mlp_bias", d.mlp_bias);
  c.unembed_bias = j.value("unembed_bias", d.unembed_bias);
  c.final_norm = j.value("final_norm", d.final_norm);
  c.qk_norm = j.value("qk_norm", d.qk_norm);
  c.tied_embeddings = j.value("tied_embeddings", d.tied_embeddings);
  c.rope_long_factor = j.value("rope_long_factor", d.rope_long_factor);
  c.rope_short_factor = j.value("rope_short_factor", d.rope_short_factor);
  c.rope_attention_factor = j.value("rope_attention_factor", d.rope_attention_factor);
  c.sliding_window = j.value("sliding_window", d.sliding_window);
  c.sliding_window_period = j.value("sliding_window_period", d.sliding_window_period);
  c.attn_scale = j.value("attn_scale", d.attn_scale);
  c.attn_softcap = j.value("attn_softcap", d.attn_softcap);
  c.final_softcap = j.value("final_softcap", d.final_softcap);
  c.embed_scale = j.value("embed_scale", d.embed_scale);
  c.post_norms = j.value("post_norms", d.post_norms);
  c.original_architecture = j.value("original_architecture", std::string());
}

}  // namespace hs::model
