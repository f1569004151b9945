// What heads write: direct logit attribution and the logit lens, on one
// prompt. Torch-free.
//
// Direct logit attribution (TransformerLens decompose_resid + logit_attrs
// semantics): the final residual stream is the sum of its components (the
// embeddings, each head's z W_O, each layer's attention bias and MLP
// output); each component goes through the final norm with the scale frozen
// from the clean run (LayerNorm: centred, divided by the run's scale, times
// w; RMSNorm: divided by the run's RMS, times w), then through the
// unembedding column of the token. The norm's bias and the unembedding's bias
// are components of their own, so the components sum to the logit itself.
//
//   auto a = lm::DirectLogitAttribution(lm, tokens);     // the next token's logit at every position
//   a.Head(1, 1, p)                                        // L1H1's direct contribution at position p
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lm/language_model.h"

namespace hs::lm {

struct LogitAttribution {
  std::vector<int64_t> tokens;
  std::vector<int64_t> targets;  // per position: the token whose logit is attributed (-1: none)
  int64_t wrong = -1;            // >= 0: the attributed quantity is logit(target) - logit(wrong)
  int n_layers = 0, n_heads = 0, T = 0;
  // Components, in this order: "embed", then per layer "L{l}H{h}" for each
  // head, "L{l} attn bias", "L{l} MLP"; then "final norm bias", "unembed bias".
  std::vector<std::string> names;
  std::vector<double> values;  // [names.size(), T]; 0 where targets[p] < 0
  std::vector<double> logits;  // [T]: the attributed logit (difference) from the forward itself
  size_t HeadIndex(int layer, int head) const { return 1 + size_t(layer) * (n_heads + 2) + size_t(head); }
  size_t MlpIndex(int layer) const { return 1 + size_t(layer) * (n_heads + 2) + size_t(n_heads) + 1; }
  double At(size_t component, int p) const { return values[component * size_t(T) + size_t(p)]; }
  double Head(int layer, int head, int p) const { return At(HeadIndex(layer, head), p); }
};

// targets: one per position (-1: skip); empty: the next token (the last
// position has none). wrong >= 0: attribute logit(target) - logit(wrong).
// std::invalid_argument for a model whose outputs are normalised per
// component (Gemma 2's post-norms) or soft-capped: there the logit is not a
// sum of per-head terms.
LogitAttribution DirectLogitAttribution(const LanguageModel& lm, const std::vector<int64_t>& tokens,
                                        std::vector<int64_t> targets = {}, int64_t wrong = -1);

// The logit lens: the residual stream after each layer, through the final
// norm (its own scale) and the unembedding. Row l is after layer l (the last
// row is the model's own output). Every layer's rows go through the
// vocabulary in one pass; a long prompt's grid covers a window of
// max_positions around `position` (the rest -1 / NaN): the lens costs
// n_layers unembeddings of every row it covers.
struct LogitLens {
  int n_layers = 0, T = 0;
  std::vector<int64_t> tokens;
  int first = 0, last = 0;         // the grid's positions [first, last)
  std::vector<int> next_rank;      // [n_layers, T]: rank of the next token (0 = top; -1 at the last position and outside the grid)
  std::vector<float> next_prob;    // [n_layers, T] (NaN where there is no rank)
  int position = -1;               // the position of `top`
  std::vector<std::vector<std::pair<int64_t, float>>> top;  // per layer: the top-k (id, probability) there
};
LogitLens ComputeLogitLens(const LanguageModel& lm, const std::vector<int64_t>& tokens, int position, int k = 10,
                           int max_positions = 64);

// What one head writes at one position, read through the unembedding (its z
// W_O through the frozen final norm, as in DirectLogitAttribution, for every
// token): the k tokens it raises most and the k it lowers most (id, logit change).
struct HeadPromotes {
  std::vector<std::pair<int64_t, float>> up, down;
};
HeadPromotes HeadOutputTokens(const LanguageModel& lm, const std::vector<int64_t>& tokens, int layer, int head,
                              int position, int k = 10);

}  // namespace hs::lm
