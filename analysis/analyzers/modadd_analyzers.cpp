// [SECTION] The grokking family's analyzers: attention_patterns,
// attention_freq, neuron_activations, neuron_freq_norm, coarseness; and the
// registry. Heads, positions and p come from the model, never constants.
#include <torch/torch.h>

#include <algorithm>

#include "analyzers/analyzer.h"
#include "library/attention.h"
#include "library/coarseness.h"
#include "library/fourier.h"
#include "model/tensor_io.h"

namespace hs::analyzers {
namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

io::Array F32(const torch::Tensor& t) { return model::ToArray(t.to(torch::kFloat32).contiguous()); }
torch::Tensor T(const io::Array& a) { return model::FromArray(a); }

// Stacks one key of every epoch's artifact: -> [n_epochs, ...]
torch::Tensor Stack(const std::vector<io::NpzArchive>& per_epoch, const std::string& key) {
  std::vector<torch::Tensor> ts;
  for (const auto& a : per_epoch) ts.push_back(T(a.at(key)));
  return torch::stack(ts);
}

io::Array Epochs(const std::vector<int>& epochs) {
  return io::Array::I64({int64_t(epochs.size())}, std::vector<int64_t>(epochs.begin(), epochs.end()));
}

// The MLP post-activations at the last position as (a, b) grids.
// -> [d_mlp, p, p]
torch::Tensor NeuronGrids(const AnalysisContext& ctx) {
  const torch::Tensor post = ctx.cache("post", 0);  // [p*p, pos, d_mlp]
  return post.select(1, post.size(1) - 1).t().reshape({-1, ctx.p, ctx.p}).contiguous();
}

// [SECTION] attention_patterns
class AttentionPatternsAnalyzer : public Analyzer {
 public:
  std::string name() const override { return "attention_patterns"; }
  std::vector<std::string> required_activations() const override { return {"blocks.0.attn.hook_pattern"}; }
  io::NpzArchive Analyze(const AnalysisContext& ctx) const override {
    const torch::Tensor pat = library::ExtractAttentionPatterns(ctx.cache, 0);  // [p*p, head, q, k]
    // -> [head, query_pos, key_pos, p, p], grids indexed (a, b)
    torch::Tensor grids = pat.permute({1, 2, 3, 0}).reshape({pat.size(1), pat.size(2), pat.size(3), ctx.p, ctx.p});
    return {{"patterns", F32(grids)}};
  }
  Shapes ArtifactShapes(const model::TransformerConfig& c, int p) const override {
    return {{"patterns", {c.n_heads, c.n_ctx, c.n_ctx, p, p}}};
  }
};

// [SECTION] attention_freq
class AttentionFreqAnalyzer : public Analyzer {
 public:
  AttentionFreqAnalyzer(int query_pos, int key_pos) : m_q(query_pos), m_k(key_pos) {}
  std::string name() const override { return "attention_freq"; }
  std::vector<std::string> required_activations() const override { return {"blocks.0.attn.hook_pattern"}; }
  io::NpzArchive Analyze(const AnalysisContext& ctx) const override {
    const int n_pos = ctx.cfg.n_ctx;
    const int q = m_q < 0 ? m_q + n_pos : m_q, k = m_k < 0 ? m_k + n_pos : m_k;
    torch::Tensor grids = library::PositionPairGrids(library::ExtractAttentionPatterns(ctx.cache, 0), q, k, ctx.p);
    return {{"freq_matrix", F32(library::FrequencyVarianceFractions(grids, ctx.fourier_basis))},  // [n_freq, head]
            {"position_pair", io::Array::I64({2}, {q, k})}};
  }
  Shapes ArtifactShapes(const model::TransformerConfig& c, int p) const override {
    return {{"freq_matrix", {library::NumFrequencies(p), c.n_heads}}, {"position_pair", {2}}};
  }
  std::vector<std::string> summary_keys() const override {
    return {"dominant_freq_per_head", "max_frac_per_head", "mean_specialization", "epochs"};
  }
  io::NpzArchive ComputeSummary(const std::vector<int>& epochs, const std::vector<io::NpzArchive>& per_epoch) const override {
    torch::Tensor fm = Stack(per_epoch, "freq_matrix");  // [n_epochs, n_freq, head]
    auto [max_frac, argmax] = fm.max(1);                 // [n_epochs, head]
    return {{"dominant_freq_per_head", model::ToArray((argmax + 1).contiguous())},  // k, 1-based; int64
            {"max_frac_per_head", F32(max_frac)},
            {"mean_specialization", F32(max_frac.mean(1))},
            {"epochs", Epochs(epochs)}};
  }

 private:
  int m_q, m_k;  // default '=' -> a: (-1, 0)
};

// [SECTION] neuron_activations
class NeuronActivationsAnalyzer : public Analyzer {
 public:
  std::string name() const override { return "neuron_activations"; }
  std::vector<std::string> required_activations() const override { return {"blocks.0.mlp.hook_post"}; }
  io::NpzArchive Analyze(const AnalysisContext& ctx) const override {
    return {{"activations", F32(NeuronGrids(ctx))}};  // [d_mlp, p, p]
  }
  Shapes ArtifactShapes(const model::TransformerConfig& c, int p) const override {
    return {{"activations", {c.d_mlp, p, p}}};
  }
};

// [SECTION] neuron_freq_norm
class NeuronFreqNormAnalyzer : public Analyzer {
 public:
  static constexpr double kExplainedThreshold = 0.85;
  // A frequency is "key" when at least this fraction of neurons are
  // explained (> 0.85) by it.
  static constexpr double kKeyFreqMinNeuronFrac = 0.01;

