// Between interventions.cpp and the other lm/ sources (not for callers):
// an Intervention as MappedModel hooks.
#pragma once

#include <vector>

#include "lm/interventions.h"
#include "model/mapped_model.h"

namespace hs::lm::detail {

// Sets spec->hook_z and spec->hook_post so that a run of a T-token prompt
// applies `iv` (running the resample source first, up to the last layer the
// intervention touches). Checks `iv` first (CheckIntervention).
void SetInterventionHooks(const LanguageModel& lm, const Intervention& iv, size_t T,
                          model::MappedModel::RunSpec* spec);

// -log p(tokens[row0 + i + 1] | ...) for the logits rows [rows, V] of
// positions row0.., as float64; rows past the last token are skipped.
std::vector<double> LossesFromLogits(const torch::Tensor& logits, const std::vector<int64_t>& tokens,
                                     int64_t row0 = 0);

}  // namespace hs::lm::detail
