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
struct PromptAnalysis {
  std::filesystem::path model_dir;       // the model it was run through (LmModel::dir)
  std::string prompt;
  bool bos = false;
  int step = -1;                         // checkpoint step; -1: the final weights
  std::vector<int64_t> tokens;
  std::vector<std::string> token_text;   // readable, one per token
  std::vector<float> patterns;           // [n_layers, n_heads, T, T]
  int n_layers = 0, n_heads = 0;
  library::PromptRoles roles;
  std::string error;                     // why the prompt could not be run, in words
  double compute_ms = 0;                 // tokenise + forward + verification
  int T() const { return int(tokens.size()); }
  const float* Head(int layer, int head) const {
    return patterns.data() + (size_t(layer) * n_heads + head) * size_t(T()) * T();
  }
};

// `weights` is model.lm for the final weights or a checkpoint's model; the
// categories are always the final model's (which heads hold which role).
// `tokens` are `prompt` encoded with `bos` (the caller keys requests by them).
// Problems come back in words in ->error, never as exceptions.
std::shared_ptr<PromptAnalysis> AnalyzePrompt(const LmModel& model, const LanguageModel& weights,
                                              const std::string& prompt, std::vector<int64_t> tokens, bool bos,
                                              int step = -1);
// The same, encoding `prompt` first.
std::shared_ptr<PromptAnalysis> AnalyzePrompt(const LmModel& model, const LanguageModel& weights,
                                              const std::string& prompt, bool bos, int step = -1);

// The weights of training checkpoint `step` of `model` (a folder under
// model.checkpoints); std::invalid_argument when it has no such step.
std::shared_ptr<const LanguageModel> OpenCheckpoint(const LmModel& model, int step);

}  // namespace hs::lm
