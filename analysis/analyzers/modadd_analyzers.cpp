// [SECTION] The grokking family's analyzers: attention_patterns,
// attention_freq, neuron_activations, neuron_freq_norm, coarseness; and the
// registry. Layers, heads, positions and p come from the RunInfo, never
// constants: head axes hold every layer's heads layer-major (l * n_heads + h),
// neuron axes every layer's MLP at the last position (l * d_mlp + i).
#include <torch/torch.h>

#include <algorithm>

#include "analyzers/analyzer.h"
#include "analyzers/progress_analyzer.h"
#include "library/attention.h"
#include "library/coarseness.h"
#include "library/fourier.h"
#include "library/frequency_stats.h"
#include "model/tensor_io.h"

namespace hs::analyzers {

bool Analyzer::attention_only(const families::RunInfo& run) const {
  const auto needs = required_activations(run);
  return !needs.empty() && std::all_of(needs.begin(), needs.end(), [](const std::string& n) {
    return n.find("attn.hook_pattern") != std::string::npos;
  });
}

namespace {

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

std::vector<std::string> PatternHooks(const families::RunInfo& run) {
  std::vector<std::string> out;
  for (int l = 0; l < run.model.n_layers; ++l) out.push_back(model::ActName("pattern", l));
  return out;
}
std::vector<std::string> PostHooks(const families::RunInfo& run) {
  std::vector<std::string> out;
  for (int l = 0; l < run.model.n_layers; ++l) out.push_back(model::ActName("post", l));
  return out;
}

// Every layer's patterns, heads layer-major. -> [p*p, unit, query_pos, key_pos]
torch::Tensor AllPatterns(const AnalysisContext& ctx) {
  std::vector<torch::Tensor> ls;
  for (int l = 0; l < ctx.run.model.n_layers; ++l) ls.push_back(library::ExtractAttentionPatterns(ctx.cache, l));
  return ls.size() == 1 ? ls[0] : torch::cat(ls, 1);
}

// Every layer's MLP post-activations at the last position as (a, b) grids.
// -> [n_layers * d_mlp, p, p]
torch::Tensor NeuronGrids(const AnalysisContext& ctx) {
  std::vector<torch::Tensor> ls;
  for (int l = 0; l < ctx.run.model.n_layers; ++l) {
    const std::string hook = model::ActName("post", l);
    if (ctx.cache.Contains(hook)) {
      const torch::Tensor post = ctx.cache[hook];           // [p*p, pos, d_mlp]
      ls.push_back(post.select(1, post.size(1) - 1).t());  // [d_mlp, p*p]
    } else {
      ls.push_back(ctx.cache[LastPositionName(hook)].t());  // [p*p, d_mlp] -> [d_mlp, p*p]
    }
  }
  return (ls.size() == 1 ? ls[0] : torch::cat(ls, 0)).reshape({-1, ctx.run.p, ctx.run.p}).contiguous();
}

int64_t Neurons(const families::RunInfo& run) { return int64_t(run.model.n_layers) * run.model.d_mlp; }

// Resolves a (possibly negative) position against n_ctx.
int Resolve(int pos, int n_ctx) { return pos < 0 ? pos + n_ctx : pos; }

// [SECTION] attention_patterns
class AttentionPatternsAnalyzer : public Analyzer {
 public:
  std::string name() const override { return "attention_patterns"; }
  std::vector<std::string> required_activations(const families::RunInfo& run) const override { return PatternHooks(run); }
  io::NpzArchive Analyze(const AnalysisContext& ctx) const override {
    const torch::Tensor pat = AllPatterns(ctx);  // [p*p, unit, q, k]
    const int64_t p = ctx.run.p;
    // -> [unit, query_pos, key_pos, p, p], grids indexed (a, b)
    torch::Tensor grids = pat.permute({1, 2, 3, 0}).reshape({pat.size(1), pat.size(2), pat.size(3), p, p});
    return {{"patterns", F32(grids)}};
  }
  Shapes ArtifactShapes(const families::RunInfo& run) const override {
    return {{"patterns", {run.n_head_units(), run.model.n_ctx, run.model.n_ctx, run.p, run.p}}};
  }
};

// [SECTION] attention_freq
class AttentionFreqAnalyzer : public Analyzer {
 public:
  // key_pos < -n_ctx: the run's a position.
  AttentionFreqAnalyzer(int query_pos, int key_pos) : m_q(query_pos), m_k(key_pos) {}
  std::string name() const override { return "attention_freq"; }
  std::vector<std::string> required_activations(const families::RunInfo& run) const override { return PatternHooks(run); }
  std::pair<int, int> Pair(const families::RunInfo& run) const {
    const int n = run.model.n_ctx;
    const int q = Resolve(m_q, n);
    const int k = m_k == kKeyIsA ? run.a_pos : Resolve(m_k, n);
    if (!run.ValidPair(q, k))
      throw io::IoError((run.dir.parent_path() / "family.json").string() + ": attention_freq pair (query_pos " +
                        std::to_string(m_q) + ", key_pos " + std::to_string(m_k) + ") is not a causal pair of the " +
                        std::to_string(n) + " positions; fix \"analyzer_params\"");
    return {q, k};
  }
  io::NpzArchive Analyze(const AnalysisContext& ctx) const override {
    const auto [q, k] = Pair(ctx.run);
    torch::Tensor grids = library::PositionPairGrids(AllPatterns(ctx), q, k, ctx.run.p);  // [unit, p, p]
    return {{"freq_matrix", F32(library::FrequencyVarianceFractions(grids, ctx.fourier_basis))},  // [n_freq, unit]
            {"position_pair", io::Array::I64({2}, {q, k})}};
  }
  Shapes ArtifactShapes(const families::RunInfo& run) const override {
    return {{"freq_matrix", {run.n_freq(), run.n_head_units()}}, {"position_pair", {2}}};
  }
  io::DType ArtifactDType(const std::string& key) const override {
    return key == "position_pair" ? io::DType::I64 : io::DType::F32;
  }
  bool has_summary() const override { return true; }
  Shapes SummaryShapes(const families::RunInfo& run, int64_t n) const override {
    const int64_t U = run.n_head_units();
    return {{"dominant_freq_per_head", {n, U}}, {"max_frac_per_head", {n, U}}, {"mean_specialization", {n}}, {"epochs", {n}}};
  }
  ValueRule SummaryRule(const std::string& key, const families::RunInfo& run) const override {
    if (key == "dominant_freq_per_head") return {io::DType::I64, 1, double(run.n_freq())};
    if (key == "epochs") return {io::DType::I64, 0};
    return {io::DType::F32, 0, 1};
  }
  io::NpzArchive ComputeSummary(const families::RunInfo& run, const std::vector<int>& epochs,
                                const std::vector<io::NpzArchive>& per_epoch) const override {
    const int64_t n = int64_t(epochs.size()), U = run.n_head_units(), F = run.n_freq();
    std::vector<int64_t> dom(size_t(n * U));
    std::vector<float> frac(size_t(n * U)), mean(size_t(n), 0.0f);
    for (int64_t e = 0; e < n; ++e) {
      const io::Array& fm = per_epoch[size_t(e)].at("freq_matrix");  // [n_freq, unit]
      const auto d = library::DominantFrequencies(fm.data<float>(), int(F), int(U));
      double sum = 0;
      for (int64_t u = 0; u < U; ++u) {
        dom[size_t(e * U + u)] = d[size_t(u)].k;  // 1-based
        frac[size_t(e * U + u)] = d[size_t(u)].fraction;
        sum += d[size_t(u)].fraction;
      }
      mean[size_t(e)] = U > 0 ? float(sum / double(U)) : 0.0f;
    }
    return {{"dominant_freq_per_head", io::Array::I64({n, U}, dom)},  // [n_epochs, unit] k, 1-based
            {"max_frac_per_head", io::Array::F32({n, U}, frac)},     // [n_epochs, unit]
            {"mean_specialization", io::Array::F32({n}, mean)},      // [n_epochs]
            {"epochs", Epochs(epochs)}};
  }
  static constexpr int kKeyIsA = -1000;