  std::string name() const override { return "neuron_freq_norm"; }
  std::vector<std::string> required_activations() const override { return {"blocks.0.mlp.hook_post"}; }
  io::NpzArchive Analyze(const AnalysisContext& ctx) const override {
    return {{"freq_matrix", F32(library::FrequencyVarianceFractions(NeuronGrids(ctx), ctx.fourier_basis))}};  // [n_freq, d_mlp]
  }
  Shapes ArtifactShapes(const model::TransformerConfig& c, int p) const override {
    return {{"freq_matrix", {library::NumFrequencies(p), c.d_mlp}}};
  }
  std::vector<std::string> summary_keys() const override {
    return {"frac_explained", "neurons_per_freq", "key_freq_mask", "epochs"};
  }
  io::NpzArchive ComputeSummary(const std::vector<int>& epochs, const std::vector<io::NpzArchive>& per_epoch) const override {
    torch::Tensor fm = Stack(per_epoch, "freq_matrix");  // [n_epochs, n_freq, d_mlp]
    auto [max_frac, argmax] = fm.max(1);                 // [n_epochs, d_mlp]
    const int64_t n_freq = fm.size(1), d_mlp = fm.size(2);
    torch::Tensor explained = max_frac > kExplainedThreshold;  // [n_epochs, d_mlp]
    torch::Tensor counts = torch::zeros({fm.size(0), n_freq}, torch::kFloat32);
    counts.scatter_add_(1, argmax, explained.to(torch::kFloat32));  // [n_epochs, n_freq]
    return {{"frac_explained", F32(explained.to(torch::kFloat32).mean(1))},  // [n_epochs]
            {"neurons_per_freq", F32(counts)},                               // [n_epochs, n_freq]
            {"key_freq_mask", F32(counts >= kKeyFreqMinNeuronFrac * d_mlp)}, // [n_epochs, n_freq] 0/1
            {"epochs", Epochs(epochs)}};
  }
};

// [SECTION] coarseness
class CoarsenessAnalyzer : public Analyzer {
 public:
  std::string name() const override { return "coarseness"; }
  std::vector<std::string> required_activations() const override {
    return {"blocks.0.attn.hook_pattern", "blocks.0.mlp.hook_post"};
  }
  io::NpzArchive Analyze(const AnalysisContext& ctx) const override {
    const int last = ctx.cfg.n_ctx - 1;
    torch::Tensor heads = library::CoarsenessMetrics(
        library::PositionPairGrids(library::ExtractAttentionPatterns(ctx.cache, 0), last, 0, ctx.p));  // [head, 3]
    torch::Tensor neurons = library::CoarsenessMetrics(NeuronGrids(ctx));                             // [d_mlp, 3]
    io::NpzArchive out;
    const char* kNames[] = {"fft_low_freq", "variance_preserved", "gradient"};
    for (int i = 0; i < 3; ++i) {
      out[std::string("head_") + kNames[i]] = F32(heads.select(1, i));
      out[std::string("neuron_") + kNames[i]] = F32(neurons.select(1, i));
    }
    return out;
  }
  Shapes ArtifactShapes(const model::TransformerConfig& c, int) const override {
    Shapes s;
    for (const char* n : {"fft_low_freq", "variance_preserved", "gradient"}) {
      s[std::string("head_") + n] = {c.n_heads};
      s[std::string("neuron_") + n] = {c.d_mlp};
    }
    return s;
  }
  std::vector<std::string> summary_keys() const override {
    std::vector<std::string> k = {"epochs"};
    for (const char* n : {"fft_low_freq", "variance_preserved", "gradient"}) {
      k.push_back(std::string("head_") + n);             // [n_epochs, head]
      k.push_back(std::string("mean_head_") + n);        // [n_epochs]
      k.push_back(std::string("mean_neuron_") + n);      // [n_epochs]
    }
    return k;
  }
  io::NpzArchive ComputeSummary(const std::vector<int>& epochs, const std::vector<io::NpzArchive>& per_epoch) const override {
    io::NpzArchive out = {{"epochs", Epochs(epochs)}};
    for (const char* n : {"fft_low_freq", "variance_preserved", "gradient"}) {
      torch::Tensor h = Stack(per_epoch, std::string("head_") + n);
      out[std::string("head_") + n] = F32(h);
      out[std::string("mean_head_") + n] = F32(h.mean(1));
      out[std::string("mean_neuron_") + n] = F32(Stack(per_epoch, std::string("neuron_") + n).mean(1));
    }
    return out;
  }
};

}  // namespace

std::vector<std::string> AnalyzerNames() {
  return {"attention_patterns", "attention_freq", "neuron_activations", "neuron_freq_norm", "coarseness"};
}

std::unique_ptr<Analyzer> MakeAnalyzer(const std::string& name, const nlohmann::json& params) {
  if (name == "attention_patterns") return std::make_unique<AttentionPatternsAnalyzer>();
  if (name == "attention_freq")
    return std::make_unique<AttentionFreqAnalyzer>(params.value("query_pos", -1), params.value("key_pos", 0));
  if (name == "neuron_activations") return std::make_unique<NeuronActivationsAnalyzer>();
  if (name == "neuron_freq_norm") return std::make_unique<NeuronFreqNormAnalyzer>();
  if (name == "coarseness") return std::make_unique<CoarsenessAnalyzer>();
  std::string known;
  for (const auto& n : AnalyzerNames()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown analyzer '" + name + "' (known: " + known + ")");
}

}  // namespace hs::analyzers
