// The run descriptor: everything needed to view or analyse a run, read once
// from config.json and runs/<family>/family.json and shared immutably
// (shared_ptr<const RunInfo>). Torch-free, and independent of the trainer:
// viewing a run never needs its TrainConfig.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "model/transformer_config.h"

namespace hs::families {

struct RunInfo {
  std::filesystem::path dir;           // runs/<family>/<variant>
  std::string family;                  // "modadd_1l"
  std::string variant;                 // "p113_seed999"
  std::string title;                   // the family's readable title
  model::TransformerConfig model;      // n_layers, n_heads, n_ctx, d_mlp, ...
  int p = 0;                           // modulus: inputs a, b in [0, p)
  int total_epochs = 0;                // the epoch training ends at (config.json "epochs")
  // Per input position, what it holds (family.json "positions"): "a" and "b"
  // are the operands, "=" is the separator token p. size() == model.n_ctx.
  std::vector<std::string> positions;
  int a_pos = -1, b_pos = -1;          // where the operands sit
  std::vector<std::string> analyzers;  // written to disk by `analyze` (family.json "analyzers")
  std::vector<std::string> on_demand;  // computed when viewed, not stored by default ("on_demand")
  nlohmann::json analyzer_params = nlohmann::json::object();  // analyzer -> {param: value}
  nlohmann::json config;               // config.json as read (shown to the user, not interpreted)

  int n_freq() const { return (p - 1) / 2; }
  // Heads of every layer, layer-major: unit index l * n_heads + h.
  int n_head_units() const { return model.n_layers * model.n_heads; }
  // "Head 2" for a 1-layer model, "L1 H2" otherwise.
  std::string HeadLabel(int unit) const;
  // "= attending to a", "b attending to b (itself)".
  std::string PairLabel(int query_pos, int key_pos) const;
  std::string PositionName(int pos) const;
  bool ValidPair(int query_pos, int key_pos) const {
    return query_pos >= 0 && query_pos < model.n_ctx && key_pos >= 0 && key_pos <= query_pos;
  }
  // The pair the grokking story is about: the last position attending to a.
  std::pair<int, int> DefaultPair() const { return {model.n_ctx - 1, a_pos}; }
  nlohmann::json AnalyzerParams(const std::string& analyzer) const;
};
using RunInfoPtr = std::shared_ptr<const RunInfo>;

// Reads run_dir/config.json and the family definition (runs/<family>/family.json,
// written from the built-in definition when absent). Throws io::IoError naming
// the file and what is wrong (missing, not JSON, a field missing or out of
// range, positions that do not match the model's n_ctx).
RunInfoPtr LoadRunInfo(const std::filesystem::path& run_dir);

// The built-in family definitions (assets/families/*.json, compiled in).
const std::map<std::string, std::string>& BuiltinFamilies();

}  // namespace hs::families