 private:
  int m_q, m_k;  // default: last position -> a
};

// [SECTION] neuron_activations
class NeuronActivationsAnalyzer : public Analyzer {
 public:
  std::string name() const override { return "neuron_activations"; }
  std::vector<std::string> required_activations(const families::RunInfo& run) const override { return PostHooks(run); }
  io::NpzArchive Analyze(const AnalysisContext& ctx) const override {
    return {{"activations", F32(NeuronGrids(ctx))}};  // [neuron, p, p]
  }
  Shapes ArtifactShapes(const families::RunInfo& run) const override { return {{"activations", {Neurons(run), run.p, run.p}}}; }
};

// [SECTION] neuron_freq_norm
class NeuronFreqNormAnalyzer : public Analyzer {
 public:
  std::string name() const override { return "neuron_freq_norm"; }
  std::vector<std::string> required_activations(const families::RunInfo& run) const override { return PostHooks(run); }
  io::NpzArchive Analyze(const AnalysisContext& ctx) const override {
    return {{"freq_matrix", F32(library::FrequencyVarianceFractions(NeuronGrids(ctx), ctx.fourier_basis))}};  // [n_freq, neuron]
  }
  Shapes ArtifactShapes(const families::RunInfo& run) const override { return {{"freq_matrix", {run.n_freq(), Neurons(run)}}}; }
  bool has_summary() const override { return true; }
  Shapes SummaryShapes(const families::RunInfo& run, int64_t n) const override {
    const int64_t F = run.n_freq();
    return {{"frac_explained", {n}}, {"neurons_per_freq", {n, F}}, {"key_freq_mask", {n, F}}, {"epochs", {n}}};
  }
  ValueRule SummaryRule(const std::string& key, const families::RunInfo& run) const override {
    if (key == "epochs") return {io::DType::I64, 0};
    if (key == "neurons_per_freq") return {io::DType::F32, 0, double(Neurons(run))};
    return {io::DType::F32, 0, 1};
  }
  // The rules of library/frequency_stats.h: a neuron is explained when its
  // dominant frequency holds > kExplainedThreshold of its variance; a
  // frequency is key when >= kKeyFreqMinNeuronFrac of the neurons are.
  io::NpzArchive ComputeSummary(const families::RunInfo& run, const std::vector<int>& epochs,
                                const std::vector<io::NpzArchive>& per_epoch) const override {
    const int64_t n = int64_t(epochs.size()), N = Neurons(run), F = run.n_freq();
    std::vector<float> frac(static_cast<size_t>(n)), counts(size_t(n * F)), mask(size_t(n * F));
    for (int64_t e = 0; e < n; ++e) {
      const io::Array& fm = per_epoch[size_t(e)].at("freq_matrix");  // [n_freq, neuron]
      const auto dom = library::DominantFrequencies(fm.data<float>(), int(F), int(N));
      const auto per_freq = library::ExplainedPerFrequency(dom, int(F));
      const auto key = library::KeyFrequencyMask(per_freq, int(N));
      int64_t explained = 0;
      for (int64_t f = 0; f < F; ++f) {
        counts[size_t(e * F + f)] = float(per_freq[size_t(f)]);
        mask[size_t(e * F + f)] = key[size_t(f)] ? 1.0f : 0.0f;
        explained += per_freq[size_t(f)];
      }
      frac[size_t(e)] = N > 0 ? float(double(explained) / double(N)) : 0.0f;
    }
    return {{"frac_explained", io::Array::F32({n}, frac)},         // [n_epochs]
            {"neurons_per_freq", io::Array::F32({n, F}, counts)},  // [n_epochs, n_freq]
            {"key_freq_mask", io::Array::F32({n, F}, mask)},       // [n_epochs, n_freq] 0/1
            {"epochs", Epochs(epochs)}};
  }
};

// [SECTION] coarseness
class CoarsenessAnalyzer : public Analyzer {
 public:
  static constexpr const char* kMetrics[] = {"fft_low_freq", "variance_preserved", "gradient"};
  std::string name() const override { return "coarseness"; }
  std::vector<std::string> required_activations(const families::RunInfo& run) const override {
    auto v = PatternHooks(run);
    for (auto& n : PostHooks(run)) v.push_back(n);
    return v;
  }
  io::NpzArchive Analyze(const AnalysisContext& ctx) const override {
    const auto [q, k] = ctx.run.DefaultPair();
    torch::Tensor heads = library::CoarsenessMetrics(library::PositionPairGrids(AllPatterns(ctx), q, k, ctx.run.p));  // [unit, 3]
    torch::Tensor neurons = library::CoarsenessMetrics(NeuronGrids(ctx));  // [neuron, 3]
    io::NpzArchive out;
    for (int i = 0; i < 3; ++i) {
      out[std::string("head_") + kMetrics[i]] = F32(heads.select(1, i));
      out[std::string("neuron_") + kMetrics[i]] = F32(neurons.select(1, i));
    }
    return out;
  }
  Shapes ArtifactShapes(const families::RunInfo& run) const override {
    Shapes s;
    for (const char* n : kMetrics) {
      s[std::string("head_") + n] = {run.n_head_units()};
      s[std::string("neuron_") + n] = {Neurons(run)};
    }
    return s;
  }
  bool has_summary() const override { return true; }
  Shapes SummaryShapes(const families::RunInfo& run, int64_t n) const override {
    Shapes s = {{"epochs", {n}}};
    for (const char* m : kMetrics) {
      s[std::string("head_") + m] = {n, run.n_head_units()};  // [n_epochs, unit]
      s[std::string("mean_head_") + m] = {n};                 // [n_epochs]
      s[std::string("mean_neuron_") + m] = {n};               // [n_epochs]
    }
    return s;
  }
  ValueRule SummaryRule(const std::string& key, const families::RunInfo&) const override {
    if (key == "epochs") return {io::DType::I64, 0};
    if (key.find("fft_low_freq") != std::string::npos) return {io::DType::F32, 0, 1};
    return {io::DType::F32, 0};
  }
  io::NpzArchive ComputeSummary(const families::RunInfo&, const std::vector<int>& epochs,
                                const std::vector<io::NpzArchive>& per_epoch) const override {
    io::NpzArchive out = {{"epochs", Epochs(epochs)}};
    for (const char* m : kMetrics) {
      torch::Tensor h = Stack(per_epoch, std::string("head_") + m);  // [n_epochs, unit]
      out[std::string("head_") + m] = F32(h);
      out[std::string("mean_head_") + m] = F32(h.mean(1));
      out[std::string("mean_neuron_") + m] = F32(Stack(per_epoch, std::string("neuron_") + m).mean(1));
    }
    return out;
  }
};

}  // namespace

std::vector<std::string> AnalyzerNames() {
  return {"attention_patterns", "attention_freq", "neuron_activations", "neuron_freq_norm", "coarseness"};
}

std::vector<std::string> RunLevelAnalyzerNames() { return {kProgressMeasures}; }

std::unique_ptr<Analyzer> MakeAnalyzer(const std::string& name, const nlohmann::json& params) {
  if (name == "attention_patterns") return std::make_unique<AttentionPatternsAnalyzer>();
  if (name == "attention_freq") {
    const nlohmann::json p = params.is_object() ? params : nlohmann::json::object();
    return std::make_unique<AttentionFreqAnalyzer>(p.value("query_pos", -1),
                                                   p.value("key_pos", int(AttentionFreqAnalyzer::kKeyIsA)));
  }
  if (name == "neuron_activations") return std::make_unique<NeuronActivationsAnalyzer>();
  if (name == "neuron_freq_norm") return std::make_unique<NeuronFreqNormAnalyzer>();
  if (name == "coarseness") return std::make_unique<CoarsenessAnalyzer>();
  if (name == kProgressMeasures) return MakeProgressMeasuresAnalyzer();
  std::string known;
  for (const auto& n : AnalyzerNames()) known += (known.empty() ? "" : ", ") + n;
  for (const auto& n : RunLevelAnalyzerNames()) known += ", " + n;
  throw std::invalid_argument("unknown analyzer '" + name + "' (known: " + known + ")");
}

}  // namespace hs::analyzers
