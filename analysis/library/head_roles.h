// Head roles (seed 002): the six categories a head can be put in,
// the offline categorisation's data (head_categories.json), and the runtime
// verification of the top heads on the user's own prompt. Torch-free.
//
//   categories.json, written once per model (headscope categorize):
//     HeadCategories c = BuildHeadCategories(scores, "demo_lm", ...);   // scores from ScoreAllRoles
//     lm::WriteHeadCategories(dir / "head_categories.json", c);
//   on every prompt edit:
//     PromptRoles r = VerifyPrompt(c, patterns, n_layers, n_heads, tokens);
//     r.ToJson()  ->  {"previous_token": [{layer, head, score, activation_score, is_active}], ...,
//                      "reasons": {"induction": "no repeated tokens in your input", ...}}
//
// Categories, in display order: previous_token, induction, duplicate_token,
// first_token, diffuse (where a head looks: scored on prompts), copying,
// copy_suppression, successor (what a head writes: read from the weights,
// lm/ov_scores.h), other. A head may hold several roles (it appears in
// several top-head lists); "other" holds the heads in no top-head list.
// The output roles are verified on the user's prompt by what the head
// writes (lm/output_roles.h): a copying head is active when the token it
// attends to most ranks among the tokens its output raises most.
//
// Top heads of a category (SelectTopHeads): every head with score >= the
// category's threshold, best first; for layer diversity, the best head of
// each layer not yet represented if it scores >= the lower diversity
// threshold; at most kMaxTopHeads, by score.
//
// Runtime activation score in [0, 1] of one head on the user's prompt
// (ActivationScore), per the seed's table:
//   previous_token  mean of A[i][i-1] over rows i >= 1;
//   induction       over rows i whose token occurred before (at j < i):
//                   the attention on the tokens after those occurrences,
//                   sum_j A[i][j+1], averaged over such rows; 0 without repeats;
//   duplicate_token over the same rows: sum_j A[i][j] on the earlier
//                   occurrences themselves; 0 without repeats;
//   first_token     mean of A[i][0] over rows i >= 1;
//   diffuse         normalised row entropy (DiffuseScore).
// A head is active when its activation score >= the category's
// active_threshold. A category is active when one of its top heads is.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "library/head_detectors.h"

namespace hs::library {

inline constexpr size_t kMaxTopHeads = 8;

// The roles read from a head's OV circuit (what it writes), not its attention.
enum class OutputRole { kCopying = 0, kCopySuppression, kSuccessor };
inline constexpr int kNumOutputRoles = 3;

struct CategoryDef {
  std::string key;           // "previous_token", ..., "other"
  std::optional<HeadRole> role;  // none for "other"
  std::string display_name;  // "Previous Token"
  std::string description;   // one line, for the JSON and tooltips
  std::string icon;          // the seed's icon name
  std::string explanation;   // for learners: what the head does
  double threshold = 0;      // offline score for a top head
  double diversity_threshold = 0;  // lower bar for the best head of another layer
  double active_threshold = 0;     // runtime activation score for "active"
  bool requires_repetition = false;
  std::string suggested_prompt;  // a prompt that makes the role fire
  std::optional<OutputRole> output_role;  // set for the roles read from the weights (role is then none)
};

// The categories in display order ("other" last).
const std::vector<CategoryDef>& HeadCategoryDefs();
// nullptr for an unknown key.
const CategoryDef* FindCategoryDef(const std::string& key);

struct TopHead {
  int layer = 0, head = 0;
  double score = 0;
};

std::vector<TopHead> SelectTopHeads(const LayerHeadScores& scores, double threshold, double diversity_threshold,
                                    size_t cap = kMaxTopHeads);

struct CategoryResult {
  std::string key;
  double threshold = 0;
  std::vector<TopHead> top_heads;
  LayerHeadScores all_scores;  // [n_layers][n_heads]; for "other", 1 for a head in no top-head list, else 0
};

// How the scores were made (recorded in the file).
struct CategorizationMethod {
  int n_repeated = 0;          // random repeated-token sequences (induction, duplicate)
  int repeated_half_length = 0;  // tokens before the repeat
  int n_sentences = 0;         // natural sentences (previous, first-token, diffuse)
  bool bos = false;            // BOS prepended to every prompt
  uint64_t seed = 0;
  std::string prompts_file;    // where the sentences came from
};

// How the roles read from the weights were made (lm::ComputeOvScores, lm::SinkScores).
struct WeightRolesMethod {
  int k = 0;                 // a token counts when its own (or successor) token ranks in the top / bottom k of its row
  std::string token_set;     // in words: which tokens the copying scores rank over
  int n_tokens = 0;
  std::vector<std::string> ordinal_sets;  // the sequences the successor score uses
  int sink_prompts = 0;      // random-token prompts of the sink score
};

struct HeadCategories {
  std::string model_name;
  int n_layers = 0, n_heads = 0;
  std::string analysis_date;  // YYYY-MM-DD
  std::string weights_hash;   // WeightsHash of the folder the scores came from
  std::string weights_signature;  // WeightsSignature then (sizes and mtimes: skips re-hashing)
  CategorizationMethod method;
  std::vector<CategoryResult> categories;  // display order, "other" last

