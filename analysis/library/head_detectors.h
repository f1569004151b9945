// Head-role detectors on attention patterns. Torch-free, pure
// functions: patterns are row-major floats, one head [T, T] (query row, key
// column) or a model [n_layers, n_heads, T, T]; tokens are the ids of the
// prompt the pattern came from. Inputs are never modified.
//
// previous-token, duplicate-token and induction follow TransformerLens's
// `detect_head` (transformer_lens/head_detector.py):
// - detection patterns built from the tokens (lower triangular 0/1 [T, T]):
//   previous-token  D[i][i-1] = 1;
//   duplicate-token D[i][j] = 1 for j < i with tok[j] == tok[i];
//   induction       D[i][j] = 1 for 1 <= j <= i with tok[j-1] == tok[i] (the
//                   duplicate pattern shifted one key to the right; note that
//                   j == i is included when tok[i-1] == tok[i], as in TL);
// - `mul`: A' = A with column 0 zeroed (exclude_bos) and the diagonal zeroed
//   (exclude_current_token); score = sum(A' * D) / sum(A'); 0 when sum(A') = 0
//   (TL would give NaN);
// - `abs`: E = |A - D| with the same exclusions applied to E; score =
//   1 - sum(E) / T (TL's 1 - mean(E) * T: one minus the mean row L1
//   distance). TL rounds that to 3 decimals; we do not.
// Unlike TL, which drops exclude_bos, exclude_current_token and the error
// measure when given a list of prompts, every option applies the same way to
// one prompt and to many; many prompts average the per-prompt scores (as TL).
//
// first-token (attention sink): mean of A[i][0] over rows i = 1..T-1. Row 0
// is left out: it can only attend to position 0, so its 1.0 says nothing
// about the head (and would lift every head by 1/T on short prompts).
// diffuse: per row i the entropy of A[i][0..i] (natural log, 0 log 0 = 0)
// over log(i + 1), the number of keys a causal row sees; averaged over rows
// with at least 2 visible keys (i >= 1). A causal uniform pattern scores
// exactly 1, one-hot rows 0. Neither uses the exclusion options.
// Both return 0 for T < 2 (no row to judge).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace hs::library {

enum class HeadRole { kPreviousToken = 0, kDuplicateToken, kInduction, kFirstToken, kDiffuse };
inline constexpr int kNumHeadRoles = 5;
inline constexpr std::array<HeadRole, kNumHeadRoles> kAllHeadRoles = {HeadRole::kPreviousToken,
                                                                      HeadRole::kDuplicateToken, HeadRole::kInduction,
                                                                      HeadRole::kFirstToken, HeadRole::kDiffuse};

// "previous_token", "duplicate_token", "induction", "first_token", "diffuse".
std::string HeadRoleKey(HeadRole role);
// True for the roles that can only fire on a prompt with a repeated token.
bool RoleNeedsRepetition(HeadRole role);

enum class ErrorMeasure { kMul, kAbs };

struct DetectOptions {
  bool exclude_bos = false;
  bool exclude_current_token = false;
  ErrorMeasure error_measure = ErrorMeasure::kMul;
};

// Detection patterns, row-major [T, T] with T = tokens.size() (or T).
std::vector<float> PreviousTokenPattern(int T);
std::vector<float> DuplicateTokenPattern(const std::vector<int64_t>& tokens);
std::vector<float> InductionPattern(const std::vector<int64_t>& tokens);
// One of the three above; throws std::invalid_argument for another role.
std::vector<float> DetectionPattern(HeadRole role, const std::vector<int64_t>& tokens);

// TL's compute_head_attention_similarity_score on one head's [T, T] pattern.
double AttentionSimilarityScore(const float* attention, const float* detection, int T, const DetectOptions& options);

double FirstTokenScore(const float* attention, int T);
double DiffuseScore(const float* attention, int T);

// The pattern "without the sink": a window [rows, cols] of one head's
// [T, T] pattern (queries row0.., keys col0..) with key 0 removed and each
// query row renormalised over its other keys (1..i; the rest of the row as
// it is). Key 0's column and the cells of a row with no attention left (row
// 0, or a row that gave everything to key 0) are NaN: nothing to show.
std::vector<float> WithoutFirstKey(const float* attention, int T, int row0, int rows, int col0, int cols);

// Whether some token id occurs twice, i.e. whether the duplicate-token and
// induction detection patterns have any 1 (the only way those roles can fire).
bool HasRepeatedTokens(const std::vector<int64_t>& tokens);

// One head's score for a role on one prompt (T = tokens.size()).
double HeadRoleScore(HeadRole role, const float* attention, const std::vector<int64_t>& tokens,
                     const DetectOptions& options = {});

// [n_layers][n_heads]
using LayerHeadScores = std::vector<std::vector<double>>;

// One prompt's patterns for every head: [n_layers, n_heads, T, T] with
// T = tokens->size(). Both pointers must outlive the call.
struct PromptAttention {
  const float* patterns = nullptr;
  const std::vector<int64_t>* tokens = nullptr;
};

// Every head of a model for one role, averaged over the prompts (each
// prompt's own detection pattern; prompts may differ in length).
LayerHeadScores ScoreHeads(HeadRole role, const std::vector<PromptAttention>& prompts, int n_layers, int n_heads,
                           const DetectOptions& options = {});

// Every head for every role, indexed by static_cast<int>(role).
std::array<LayerHeadScores, kNumHeadRoles> ScoreAllRoles(const std::vector<PromptAttention>& prompts, int n_layers,
                                                         int n_heads, const DetectOptions& options = {});

}  // namespace hs::library
