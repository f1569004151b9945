// Roles read from the weights alone: what each head's OV circuit does to a
// token it attends to (copying, copy suppression, successor), and where heads
// put their attention regardless of content (the attention sink). Torch-free.
//
// The full OV circuit of head (l, h), per token t of a token set S:
//   e'_t  = W_E[t] + MLP_0(ln2_0(W_E[t]))   the embedding after the first MLP
//           layer (as the copy-suppression literature uses it; attention skipped)
//   o_t   = norm_l(e'_t) W_V[h] W_O[h]       (ln1 of layer l: centred/scaled, times w, no bias)
//   row_t = centre(o_t) * w_final  W_U[:, S]  (the final norm's shape without its scale,
//                                              which does not change a row's ranks; no biases)
// copying     = share of t in S whose own token ranks in the top k of row_t;
// suppression = share whose own token ranks in the bottom k;
// successor   = over ordinal sequences (digits, numbers, number words, days,
//               months, letters) whose every item is one token: share of items
//               whose successor has the highest logit among its set's items.
// attention sink = mean attention to the first position over queries that
// can see it (rows 1..T-1), on random tokens and on natural text.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lm/language_model.h"

namespace hs::lm {

struct OvScoreOptions {
  int k = 5;              // top / bottom k of a row
  int max_tokens = 1000;  // S: every ordinary token when the vocabulary has at most this many, else a uniform sample
  uint64_t seed = 0;      // of the sample
};

struct OvScores {
  int n_layers = 0, n_heads = 0, k = 5;
  std::string token_set;                // in words: which tokens S holds
  int n_tokens = 0;
  std::vector<double> copying, suppression, successor;  // [n_layers * n_heads]; successor NaN when untestable
  std::vector<std::string> ordinal_sets;  // the sets successor used ("digits 0-9", ...)
  std::string successor_note;             // why successor could not be tested ("" when it was)
  double ms = 0;
  double At(const std::vector<double>& v, int l, int h) const { return v[size_t(l) * n_heads + h]; }
};
// progress(done heads, total) false cancels (jobs::Cancelled).
OvScores ComputeOvScores(const LanguageModel& lm, const OvScoreOptions& options = {},
                         const std::function<bool(int, int)>& progress = {});

// The tokens the copying scores rank over (S above): every ordinary token
// when there are at most options.max_tokens, else a uniform sample (sorted);
// *words says which.
std::vector<int64_t> OvTokenSet(const LanguageModel& lm, const OvScoreOptions& options = {},
                                std::string* words = nullptr);

// The ordinal sequences the tokenizer can test: every item one token (tried
// with a leading space first, then without), distinct.
struct OrdinalSet {
  std::string name;          // "days (with a leading space)"
  std::vector<int64_t> ids;  // in order
};
std::vector<OrdinalSet> OrdinalSets(const LanguageModel& lm);

// Mean attention to position 0 over rows 1..T-1, per head [n_layers * n_heads], averaged over `prompts`.
std::vector<double> SinkScores(const LanguageModel& lm, const std::vector<std::vector<int64_t>>& prompts);

}  // namespace hs::lm
