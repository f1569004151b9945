// ActivationCache: activations of one forward pass, stored under
// TransformerLens hook names ("blocks.0.attn.hook_pattern") and read with TL
// shorthand: cache("pattern", 0), cache("resid_post", -1).
#pragma once

#include <torch/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hs::model {

// TransformerLens utils.get_act_name: ("pattern", 0) -> "blocks.0.attn.hook_pattern".
// `layer` must already be non-negative; layer < 0 with a non-block name
// ("embed", "pos_embed") gives the top-level hook.
std::string ActName(const std::string& short_name, int layer = -1);

class ActivationCache {
 public:
  explicit ActivationCache(int n_layers = 0) : m_n_layers(n_layers) {}

  void Store(const std::string& name, torch::Tensor t) {
    if (!m_keep || m_keep(name)) m_acts[name] = std::move(t);
  }
  // Keep only the hooks `keep` accepts (the others are freed as the forward
  // goes on): a view that needs only patterns does not hold every
  // activation of every layer. A stop_after hook must pass the filter.
  void SetFilter(std::function<bool(const std::string&)> keep) { m_keep = std::move(keep); }
  bool Contains(const std::string& name) const { return m_acts.count(name) != 0; }
  std::vector<std::string> Names() const;
  int n_layers() const { return m_n_layers; }

  // Full-name lookup; throws std::out_of_range listing the names present.
  const torch::Tensor& operator[](const std::string& name) const;
  // Shorthand lookup; negative layers count from the end (-1 = last).
  const torch::Tensor& operator()(const std::string& short_name, int layer) const;

 private:
  int m_n_layers;
  std::map<std::string, torch::Tensor> m_acts;
  std::function<bool(const std::string&)> m_keep;
};

}  // namespace hs::model
