// The analyzer protocol. An analyzer declares its name and the activations it
// reads, turns one checkpoint's ActivationCache into named arrays, and may
// reduce all epochs' arrays to a summary. Analyzers share one forward pass
// per checkpoint (the pipeline runs it once and hands every analyzer the
// same context).
#pragma once

#include <torch/types.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/npz.h"
#include "model/activation_cache.h"
#include "model/transformer_config.h"

namespace hs::analyzers {

struct AnalysisContext {
  const model::ActivationCache& cache;  // forward over all p*p inputs, index a*p + b
  const model::TransformerConfig& cfg;
  int p = 0;
  int epoch = 0;
  torch::Tensor fourier_basis;  // [p, p]
};

class Analyzer {
 public:
  virtual ~Analyzer() = default;
  virtual std::string name() const = 0;
  virtual std::vector<std::string> required_activations() const = 0;  // TL hook names
  // Per-epoch artifact: name -> array (float32 unless stated).
  virtual io::NpzArchive Analyze(const AnalysisContext& ctx) const = 0;
  // The artifact's keys and shapes for this model (used to validate files).
  virtual std::map<std::string, std::vector<int64_t>> ArtifactShapes(const model::TransformerConfig& cfg, int p) const = 0;
  // Optional cross-epoch summary.
  virtual std::vector<std::string> summary_keys() const { return {}; }
  virtual io::NpzArchive ComputeSummary(const std::vector<int>& epochs,
                                        const std::vector<io::NpzArchive>& per_epoch) const {
    (void)epochs, (void)per_epoch;
    return {};
  }
  // Whether ComputeSummary needs every epoch's artifact read back.
  bool has_summary() const { return !summary_keys().empty(); }
};

// The registry. `params` may set analyzer options (attention_freq:
// {"query_pos": 2, "key_pos": 0}). Throws std::invalid_argument on an
// unknown name, listing the known ones.
std::unique_ptr<Analyzer> MakeAnalyzer(const std::string& name, const nlohmann::json& params = {});
std::vector<std::string> AnalyzerNames();

}  // namespace hs::analyzers
