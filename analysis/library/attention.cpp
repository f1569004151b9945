// Attention-pattern helpers (see attention.h).
#include "library/attention.h"

#include <stdexcept>

namespace hs::library {

torch::Tensor ExtractAttentionPatterns(const model::ActivationCache& cache, int layer) {
  return cache("pattern", layer);
}

torch::Tensor PositionPairGrids(const torch::Tensor& patterns, int query_pos, int key_pos, int p) {
  if (patterns.size(0) != int64_t(p) * p)
    throw std::invalid_argument("PositionPairGrids needs all p*p inputs in the batch");
  const int64_t n_pos = patterns.size(2);
  if (query_pos < 0 || query_pos >= n_pos || key_pos < 0 || key_pos >= n_pos)
    throw std::invalid_argument("position pair (" + std::to_string(query_pos) + ", " + std::to_string(key_pos) +
                                ") outside the " + std::to_string(n_pos) + " positions");
  return patterns.select(2, query_pos).select(2, key_pos).t().reshape({-1, p, p}).contiguous();
}

}  // namespace hs::library
