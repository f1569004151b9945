// The modular-addition family's inputs and its attention-only fast path.
// Every p*p input (a, b) is one row, index a*p + b; which position holds a,
// b or '=' (token p) comes from the run's family.json "positions".
#pragma once

#include <torch/types.h>

#include "families/run_info.h"

namespace hs::model {
class HookedTransformerImpl;
}

namespace hs::families {

// All p*p inputs. -> [p*p, n_ctx] int64, row a*p + b.
torch::Tensor ModAddInputs(const RunInfo& run);

// Whether ModAddAttentionPatterns applies: a 1-layer model (no LayerNorm, no
// attention biases in this architecture), so every query and key depends
// only on (token, position).
bool ModAddFastPatternsApply(const RunInfo& run);

// Layer 0's attention patterns over ModAddInputs(run), equal (to float
// round-off) to forward_with_cache(...)("pattern", 0), without the general
// forward: per position, q and k are computed once for the p (or 1) tokens
// that can sit there, each causal pair's scores are a small table
// [head, n_tok_q, n_tok_k] gathered onto the (a, b) grid, and the softmax runs
// over the few keys of each query.
// -> [p*p, head, query_pos, key_pos] (zeros above the diagonal)
torch::Tensor ModAddAttentionPatterns(const model::HookedTransformerImpl& model, const RunInfo& run);

struct ModAddFastActivations {
  torch::Tensor pattern;    // [p*p, head, query_pos, key_pos], as ModAddAttentionPatterns
  torch::Tensor post_last;  // [p*p, d_mlp] MLP post-activations at the last position (when asked for)
};
// The patterns and, with `with_mlp`, the MLP at the last position only: the
// last query's attention output is a pattern-weighted sum of per-(token,
// position) values gathered onto the p*p rows, then one [p*p, d_model] x
// [d_model, d_mlp] product. Equals the general forward's
// cache("post", 0)[:, -1] to float round-off.
ModAddFastActivations ModAddFastForward(const model::HookedTransformerImpl& model, const RunInfo& run, bool with_mlp);

}  // namespace hs::families
