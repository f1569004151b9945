// The attention-plasticity method's three CSVs (head_metrics.csv,
// head_bucket_plasticity.csv, head_component_weights.csv): written
// atomically, validated where they are read.
#pragma once

#include <filesystem>
#include <vector>

#include "library/plasticity.h"
#include "lm/qk_capture.h"

namespace hs::lm {

// The three CSVs in `dir` (cfg's file names), atomically; rows by layer,
// then query head; NaN as an empty field.
void WritePlasticityCsvs(const std::filesystem::path& dir, const library::plasticity::Config& cfg,
                         const std::vector<library::plasticity::HeadResult>& results);
// Reads them back (the default file names), validated: io::IoError naming
// the file and the line for a wrong header, a missing or non-numeric field,
// or a bucket/component row of a head the metrics file lacks.
std::vector<library::plasticity::HeadResult> ReadPlasticityCsvs(const std::filesystem::path& dir);

// The CSVs of `run` in `dir` plus plasticity_config.json (the settings, the
// model folder, the corpus, how many tokens and examples were captured).
void WritePlasticityRun(const std::filesystem::path& dir, const library::plasticity::Config& cfg,
                        const PlasticityRun& run, const std::filesystem::path& model_dir, const std::string& corpus);

}  // namespace hs::lm
