// [SECTION] The run-level analyzer progress_measures (see progress_analyzer.h).
#include "analyzers/progress_analyzer.h"

#include "analyzers/analyzer.h"

#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#include "families/modadd_forward.h"
#include "io/run_dir.h"
#include "library/fourier.h"
#include "library/progress_measures.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"
#include "families/modadd_task.h"

namespace hs::analyzers {
namespace {

const char* kLosses[] = {"restricted_loss", "excluded_loss", "full_loss", "train_loss", "test_loss", "weight_norm"};

class ProgressMeasuresAnalyzer : public Analyzer {
 public:
  std::string name() const override { return kProgressMeasures; }
  std::vector<std::string> required_activations(const families::RunInfo&) const override { return {}; }
  io::NpzArchive Analyze(const AnalysisContext&) const override {
    throw std::logic_error("progress_measures is run-level: it has no per-epoch artifact (see ComputeProgressMeasures)");
  }
  Shapes ArtifactShapes(const families::RunInfo&) const override { return {}; }
  bool run_level() const override { return true; }
  bool has_summary() const override { return true; }
  Shapes SummaryShapes(const families::RunInfo& run, int64_t n) const override {
    Shapes s = {{"epochs", {n}}, {"gini_W_E", {n}}, {"gini_W_L", {n}}, {"pca", {n, 3}}, {"pca_explained", {3}},
                {"key_freq_mask", {run.n_freq()}}};
    for (const char* k : kLosses) s[k] = {n};
    for (const auto& m : TrackedMatrices()) s["pr_" + m] = {n};
    return s;
  }
  ValueRule SummaryRule(const std::string& key, const families::RunInfo&) const override {
    if (key == "epochs") return {io::DType::I64, 0};
    if (key == "pca") return {};
    if (key.rfind("gini_", 0) == 0 || key == "pca_explained" || key == "key_freq_mask") return {io::DType::F32, 0, 1};
    return {io::DType::F32, 0};
  }
};

// [d_model-ish rows, cols] view of a layer-0 weight for its singular values.
torch::Tensor AsMatrix(const std::string& name, const torch::Tensor& w) {
  if (name == "W_Q" || name == "W_K" || name == "W_V")  // [heads, d_model, d_head] -> [d_model, heads*d_head]
    return w.permute({1, 0, 2}).reshape({w.size(1), -1});
  if (name == "W_O") return w.reshape({-1, w.size(2)});  // [heads, d_head, d_model] -> [heads*d_head, d_model]
  return w;
}

std::string StateName(const std::string& m) {
  if (m == "W_E") return "embed.W_E";
  if (m == "W_pos") return "pos_embed.W_pos";
  if (m == "W_U") return "unembed.W_U";
  if (m == "W_in" || m == "W_out") return "blocks.0.mlp." + m;
  return "blocks.0.attn." + m;
}

std::vector<double> ToVec(const torch::Tensor& t) {
  const torch::Tensor d = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

}  // namespace

const std::vector<std::string>& TrackedMatrices() {
  static const std::vector<std::string> m = {"W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_in", "W_out", "W_U"};
  return m;
}

std::unique_ptr<Analyzer> MakeProgressMeasuresAnalyzer() { return std::make_unique<ProgressMeasuresAnalyzer>(); }

std::vector<int> FinalKeyFrequencies(const families::RunInfo& run) {
  const io::NpzArchive s = ReadValidSummary(run, "neuron_freq_norm");
  const io::Array& mask = s.at("key_freq_mask");  // [n_epochs, n_freq]
  const int64_t F = run.n_freq(), n = mask.shape[0];
  std::vector<int> keys;
  if (n == 0) return keys;
  const auto v = mask.ToFloat();
  for (int64_t f = 0; f < F; ++f)
    if (v[size_t((n - 1) * F + f)] > 0.5f) keys.push_back(int(f + 1));
  return keys;
}

io::NpzArchive ComputeProgressMeasures(const families::RunInfo& run, const std::vector<int>& epochs,
                                       const std::vector<int>& key_freqs, int threads,
                                       const std::function<void(int, int, int)>& on_done, const StopFn& should_stop) {
  const int p = run.p;
  const int64_t n = int64_t(epochs.size());
  if (run.model.d_vocab_out < p) throw io::IoError((run.dir / "config.json").string() + ": d_vocab_out < p");
  // The training pairs, as the trainer split them (config.json).
  const double train_frac = run.config.value("train_frac", 0.3);
  const int data_seed = run.config.value("data_seed", 598);
  std::vector<int> train_pairs, test_pairs;
  {
    const families::ModAddData data = families::MakeModAddData(p, train_frac, data_seed);
    const torch::Tensor tr = data.train_idx.to(torch::kInt64).contiguous(), te = data.test_idx.to(torch::kInt64).contiguous();
    for (int64_t i = 0; i < tr.numel(); ++i) train_pairs.push_back(int(tr.data_ptr<int64_t>()[i]));
    for (int64_t i = 0; i < te.numel(); ++i) test_pairs.push_back(int(te.data_ptr<int64_t>()[i]));
  }
  std::vector<int> all_pairs(size_t(p) * p);
  for (int i = 0; i < p * p; ++i) all_pairs[size_t(i)] = i;

  const auto& mats = TrackedMatrices();
  std::map<std::string, std::vector<float>> col;  // per-epoch scalars
  for (const char* k : kLosses) col[k].assign(size_t(n), 0.f);
  col["gini_W_E"].assign(size_t(n), 0.f);
  col["gini_W_L"].assign(size_t(n), 0.f);
  for (const auto& m : mats) col["pr_" + m].assign(size_t(n), 0.f);
  torch::Tensor flat;  // [n, n_params] float32, filled per epoch
  std::mutex mu;
  std::atomic<int64_t> next{0};
  std::atomic<int> done{0};
  std::string error;
  std::atomic<bool> cancelled{false};
  const torch::Tensor basis = library::FourierBasis(p);  // [p, p]
  const torch::Tensor tokens = families::ModAddInputs(run);

  auto worker = [&] {
    try {
      at::globalContext().setFlushDenormal(true);
      torch::NoGradGuard ng;
      model::HookedTransformer model(run.model);
      model->eval();
      for (;;) {
        const int64_t i = next.fetch_add(1);
        if (i >= n) return;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!error.empty() || cancelled) return;
        }
        if (should_stop && should_stop()) throw jobs::Cancelled();
        const std::filesystem::path ckpt = io::RunPaths{run.dir}.Checkpoint(epochs[size_t(i)]);
        model::LoadCheckpoint(ckpt, *model);  // errors name the checkpoint
        const torch::Tensor logits =
            model->forward(tokens).select(1, -1).slice(1, 0, p).to(torch::kFloat32).contiguous();  // [p*p, p]
        const float* lg = logits.data_ptr<float>();
        std::vector<double> restricted, excluded;
        library::SplitKeyFrequencies(lg, p, key_freqs, &restricted, &excluded);
        const auto sd = model->StateDict();
        // Fourier component norms: W_E over tokens, W_L = W_out W_U over answers.
        const torch::Tensor WE = sd.at("embed.W_E").slice(0, 0, p).to(torch::kFloat64);          // [p, d_model]
        const torch::Tensor WL = torch::matmul(sd.at("blocks.0.mlp.W_out"), sd.at("unembed.W_U"))
                                     .slice(1, 0, p).to(torch::kFloat64);                           // [d_mlp, p]
        const torch::Tensor F = basis.to(torch::kFloat64);
        const double gini_e = library::Gini(ToVec(torch::matmul(F, WE).norm(2, {1})));
        const double gini_l = library::Gini(ToVec(torch::matmul(WL, F.t()).norm(2, {0})));
        std::vector<torch::Tensor> parts;
        double sq = 0;
        for (const auto& [name, t] : sd) {  // sorted by name: the same order every epoch
          parts.push_back(t.reshape({-1}).to(torch::kFloat32));
          sq += t.to(torch::kFloat64).pow(2).sum().item<double>();
        }
        const torch::Tensor row = torch::cat(parts);
        std::vector<double> pr;
        for (const auto& m : mats) {
          auto it = sd.find(StateName(m));
          pr.push_back(it == sd.end() ? 0.0
                                      : library::ParticipationRatio(
                                            ToVec(torch::linalg_svdvals(AsMatrix(m, it->second).to(torch::kFloat64)))));
        }
        std::lock_guard<std::mutex> lock(mu);
        if (!flat.defined()) flat = torch::zeros({n, row.numel()}, torch::kFloat32);
        if (row.numel() != flat.size(1)) throw io::IoError(ckpt.string() + ": holds a different set of weights");
        flat[i].copy_(row);
        const size_t e = size_t(i);
        col["restricted_loss"][e] = float(library::GridCrossEntropy(restricted.data(), p, all_pairs));
        col["excluded_loss"][e] = float(library::GridCrossEntropy(excluded.data(), p, train_pairs));
        col["full_loss"][e] = float(library::GridCrossEntropy(lg, p, all_pairs));
        col["train_loss"][e] = float(library::GridCrossEntropy(lg, p, train_pairs));
        col["test_loss"][e] = float(library::GridCrossEntropy(lg, p, test_pairs));
        col["weight_norm"][e] = float(std::sqrt(sq));
        col["gini_W_E"][e] = float(gini_e);
        col["gini_W_L"][e] = float(gini_l);
        for (size_t m = 0; m < mats.size(); ++m) col["pr_" + mats[m]][e] = float(pr[m]);
        const int d = ++done;
        if (on_done) on_done(d, int(n), epochs[e]);
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu);
      if (dynamic_cast<const jobs::Cancelled*>(&e)) cancelled = true;
      else if (error.empty()) error = e.what();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::max(1, threads); ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (cancelled) throw jobs::Cancelled();
  if (!error.empty()) throw io::IoError(error);

  // The trajectory's principal components from the Gram matrix of the
  // centred rows (n x n: far smaller than the parameter count).
  std::vector<float> pca(size_t(n) * 3, 0.f), explained(3, 0.f);
  if (n >= 2) {
    const torch::Tensor X = flat.to(torch::kFloat64);
    const torch::Tensor Xc = X - X.mean(0, true);
    const torch::Tensor G = torch::matmul(Xc, Xc.t());
    auto [evals, evecs] = torch::linalg_eigh(G);  // ascending
    const double total = evals.clamp_min(0).sum().item<double>();
    for (int c = 0; c < 3 && c < n; ++c) {
      const int64_t j = n - 1 - c;
      const double lam = std::max(0.0, evals[j].item<double>());
      torch::Tensor u = evecs.select(1, j);
      if (u[n - 1].item<double>() < 0) u = -u;  // sign: the last checkpoint on the positive side
      for (int64_t i = 0; i < n; ++i) pca[size_t(i * 3 + c)] = float(u[i].item<double>() * std::sqrt(lam));
      explained[size_t(c)] = total > 0 ? float(lam / total) : 0.f;
    }
  }
  std::vector<float> mask(size_t(run.n_freq()), 0.f);
  for (int k : key_freqs)
    if (k >= 1 && k <= run.n_freq()) mask[size_t(k - 1)] = 1.f;

  io::NpzArchive out;
  out["epochs"] = io::Array::I64({n}, std::vector<int64_t>(epochs.begin(), epochs.end()));
  for (auto& [k, v] : col) out[k] = io::Array::F32({n}, v);
  out["pca"] = io::Array::F32({n, 3}, pca);
  out["pca_explained"] = io::Array::F32({3}, explained);
  out["key_freq_mask"] = io::Array::F32({int64_t(run.n_freq())}, mask);
  return out;
}

}  // namespace hs::analyzers
