// head_categories.json: one model's head categories in the seed's schema,
// written atomically and validated where it is read.
#pragma once

#include <filesystem>
#include <nlohmann/json_fwd.hpp>

#include "library/head_roles.h"

namespace hs::lm {

// The seed's schema: {model_name: {model_name, num_layers, num_heads,
// analysis_date, weights_hash, method, categories: {key: {display_name,
// description, icon, threshold, requires_repetition, top_heads}},
// all_scores: {key: [[...]]}}}.
nlohmann::json HeadCategoriesJson(const library::HeadCategories& c);
void WriteHeadCategories(const std::filesystem::path& path, const library::HeadCategories& c);  // atomic
// Reads and validates one model's entry; io::IoError naming the file and the
// problem (malformed JSON, missing keys, a head outside the model, scores
// that are not finite, a shape other than [n_layers][n_heads]).
// `n_layers`/`n_heads` > 0 also require those counts.
library::HeadCategories ReadHeadCategories(const std::filesystem::path& path, int n_layers = 0, int n_heads = 0);

}  // namespace hs::lm
