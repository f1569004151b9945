#include "library/head_detectors.h"

#include <cmath>
#include <stdexcept>
#include <unordered_set>

namespace hs::library {

std::string HeadRoleKey(HeadRole role) {
  switch (role) {
    case HeadRole::kPreviousToken:
      return "previous_token";
    case HeadRole::kDuplicateToken:
      return "duplicate_token";
    case HeadRole::kInduction:
      return "induction";
    case HeadRole::kFirstToken:
      return "first_token";
    case HeadRole::kDiffuse:
      return "diffuse";
  }
  throw std::invalid_argument("HeadRoleKey: unknown role");
}

bool RoleNeedsRepetition(HeadRole role) { return role == HeadRole::kDuplicateToken || role == HeadRole::kInduction; }

std::vector<float> PreviousTokenPattern(int T) {
  if (T < 0) throw std::invalid_argument("PreviousTokenPattern: negative length");
  std::vector<float> d(static_cast<size_t>(T) * T, 0.f);
  for (int i = 1; i < T; ++i) d[static_cast<size_t>(i) * T + i - 1] = 1.f;
  return d;
}

std::vector<float> DuplicateTokenPattern(const std::vector<int64_t>& tokens) {
  const size_t T = tokens.size();
  std::vector<float> d(T * T, 0.f);
  for (size_t i = 0; i < T; ++i)
    for (size_t j = 0; j < i; ++j)
      if (tokens[j] == tokens[i]) d[i * T + j] = 1.f;
  return d;
}

std::vector<float> InductionPattern(const std::vector<int64_t>& tokens) {
  // The duplicate pattern shifted one key to the right, column 0 cleared:
  // query i attends to the token after an earlier occurrence of tok[i].
  const size_t T = tokens.size();
  std::vector<float> d(T * T, 0.f);
  for (size_t i = 0; i < T; ++i)
    for (size_t j = 1; j <= i; ++j)
      if (tokens[j - 1] == tokens[i]) d[i * T + j] = 1.f;
  return d;
}

std::vector<float> DetectionPattern(HeadRole role, const std::vector<int64_t>& tokens) {
  switch (role) {
    case HeadRole::kPreviousToken:
      return PreviousTokenPattern(static_cast<int>(tokens.size()));
    case HeadRole::kDuplicateToken:
      return DuplicateTokenPattern(tokens);
    case HeadRole::kInduction:
      return InductionPattern(tokens);
    default:
      throw std::invalid_argument("DetectionPattern: " + HeadRoleKey(role) + " has no detection pattern");
  }
}

double AttentionSimilarityScore(const float* attention, const float* detection, int T, const DetectOptions& options) {
  // The exclusions zero entries of a conceptual copy: excluded entries are
  // skipped, the input is only read.
  auto excluded = [&](int i, int j) {
    return (options.exclude_bos && j == 0) || (options.exclude_current_token && i == j);
  };
  if (options.error_measure == ErrorMeasure::kMul) {
    double matched = 0, total = 0;
    for (int i = 0; i < T; ++i)
      for (int j = 0; j < T; ++j) {
        if (excluded(i, j)) continue;
        const size_t k = static_cast<size_t>(i) * T + j;
        total += attention[k];
        matched += static_cast<double>(attention[k]) * detection[k];
      }
    return total == 0 ? 0.0 : matched / total;
  }
  if (T <= 0) return 0.0;
  double err = 0;
  for (int i = 0; i < T; ++i)
    for (int j = 0; j < T; ++j) {
      if (excluded(i, j)) continue;
      const size_t k = static_cast<size_t>(i) * T + j;
      err += std::abs(static_cast<double>(attention[k]) - detection[k]);
    }
  return 1.0 - err / T;
}

double FirstTokenScore(const float* attention, int T) {
  if (T < 2) return 0.0;
  double s = 0;
  for (int i = 1; i < T; ++i) s += attention[static_cast<size_t>(i) * T];
  return s / (T - 1);
}

std::vector<float> WithoutFirstKey(const float* attention, int T, int row0, int rows, int col0, int cols) {
  if (T < 0 || row0 < 0 || col0 < 0 || rows < 0 || cols < 0 || row0 + rows > T || col0 + cols > T)
    throw std::invalid_argument("WithoutFirstKey: window outside the pattern");
  std::vector<float> out(static_cast<size_t>(rows) * cols, std::nanf(""));
  for (int r = 0; r < rows; ++r) {
    const int i = row0 + r;
    const float* row = attention + static_cast<size_t>(i) * T;
    double rest = 0;  // the row's attention to keys 1..i
    for (int j = 1; j <= i; ++j) rest += row[j];
    if (!(rest > 0)) continue;
    float* o = out.data() + static_cast<size_t>(r) * cols;
    for (int c = 0; c < cols; ++c) {
      const int j = col0 + c;
      if (j == 0) continue;
      o[c] = j <= i ? static_cast<float>(row[j] / rest) : row[j];
    }
  }
  return out;
}

double DiffuseScore(const float* attention, int T) {
  if (T < 2) return 0.0;
  double s = 0;
  for (int i = 1; i < T; ++i) {
    const float* row = attention + static_cast<size_t>(i) * T;
    double h = 0;
    for (int j = 0; j <= i; ++j)
      if (row[j] > 0) h -= row[j] * std::log(static_cast<double>(row[j]));
    s += h / std::log(static_cast<double>(i + 1));
  }
  return s / (T - 1);
}

bool HasRepeatedTokens(const std::vector<int64_t>& tokens) {
  std::unordered_set<int64_t> seen;
  for (int64_t t : tokens)
    if (!seen.insert(t).second) return true;
  return false;
}

namespace {

// One prompt, one head, with the detection pattern already built (or empty
// for the pattern-free roles).
double ScoreWithPattern(HeadRole role, const float* attention, const std::vector<float>& detection, int T,
                        const DetectOptions& options) {
  switch (role) {
    case HeadRole::kFirstToken:
      return FirstTokenScore(attention, T);
    case HeadRole::kDiffuse:
      return DiffuseScore(attention, T);
    default:
      return AttentionSimilarityScore(attention, detection.data(), T, options);
  }
}

bool HasPattern(HeadRole role) { return role != HeadRole::kFirstToken && role != HeadRole::kDiffuse; }

}  // namespace

double HeadRoleScore(HeadRole role, const float* attention, const std::vector<int64_t>& tokens,
                     const DetectOptions& options) {
  const int T = static_cast<int>(tokens.size());
  const std::vector<float> detection = HasPattern(role) ? DetectionPattern(role, tokens) : std::vector<float>{};
  return ScoreWithPattern(role, attention, detection, T, options);
}

LayerHeadScores ScoreHeads(HeadRole role, const std::vector<PromptAttention>& prompts, int n_layers, int n_heads,
                           const DetectOptions& options) {
  if (n_layers < 0 || n_heads < 0) throw std::invalid_argument("ScoreHeads: negative layer or head count");
  LayerHeadScores scores(n_layers, std::vector<double>(n_heads, 0.0));
  if (prompts.empty()) return scores;
  for (const PromptAttention& p : prompts) {
    if (!p.patterns || !p.tokens) throw std::invalid_argument("ScoreHeads: prompt without patterns or tokens");
    const int T = static_cast<int>(p.tokens->size());
    const size_t head_size = static_cast<size_t>(T) * T;
    const std::vector<float> detection = HasPattern(role) ? DetectionPattern(role, *p.tokens) : std::vector<float>{};
    for (int l = 0; l < n_layers; ++l)
      for (int h = 0; h < n_heads; ++h) {
        const float* a = p.patterns + (static_cast<size_t>(l) * n_heads + h) * head_size;
        scores[l][h] += ScoreWithPattern(role, a, detection, T, options);
      }
  }
  for (auto& layer : scores)
    for (double& s : layer) s /= static_cast<double>(prompts.size());
  return scores;
}

std::array<LayerHeadScores, kNumHeadRoles> ScoreAllRoles(const std::vector<PromptAttention>& prompts, int n_layers,
                                                         int n_heads, const DetectOptions& options) {
  std::array<LayerHeadScores, kNumHeadRoles> out;
  for (HeadRole role : kAllHeadRoles)
    out[static_cast<int>(role)] = ScoreHeads(role, prompts, n_layers, n_heads, options);
  return out;
}

}  // namespace hs::library
