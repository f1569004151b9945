// The language-model workspace's engine, without a window: a loaded model
// with its head categories and roles over training (LoadLmModel), and one
// prompt's analysis (AnalyzePrompt: forward to the last pattern, verify the
// head roles). The explorer runs both as requests on its job lanes (the
// model on the long lane, each prompt edit on the model lane, latest wins);
// the CLI and the benchmarks call them directly. Torch-free interface.
//
//   auto model = lm::LoadLmModel("assets/demo_lm");            // slow: a background job
//   auto ids = model->lm->Encode("The cat sat. The cat", model->lm->DefaultBos());
//   auto a = lm::AnalyzePrompt(*model, *model->lm, text, ids, bos);  // a->roles, a->patterns
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "library/head_roles.h"
#include "lm/categorize.h"
#include "lm/interventions.h"
#include "lm/language_model.h"

namespace hs::lm {

// A loaded model and what was computed about it once.
struct LmModel {
  std::filesystem::path dir;
  std::shared_ptr<const LanguageModel> lm;  // the final weights
  library::HeadCategories categories;
  std::string categories_note;               // e.g. "categorised the heads and wrote ..."
  std::vector<std::pair<int, std::filesystem::path>> checkpoints;  // (step, folder), ascending
  std::shared_ptr<const RoleFormation> formation;  // null: no checkpoints (or formation_error)
  std::string formation_error;
  // Derived files that could not be written next to the weights (a
  // read-only folder): each names the file and why; the results are kept in
  // memory for this session and computed again next time.
  std::vector<std::string> cache_warnings;
  int n_layers() const { return categories.n_layers; }
  int n_heads() const { return categories.n_heads; }
};

// Loads weights and tokenizer, then the head categories (computed and saved
// the first time, see LoadOrCategorize) and, for a folder with checkpoints,
// the roles over training (role_formation.json, computed if missing).
// `status` is told what is happening ("categorising heads", fraction in
// [0, 1] or -1) and returns false to cancel (jobs::Cancelled).
using LoadStatus = std::function<bool(const std::string& what, float fraction)>;
std::shared_ptr<const LmModel> LoadLmModel(const std::filesystem::path& dir, const LoadStatus& status = {});

// One prompt run through one model (the final weights or a checkpoint).
// Never every pattern: the forward streams layer by layer, and what the views
// show is kept: the selected head's pattern, a downsampled overview of every
// head, and the per-row role quantities of the categories' top heads.
struct PromptAnalysis {
  std::filesystem::path model_dir;       // the model it was run through (LmModel::dir)
  std::string prompt;
  bool bos = false;
  int step = -1;                         // checkpoint step; -1: the final weights
  std::vector<int64_t> tokens;
  std::vector<std::string> token_text;   // readable, one per token
  int n_layers = 0, n_heads = 0;
  library::PromptRoles roles;
  std::string error;                     // why the prompt could not be run, in words
  double compute_ms = 0;                 // forward + verification
  int64_t reused_rows = 0;               // rows taken from the previous prompt's keys and values
  std::string intervention;              // the heads and neurons turned off (Describe), "" for none

  // The selected head's full pattern, [T, T] (empty when no head was asked).
  int head_layer = -1, head_head = -1;
  std::vector<float> head_pattern;
  // Every head downsampled: overview_bin x overview_bin blocks of tokens,
  // each cell the attention the block's queries give the key block (row
  // mean of the block's sum), so rows of cells still sum to 1.
  // [n_layers, n_heads, S, S] with S = overview_size = ceil(T / overview_bin).
  int overview_bin = 1, overview_size = 0;
  std::vector<float> overview;
  // Per-row role quantities of the watched heads (the top heads of every
  // category), for the next edit to reuse: [watched, T, kRowStats].
  std::vector<std::pair<int, int>> watched;
  std::vector<double> row_stats;
  // Row quantity k of every query row of a watched head ([T], stride
  // kRowStats), or nullptr for a head not watched: what the role's
  // activation score averages, token by token.
  enum RowStat { kRowPrev = 0, kRowFirst, kRowDiffuse, kRowInduction, kRowDuplicate, kRowStats };
  const double* Rows(int layer, int head) const {
    for (size_t w = 0; w < watched.size(); ++w)
      if (watched[w] == std::make_pair(layer, head) && row_stats.size() >= (w + 1) * tokens.size() * kRowStats)
        return row_stats.data() + w * tokens.size() * kRowStats;
    return nullptr;
  }
  // Per-row quantities of the output roles' top heads (lm/output_roles.h):
  // [out_watched, T, kOutStats]; what the badges of copying, copy
  // suppression and successor are verified from.
  std::vector<std::pair<int, int>> out_watched;
  std::vector<double> out_stats;
  const double* OutRows(int layer, int head) const {
    for (size_t w = 0; w < out_watched.size(); ++w)
      if (out_watched[w] == std::make_pair(layer, head) && out_stats.size() >= (w + 1) * tokens.size() * 5)
        return out_stats.data() + w * tokens.size() * 5;
    return nullptr;
  }
  std::shared_ptr<PromptCache> cache;    // keys and values of these tokens (for the next edit and HeadPattern)

  bool ok() const { return error.empty() && !overview.empty(); }
  int T() const { return int(tokens.size()); }
  // The selected head's pattern, or nullptr for another head.
  const float* Head(int layer, int head) const {
    return layer == head_layer && head == head_head && !head_pattern.empty() ? head_pattern.data() : nullptr;
  }
  const float* Overview(int layer, int head) const {
    return overview.data() + (size_t(layer) * n_heads + head) * size_t(overview_size) * overview_size;
  }
};

// The overview's block size for T tokens: the smallest power of two giving at
// most kOverviewCells cells a side.
inline constexpr int kOverviewCells = 64;
int OverviewBin(int64_t T);

struct PromptOptions {
  std::pair<int, int> head{-1, -1};  // the head whose full pattern to keep
  // Keys and values of the previous prompt (updated), with its analysis:
  // rows of the shared prefix are not run again.
  std::shared_ptr<PromptCache> cache;
  std::shared_ptr<const PromptAnalysis> previous;
  bool single_token_ok = false;  // run a one-token prompt (the window asks for more)
  // Heads and neurons turned off for this run (every view shows the
  // intervened model); the cache is then neither used nor changed.
  std::shared_ptr<const Intervention> intervention;
  // Also sees every pattern block as it streams (the CLI's --patterns-out).
  std::function<void(const PatternBlock&)> sink;
  // "running layer 3 of 24", fraction; false cancels (jobs::Cancelled).
  std::function<bool(const std::string& what, float fraction)> progress;
};

// `weights` is model.lm for the final weights or a checkpoint's model; the
// categories are always the final model's (which heads hold which role).
// `tokens` are `prompt` encoded with `bos` (the caller keys requests by them).
// Problems come back in words in ->error, never as exceptions (except
// jobs::Cancelled).
std::shared_ptr<PromptAnalysis> AnalyzePrompt(const LmModel& model, const LanguageModel& weights,
                                              const std::string& prompt, std::vector<int64_t> tokens, bool bos,
                                              int step = -1, const PromptOptions& options = {});
// The same, encoding `prompt` first.
std::shared_ptr<PromptAnalysis> AnalyzePrompt(const LmModel& model, const LanguageModel& weights,
                                              const std::string& prompt, bool bos, int step = -1,
                                              const PromptOptions& options = {});

// The weights of training checkpoint `step` of `model` (a folder under
// model.checkpoints); std::invalid_argument when it has no such step.
std::shared_ptr<const LanguageModel> OpenCheckpoint(const LmModel& model, int step);

}  // namespace hs::lm