  // The roles read from the weights: computed (has_weight_roles) or not yet
  // (a file from before them). An output role that could not be computed is
  // left out of `categories` and says why here (key -> reason), e.g. a
  // vocabulary without ordinal sequences, or Gemma 2's post-norms.
  bool has_weight_roles = false;
  WeightRolesMethod weights_method;
  std::vector<std::pair<std::string, std::string>> unavailable;
  // Mean attention to the first position on random tokens, [n_layers][n_heads]
  // (empty when not computed); on text it is the first_token score. A head is
  // an attention sink when both reach the first_token threshold.
  LayerHeadScores sink_random;
  bool IsSink(int layer, int head) const;
  std::string Unavailable(const std::string& key) const;  // "" when the role was computed (or is not an output role)

  const CategoryResult* Find(const std::string& key) const;
  // The categories a head belongs to (its top-head lists), display order.
  std::vector<std::string> RolesOf(int layer, int head) const;
};

// Categories from per-role scores (ScoreAllRoles' order, averaged over the
// prompts) and, when given, the output roles' scores from the weights
// (OutputRole order; an empty entry leaves that role out); "other" from the
// heads in no top-head list.
HeadCategories BuildHeadCategories(const std::array<LayerHeadScores, kNumHeadRoles>& scores, int n_layers,
                                   int n_heads,
                                   const std::array<LayerHeadScores, kNumOutputRoles>* output_scores = nullptr);

// --- runtime verification ----------------------------------------------------

double ActivationScore(HeadRole role, const float* attention, int T, const std::vector<int64_t>& tokens);

struct HeadActivation {
  int layer = 0, head = 0;
  double score = 0;             // offline score (head_categories.json)
  double activation_score = 0;  // on this prompt, [0, 1]
  bool is_active = false;
};

struct CategoryActivation {
  std::string key;
  bool applicable = true;   // false: needs repetition and the prompt has none
  bool active = false;      // some top head is active
  std::vector<HeadActivation> heads;  // the top heads, in the file's order
  std::string reason;       // why the category is gray (empty when active)
  // Causal check (lm::ApplyChecks): ablating an active top head raises the
  // loss where the role acts above the 95th percentile of the other heads.
  enum class Check { kNotRun, kChecked, kNotChecked };
  Check check = Check::kNotRun;
  std::string check_reason;  // one sentence with the numbers
  std::string note;          // more about the heads (first_token: which are attention sinks); may be empty
  std::string active_reason; // output roles: what the active head does on this prompt, with numbers
};

struct PromptRoles {
  std::vector<CategoryActivation> categories;  // display order, "other" last
  bool repeated_tokens = false;
  const CategoryActivation* Find(const std::string& key) const;
  // {key: [{layer, head, score, activation_score, is_active}], "reasons": {key: text},
  //  "notes": {key: text} (sinks, what an active output head does),
  //  and once checked "checked": {key: true|false}, "check_reasons": {key: text}}
  nlohmann::json ToJson() const;
};

// patterns: [n_layers, n_heads, T, T] row-major with T = tokens.size().
PromptRoles VerifyPrompt(const HeadCategories& c, const float* patterns, int n_layers, int n_heads,
                         const std::vector<int64_t>& tokens);
// The same from activation scores computed elsewhere (streamed, layer by
// layer): score(role, layer, head) is ActivationScore of that head's pattern;
// it is asked only for the top heads of each category. The output roles'
// heads are left inactive with the reason "not verified" until
// lm::VerifyOutputRoles fills them in.
PromptRoles VerifyPromptScores(const HeadCategories& c, const std::function<double(HeadRole, int, int)>& score,
                               const std::vector<int64_t>& tokens);

}  // namespace hs::library
