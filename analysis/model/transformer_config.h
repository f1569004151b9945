// Hyperparameters of a HookedTransformer-style model. Torch-free so that the
// UI and the file layer can read and show them.
#pragma once

#include <cmath>
#include <nlohmann/json_fwd.hpp>
#include <string>

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
  std::string act_fn = "relu";
  // TransformerLens "gpt2" init: every weight matrix ~ N(0, init_range),
  // biases zero. init_range <= 0 means 0.8 / sqrt(d_model).
  double init_range = -1.0;

  double InitRange() const { return init_range > 0 ? init_range : 0.8 / std::sqrt(double(d_model)); }
  // Throws std::invalid_argument naming the field that is out of range.
  void Validate() const;
};

// The grokking model of Nanda et al. (2023) for modulus p.
TransformerConfig ModAddConfig(int p);

void to_json(nlohmann::json& j, const TransformerConfig& c);
void from_json(const nlohmann::json& j, TransformerConfig& c);

}  // namespace hs::model
