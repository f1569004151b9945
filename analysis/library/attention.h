// Attention-pattern extraction for analyzers and views.
#pragma once

#include <torch/types.h>

#include "model/activation_cache.h"

namespace hs::library {

// cache("pattern", layer) -> [batch, head, query_pos, key_pos]
torch::Tensor ExtractAttentionPatterns(const model::ActivationCache& cache, int layer);

// For a batch ordered as all (a, b) pairs with index a*p + b: the attention
// from query_pos to key_pos of every head as (a, b) grids.
// patterns [p*p, head, query_pos, key_pos] -> [head, p, p]
torch::Tensor PositionPairGrids(const torch::Tensor& patterns, int query_pos, int key_pos, int p);

}  // namespace hs::library
