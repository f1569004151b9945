// What the language-model workspace shows its panels each frame (read-only):
// the model, its head categories, the analysis of the current prompt, the
// selected head, category and training step.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "library/plasticity.h"
#include "lm/prompt_analysis.h"

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
  std::string category;                      // the selected category (role grid)
  int step = -1;                             // the selected checkpoint step (-1: final weights)
  // Attention plasticity of every head (MODEL_DIR/plasticity/*.csv, or computed here).
  std::shared_ptr<const std::vector<library::plasticity::HeadResult>> plasticity;
  std::string plasticity_status;             // what the plasticity job is doing ("" when idle)
  float plasticity_fraction = -1;
  std::string plasticity_error;              // why the CSVs could not be read or computed (names the file)
  std::string plasticity_warning;            // the computed CSVs could not be saved (names the folder)
};

}  // namespace hs::app
