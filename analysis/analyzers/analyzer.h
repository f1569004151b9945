// The analyzer protocol. An analyzer declares its name and the activations it
// reads, turns one checkpoint's ActivationCache into named arrays, and may
// reduce all epochs' arrays to a summary. Analyzers share one forward pass
// per checkpoint (the pipeline runs it once and hands every analyzer the
// same context). Nothing here knows the trainer: the run is a RunInfo.
#pragma once

#include <torch/types.h>

#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "families/run_info.h"
#include "io/npz.h"
#include "model/activation_cache.h"

namespace hs::analyzers {

struct AnalysisContext {
  const model::ActivationCache& cache;  // forward over all p*p inputs (families::ModAddInputs), row a*p + b
  const families::RunInfo& run;
  int epoch = 0;
  torch::Tensor fourier_basis;  // [p, p]
};

using Shapes = std::map<std::string, std::vector<int64_t>>;

// Analyzers read MLP activations at the last position only. A fast forward
// may store just that position under LastPositionName(hook) ([batch, d_mlp])
// instead of the TL hook ([batch, pos, d_mlp]); either satisfies a need for
// the hook.
inline std::string LastPositionName(const std::string& hook) { return hook + ":last_pos"; }
inline bool CacheHas(const model::ActivationCache& cache, const std::string& hook) {
  return cache.Contains(hook) || cache.Contains(LastPositionName(hook));
}

// What a summary array may hold, beyond its shape.
struct ValueRule {
  io::DType dtype = io::DType::F32;
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
};

// Head axes: every layer's heads, layer-major (unit l * n_heads + h).
// Neuron axes: every layer's MLP at the last position, layer-major (l * d_mlp + i).
class Analyzer {
 public:
  virtual ~Analyzer() = default;
  virtual std::string name() const = 0;
  // TL hook names for this run (every layer's).
  virtual std::vector<std::string> required_activations(const families::RunInfo& run) const = 0;
  // Per-epoch artifact: name -> array (float32 unless ArtifactDType says otherwise).
  virtual io::NpzArchive Analyze(const AnalysisContext& ctx) const = 0;
  // The artifact's keys and shapes for this run (used to validate files).
  virtual Shapes ArtifactShapes(const families::RunInfo& run) const = 0;
  virtual io::DType ArtifactDType(const std::string& key) const { (void)key; return io::DType::F32; }
  // Optional cross-epoch summary: its keys and shapes for n_epochs epochs
  // (always including "epochs" [n_epochs] int64), and each key's value rule.
  virtual Shapes SummaryShapes(const families::RunInfo& run, int64_t n_epochs) const {
    (void)run, (void)n_epochs;
    return {};
  }
  virtual ValueRule SummaryRule(const std::string& key, const families::RunInfo& run) const {
    (void)key, (void)run;
    return {};
  }
  virtual io::NpzArchive ComputeSummary(const families::RunInfo& run, const std::vector<int>& epochs,
                                        const std::vector<io::NpzArchive>& per_epoch) const {
    (void)run, (void)epochs, (void)per_epoch;
    return {};
  }
  virtual bool has_summary() const { return false; }
  // Run-level: no per-epoch artifact; the summary is computed from the
  // checkpoints after the per-checkpoint analyzers (progress_measures.h).
  virtual bool run_level() const { return false; }
  // Whether the artifact needs only attention patterns (no MLP).
  bool attention_only(const families::RunInfo& run) const;
};

// The registry. `params` may set analyzer options (attention_freq:
// {"query_pos": -1, "key_pos": 0}). Throws std::invalid_argument on an
// unknown name, listing the known ones.
std::unique_ptr<Analyzer> MakeAnalyzer(const std::string& name, const nlohmann::json& params = {});
// The per-checkpoint analyzers; RunLevelAnalyzerNames() the run-level ones.
std::vector<std::string> AnalyzerNames();
std::vector<std::string> RunLevelAnalyzerNames();

}  // namespace hs::analyzers
