// ActivationCache lookups and TransformerLens hook names.
#include "model/activation_cache.h"

#include <stdexcept>

namespace hs::model {

std::string ActName(const std::string& short_name, int layer) {
  static const char* kAttn[] = {"q", "k", "v", "z", "attn_scores", "pattern", "result", "rot_q", "rot_k"};
  static const char* kMlp[] = {"pre", "post", "pre_linear"};
  static const char* kBlock[] = {"resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out"};
  if (short_name.rfind("hook_", 0) == 0 || short_name.find('.') != std::string::npos) return short_name;
  if (layer < 0) return "hook_" + short_name;  // embed, pos_embed
  const std::string block = "blocks." + std::to_string(layer) + ".";
  for (const char* n : kAttn)
    if (short_name == n) return block + "attn.hook_" + short_name;
  for (const char* n : kMlp)
    if (short_name == n) return block + "mlp.hook_" + short_name;
  for (const char* n : kBlock)
    if (short_name == n) return block + "hook_" + short_name;
  throw std::out_of_range("unknown activation name '" + short_name + "'");
}

std::vector<std::string> ActivationCache::Names() const {
  std::vector<std::string> names;
  for (const auto& kv : m_acts) names.push_back(kv.first);
  return names;
}

const torch::Tensor& ActivationCache::operator[](const std::string& name) const {
  auto it = m_acts.find(name);
  if (it == m_acts.end()) {
    std::string have;
    for (const auto& kv : m_acts) have += (have.empty() ? "" : ", ") + kv.first;
    throw std::out_of_range("activation '" + name + "' is not in the cache (it has: " + have + ")");
  }
  return it->second;
}

const torch::Tensor& ActivationCache::operator()(const std::string& short_name, int layer) const {
  if (layer < 0) layer += m_n_layers;
  if (layer < 0 || layer >= m_n_layers)
    throw std::out_of_range("layer index out of range for a " + std::to_string(m_n_layers) + "-layer cache");
  return (*this)[ActName(short_name, layer)];
}

}  // namespace hs::model
