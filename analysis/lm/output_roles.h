// The output roles (copying, copy suppression, successor; read from the
// weights, see lm/ov_scores.h) verified on the user's prompt, by what the
// head writes there. Torch-free.
//
// Per query row i of a head (AnalyzePrompt computes them while the prompt
// streams, and reuses them for the rows an edit did not change):
//   key    j* = the earlier key (j < i) the row attends to most (the first
//            position left out when it is BOS: that is the sink, not content);
//   weight     A[i][j*];
//   ranks      the head's direct effect on the logits at i, o_i = z_i W_O
//            through the final norm's shape (centred for LayerNorm, times its
//            weight; the per-row scale does not change ranks), read for the
//            attended token t = tokens[j*] against the copying scores' token
//            set S (OvTokenSet): how many tokens of S other than t get at
//            least t's logit (rank_top; 0 = t is raised most), at most
//            (rank_bottom), and for a t with a successor u in an ordinal set
//            (OrdinalSets) the rank_top of u (-1 when t has none).
// A head's activation score is the attention-weighted share of its rows
// whose attended token ranks in the top k (copying), the bottom k
// (suppression), or whose successor ranks in the top k (successor, over the
// rows that have one), with k from the weights' scores (5): for a head with
// no such output the share is about k / |S|.
//
//   OutputRoleScorer s(weights, categories, tokens, bos);   // before the stream
//   stream: s.OnPattern(block, stats) then s.OnZ(layer, z, ...)
//   VerifyOutputRoles(categories, s.heads(), stats, tokens, text, &roles);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "library/head_roles.h"
#include "lm/language_model.h"

namespace hs::lm {

enum OutputRowStat { kOutWeight = 0, kOutKey, kOutRankTop, kOutRankBottom, kOutSuccRank, kOutStats };

class OutputRoleScorer {
 public:
  // The heads are the output categories' top heads (none when the
  // categories have no weight roles, or the model's logits are not a sum of
  // per-head terms). Reads their W_O and the unembedding columns it needs:
  // call before the stream (the model is locked while it runs).
  OutputRoleScorer(const LanguageModel& weights, const library::HeadCategories& c, const std::vector<int64_t>& tokens,
                   bool bos);
  ~OutputRoleScorer();
  const std::vector<std::pair<int, int>>& heads() const;
  int n_tokens() const;  // |S|
  // stats: [heads().size(), T, kOutStats]; rows from the block's row0 are written.
  void OnPattern(const PatternBlock& b, double* stats) const;
  void OnZ(int layer, const float* z, int n_heads, int64_t row0, int64_t T, int d_head, double* stats) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

// The activation score of `role` for one head from its rows ([T, kOutStats]);
// *rows_used: rows that could count (successor: those with a successor). k: top / bottom k.
double OutputActivation(library::OutputRole role, const double* rows, int T, int k, int* rows_used = nullptr);

// Fills the output categories of `roles` (made by VerifyPromptScores): each
// top head's activation score, is_active, the category's active state, reason
// and note (what the most active head does, with a token of the prompt).
// stats: [heads.size(), T, kOutStats].
void VerifyOutputRoles(const library::HeadCategories& c, const std::vector<std::pair<int, int>>& heads,
                       const double* stats, const std::vector<int64_t>& tokens,
                       const std::vector<std::string>& token_text, library::PromptRoles* roles);

}  // namespace hs::lm
