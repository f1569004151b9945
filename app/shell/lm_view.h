// What the language-model workspace shows its panels each frame (read-only):
// the model, its head categories, the analysis of the current prompt, the
// selected head, category and training step; the heads turned off, the
// per-token losses and the causal checks of the prompt.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "library/plasticity.h"
#include "lm/prompt_analysis.h"
#include "lm/role_checks.h"
#include "requests.h"

namespace hs::app {

struct LmView {
  std::filesystem::path model_dir;
  std::shared_ptr<const lm::LmModel> model;  // null while loading (or on error)
  std::string loading;                       // what is being loaded ("" when idle)
  float loading_fraction = -1;               // progress in [0, 1]; < 0: unknown
  std::string error;                         // the model could not be loaded (names the file)
  std::vector<std::string> warnings;         // derived files that could not be saved (each names its file)
  std::shared_ptr<const lm::PromptAnalysis> analysis;  // latest finished (may be for an older prompt)
  bool analysis_current = false;             // the analysis is of the prompt and step shown now
  std::string prompt_status;                 // what the running prompt job is doing ("running layer 3 of 24")
  float prompt_fraction = -1;
  // The selected head's pattern when the analysis did not keep it (selected
  // after it ran): computed from the prompt's cached queries and keys.
  std::shared_ptr<const std::vector<float>> other_head;
  int other_layer = -1, other_head_index = -1;
  std::shared_ptr<const lm::PromptAnalysis> other_for;  // the analysis it belongs to
  // The selected head's [T, T] pattern on `analysis`, or nullptr while it is computed.
  const float* SelectedPattern() const {
    if (!analysis) return nullptr;
    if (const float* p = analysis->Head(layer, head)) return p;
    if (other_head && other_for == analysis && other_layer == layer && other_head_index == head &&
        other_head->size() == size_t(analysis->T()) * analysis->T())
      return other_head->data();
    return nullptr;
  }
  int layer = -1, head = -1;                 // the selected head
  // Attention views draw each row without the first key, renormalised over
  // the others (library::WithoutFirstKey): what a sink head does besides.
  bool without_sink = false;
  std::string category;                      // the selected category (role grid)
  int step = -1;                             // the selected checkpoint step (-1: final weights)
  // Attention plasticity of every head (MODEL_DIR/plasticity/*.csv, or computed here).
  std::shared_ptr<const std::vector<library::plasticity::HeadResult>> plasticity;
  std::string plasticity_status;             // what the plasticity job is doing ("" when idle)
  float plasticity_fraction = -1;
  std::string plasticity_error;              // why the CSVs could not be read or computed (names the file)
  std::string plasticity_warning;            // the computed CSVs could not be saved (names the folder)

  // --- does a head matter? ---
  // Heads turned off (a head's context menu), one mode for all, applied to
  // every view: `analysis` is of the model without them.
  std::vector<std::pair<int, int>> off_heads;
  lm::AblationMode off_mode = lm::AblationMode::kZero;
  bool IsOff(int l, int h) const {
    for (const auto& o : off_heads)
      if (o.first == l && o.second == h) return true;
    return false;
  }
  std::string off_error;                     // why the heads cannot be turned off (not in the model, no means)
  // Each head's mean output (mean ablation and the checks): once per model.
  std::shared_ptr<const lm::ActivationMeans> means;
  std::string means_status, means_error;
  float means_fraction = -1;
  LmPromptKey analysis_key;                  // the key `analysis` was computed for
  // With heads turned off: the selected head's pattern with every head on
  // (the attention panel shows both), for `clean_head_for`.
  std::shared_ptr<const LmHeadPattern> clean_head;
  std::shared_ptr<const lm::PromptAnalysis> clean_head_for;
  // The prompt's per-token losses, clean and with the heads turned off.
  std::shared_ptr<const LmLosses> losses;
  bool losses_current = false;               // of the prompt and heads shown now
  std::string losses_status, losses_error;
  // The causal checks of the prompt (final weights, every head on):
  // attribution patching of every head and exact ablations.
  std::shared_ptr<const lm::CausalChecks> checks;
  bool checks_current = false;               // of the prompt shown now
  std::string checks_status, checks_error;
  float checks_fraction = -1;
  std::string checks_unavailable;            // why none are asked for ("final weights only", ...)
  // `analysis`'s roles with the checks applied (the badges' third state);
  // null while the checks run, or when heads are turned off.
  std::shared_ptr<const library::PromptRoles> checked_roles;
  std::shared_ptr<const lm::PromptAnalysis> checked_for;  // the analysis they belong to
  const library::PromptRoles* Roles() const {
    if (checked_roles && checked_for == analysis) return checked_roles.get();
    return analysis ? &analysis->roles : nullptr;
  }
};

}  // namespace hs::app
