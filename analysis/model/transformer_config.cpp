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
  if (act_fn != "relu" && act_fn != "gelu" && act_fn != "gelu_new")
    throw std::invalid_argument("act_fn must be relu, gelu or gelu_new, got " + act_fn);
}

TransformerConfig ModAddConfig(int p) {
  TransformerConfig c;
  c.d_vocab = p + 1;
  c.d_vocab_out = p;
  return c;
}

void to_json(nlohmann::json& j, const TransformerConfig& c) {
  j = {{"n_layers", c.n_layers}, {"d_model", c.d_model},   {"n_heads", c.n_heads},
       {"d_head", c.d_head},     {"d_mlp", c.d_mlp},       {"d_vocab", c.d_vocab},
       {"d_vocab_out", c.d_vocab_out}, {"n_ctx", c.n_ctx}, {"act_fn", c.act_fn},
       {"normalization_type", nullptr}, {"init_range", c.InitRange()}};
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
}

}  // namespace hs::model
