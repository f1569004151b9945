// Causally checked role badges: does a head that attends like its role
// matter where the role acts? Torch-free.
//
// For one prompt:
//   1. attribution patching for every head (one forward, one backward per
//      set of positions): a cheap estimate of each head's effect;
//   2. exact ablation (CleanRun: each head alone, recomputed from its layer)
//      of every head when the model has at most options.max_exact heads,
//      else of that many, the largest by attribution first, the roles' heads
//      always;
//   3. for each active role, its active top heads: the mean rise of the loss
//      at the positions where the role acts, against the same measure of
//      every other head measured exactly. A head is *checked* when its rise
//      is above the 95th percentile (linear interpolation, as numpy) of the
//      others'.
// Where a role acts (loss entry i predicts token i+1 from position i):
//   induction, duplicate_token  positions whose token occurred before;
//   previous_token              positions 1..T-2 (every row with a previous token);
//   first_token, diffuse        every position;
//   the output roles (copying, copy_suppression, successor): every position.
//
//   auto checks = lm::CheckRoles(lm, a.tokens, a.roles, means, {});
//   lm::ApplyChecks(checks, &a.roles);   // badges: filled and checked
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "library/head_roles.h"
#include "lm/interventions.h"

namespace hs::lm {

struct HeadCheck {
  int layer = 0, head = 0;
  double rise = 0;          // mean loss rise at the role's positions when ablated, nats
  double attribution = 0;   // attribution patching's estimate of the same
  double others_p95 = 0, others_median = 0;  // of the other heads measured exactly
  int others = 0;           // how many
  int top_layer = -1, top_head = -1;  // the other head with the largest rise
  double top_rise = 0;
  bool checked = false;
};

struct RoleCheck {
  std::string key;               // category key
  std::string where;             // "the 24 tokens that repeat earlier ones", "every token"
  std::vector<int> positions;    // loss entries the measure averages
  std::vector<HeadCheck> heads;  // the role's active top heads (at most 3)
  bool checked = false;          // one of them is
  std::string reason;            // one sentence, for the badge's tooltip
};

struct CausalChecks {
  std::vector<int64_t> tokens;
  AblationMode mode = AblationMode::kZero;
  int n_layers = 0, n_heads = 0;
  std::vector<double> loss_clean;                 // [T-1]
  // Exact per-token losses with each head ablated alone: [n_layers * n_heads]
  // entries of [T-1], empty for a head not measured.
  std::vector<std::vector<double>> loss_ablated;
  HeadAttribution attribution;                     // mask 0: every position
  std::string attribution_error;                   // why there is none (a model that streams)
  std::vector<RoleCheck> roles;
  int measured = 0;                                // heads measured exactly
  double exact_ms = 0;
  const RoleCheck* Find(const std::string& key) const;
  // Mean loss rise over `positions` (all when empty) of head (l, h); NaN when not measured.
  double Rise(int layer, int head, const std::vector<int>& positions = {}) const;
};

struct CheckOptions {
  AblationMode mode = AblationMode::kMean;  // kZero when no means are given
  int max_exact = 160;                      // heads measured exactly (GPT-2 small has 144)
  // "measuring L3H2 (40 of 144)", fraction; false cancels (jobs::Cancelled).
  std::function<bool(const std::string&, float)> progress;
};

// The positions (loss entries) where `key`'s role acts on `tokens`, and in words.
std::vector<int> RolePositions(const std::string& key, const std::vector<int64_t>& tokens, std::string* where);

CausalChecks CheckRoles(const LanguageModel& lm, const std::vector<int64_t>& tokens,
                        const library::PromptRoles& roles, const std::shared_ptr<const ActivationMeans>& means,
                        const CheckOptions& options = {});

// Marks roles->categories[*].checked and their reasons.
void ApplyChecks(const CausalChecks& checks, library::PromptRoles* roles);

// Spearman's rank correlation (average ranks for ties); 0 when either is constant.
double RankCorrelation(const std::vector<double>& a, const std::vector<double>& b);

// numpy.percentile(values, q) (linear); NaN for no values.
double Percentile(std::vector<double> values, double q);

}  // namespace hs::lm
