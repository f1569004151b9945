// Across seeds: runs of one recipe that differ only in the model seed (a
// seed group), their findings side by side as mean, spread and every seed,
// against the published values, and their progress curves on common
// epochs. Read from each run's summary.json and progress-measures summary
// (written by `analyze`); torch-free.
//
// A seed group is a set of runs whose config.json agree on every key but
// "model_seed" and "variant" (so p, data seed, train fraction, weight
// decay, learning rate, epochs, the model's shape and the checkpoint
// schedule all match). A finding is "consistent" across the group when
// every seed has it and its standard deviation is at most 10% of the mean
// (epochs), its range at most 0.05 (fractions), zero (counts) or one decade (losses);
// otherwise "seed-dependent". The published values (Nanda et al. 2023) are
// given only for their recipe (p = 113, 30% of the pairs, weight decay 1).
//
//   auto groups = analyzers::FindSeedGroups(all_runs);     // groups of >= 2 runs
//   json s = analyzers::SeedSummary(groups[0].runs);       // "stats", "key_frequencies", "heads", "curves"
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hs::analyzers {

struct SeedGroup {
  std::vector<std::filesystem::path> runs;  // ordered by seed
  std::vector<int> seeds;
  nlohmann::json recipe;                    // the shared config (config.json without seed and variant)
  std::string label;                        // "p113, wd 1, frac 0.3, 25000 epochs"
};

// The seed groups among `runs` (folders whose config.json cannot be read
// are skipped), each with >= 2 runs, largest first.
std::vector<SeedGroup> FindSeedGroups(const std::vector<std::filesystem::path>& runs);
// The group `run` belongs to among `runs` (empty runs: none).
SeedGroup SeedGroupOf(const std::filesystem::path& run, const std::vector<std::filesystem::path>& runs);
// "" when the runs form one seed group, else what differs ("weight_decay: 1 in
// A, 0 in B"); reads each config.json (throws io::IoError naming a bad one).
std::string SeedGroupMismatch(const std::vector<std::filesystem::path>& runs);

// Everything the Seeds panel and `report --seeds` show, from each run's
// summary.json (ReadFindings; throws io::IoError naming a missing one) and
// its progress-measures summary (curves left out for a run without one):
//   "runs": [dir], "seeds": [int], "recipe": {...},
//   "stats": [{"key", "label", "unit" ("epoch" | "fraction" | "count" | "loss"),
//              "values": [per seed, null when the seed lacks it], "n", "mean",
//              "sd", "min", "max", "paper" (number or null), "paper_note",
//              "verdict" ("consistent" | "seed-dependent" | "not reached by every seed")}],
//   "key_frequencies": {"per_seed": [[k...]], "counts": {"k": n}, "paper": [...],
//                       "shared": [k in every seed]},
//   "heads": [{"seed", "onsets": [epoch|null], "locked": [k|null], "final_frac": [x]}],
//   "curves": {"epochs": [...], "<name>": [[per seed]] for train_loss, test_loss,
//              restricted_loss, excluded_loss, gini_W_L}, "curve_runs": [index into runs]
nlohmann::json SeedSummary(const std::vector<std::filesystem::path>& runs);

// The stats as rows of text: label, verdict, paper, mean +- sd, min - max,
// every seed (the panel's table, the report's and the README's); the last
// row is the key-frequency sets.
std::vector<std::vector<std::string>> SeedRows(const nlohmann::json& summary);
std::vector<std::string> SeedColumns(const nlohmann::json& summary);

}  // namespace hs::analyzers
