// Tests: the pipeline's readers (ReadValidSummary), the on-demand ModelCache,
// the attention-only fast path against the general forward, a 2-layer model
// with a 4-position input through every analyzer, the follow manifest,
// AnalyzeRun's error handling, and deflated npz archives.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <thread>
#include <cstdlib>
#include <fstream>
#include <random>
#include <nlohmann/json.hpp>

#include "analyzers/analyzer.h"
#include "analyzers/pipeline.h"
#include "families/modadd_forward.h"
#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"
#include "test_util.h"

using namespace hs;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

model::TransformerConfig SmallModel(int p, int n_layers, int n_ctx) {
  model::TransformerConfig c = model::ModAddConfig(p);
  c.n_layers = n_layers;
  c.n_ctx = n_ctx;
  c.d_model = 24;
  c.n_heads = 3;
  c.d_head = 8;
  c.d_mlp = 32;
  c.init_range = 0.6;  // sharper patterns than the default init
  return c;
}

// A run folder of randomly initialised checkpoints: root/<family>/v with
// config.json, root/<family>/family.json and one checkpoint per epoch.
fs::path MakeRun(const fs::path& root, const std::string& family, const std::vector<std::string>& positions,
                 const model::TransformerConfig& cfg, int p, const std::vector<int>& epochs,
                 const std::vector<std::string>& on_demand = {}) {
  const fs::path dir = root / family / "v";
  fs::create_directories(dir / "checkpoints");
  const nlohmann::json config = {{"family", family}, {"p", p}, {"epochs", epochs.back()}, {"model", cfg}};
  io::WriteFileAtomic(dir / "config.json", config.dump(2));
  const nlohmann::json fam = {{"name", family}, {"positions", positions}, {"analyzers", analyzers::AnalyzerNames()},
                              {"on_demand", on_demand}};
  io::WriteFileAtomic(root / family / "family.json", fam.dump(2));
  for (int e : epochs) {
    model::HookedTransformer m(cfg);
    m->InitWeights(uint64_t(1000 + e));
    model::SaveCheckpoint(io::RunPaths{dir}.Checkpoint(e), *m);
  }
  return dir;
}

float MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<float>(); }

}  // namespace

// [SECTION] fast attention path

TEST_CASE("the attention-only fast path equals the general forward's patterns", "[pipeline][fast]") {
  const int p = 11;
  const std::vector<std::vector<std::string>> orders = {{"a", "b", "="}, {"=", "b", "a"}, {"b", "a", "=", "="}};
  for (const auto& pos : orders) {
    families::RunInfo run;
    run.p = p;
    run.positions = pos;
    run.model = SmallModel(p, 1, int(pos.size()));
    for (int i = 0; i < int(pos.size()); ++i) {
      if (pos[i] == "a") run.a_pos = i;
      if (pos[i] == "b") run.b_pos = i;
    }
    model::HookedTransformer m(run.model);
    m->InitWeights(7);
    model::ActivationCache cache;
    torch::NoGradGuard ng;
    m->forward_with_cache(families::ModAddInputs(run), cache);
    const torch::Tensor general = cache("pattern", 0);  // [p*p, head, q, k]
    const torch::Tensor fast = families::ModAddAttentionPatterns(*m, run);
    INFO("positions " << pos[0] << pos[1] << pos[2]);
    REQUIRE(fast.sizes() == general.sizes());
    CHECK(MaxAbsDiff(fast, general) < 1e-6f);
    CHECK(general.std().item<float>() > 0.05f);  // the patterns are not uniform: the check has teeth
    // The MLP at the last position.
    const auto acts = families::ModAddFastForward(*m, run, true);
    const torch::Tensor post = cache("post", 0).select(1, int64_t(pos.size()) - 1);  // [p*p, d_mlp]
    REQUIRE(acts.post_last.sizes() == post.sizes());
    CHECK(MaxAbsDiff(acts.post_last, post) < 1e-5f * std::max(1.0f, post.abs().max().item<float>()));
    CHECK((post > 0).to(torch::kFloat32).mean().item<float>() > 0.2f);
  }
}

// [SECTION] 2 layers, 4 positions

TEST_CASE("a 2-layer model with a 4-position input goes through every analyzer", "[pipeline][layers]") {
  test::TempDir tmp("two_layer");
  const int p = 7;
  const auto cfg = SmallModel(p, 2, 4);
  const fs::path dir = MakeRun(tmp.path, "test4", {"=", "a", "b", "="}, cfg, p, {0, 10});
  analyzers::AnalyzeOptions opt;
  opt.analyzers = analyzers::AnalyzerNames();
  const auto report = analyzers::AnalyzeRun(dir, opt);
  CHECK(report.warnings.empty());
  CHECK(report.analysed == 2);
  const auto run = families::LoadRunInfo(dir);
  const int U = 2 * cfg.n_heads, N = 2 * cfg.d_mlp, F = (p - 1) / 2;
  const auto pat_a = analyzers::ReadValidArtifact(*run, "attention_patterns", 10).at("patterns");
  REQUIRE(pat_a.shape == std::vector<int64_t>{U, 4, 4, p, p});
  const auto af = analyzers::ReadValidArtifact(*run, "attention_freq", 10);
  CHECK(af.at("freq_matrix").shape == std::vector<int64_t>{F, U});
  CHECK(af.at("position_pair").data<int64_t>()[0] == 3);  // last position
  CHECK(af.at("position_pair").data<int64_t>()[1] == 1);  // a
  CHECK(analyzers::ReadValidArtifact(*run, "neuron_activations", 10).at("activations").shape ==
        std::vector<int64_t>{N, p, p});
  CHECK(analyzers::ReadValidArtifact(*run, "neuron_freq_norm", 10).at("freq_matrix").shape == std::vector<int64_t>{F, N});
  CHECK(analyzers::ReadValidArtifact(*run, "coarseness", 10).at("head_gradient").shape == std::vector<int64_t>{U});
  for (const char* s : {"attention_freq", "neuron_freq_norm", "coarseness"})
    CHECK_NOTHROW(analyzers::ReadValidSummary(*run, s));

  // Layer 1's patterns against a direct computation of both layers.
  model::HookedTransformer m(cfg);
  model::LoadCheckpoint(io::RunPaths{dir}.Checkpoint(10), *m);
  torch::NoGradGuard ng;
  const torch::Tensor pat = model::FromArray(pat_a);  // [unit, q, k, p, p]
  const double scale = 1.0 / std::sqrt(double(cfg.d_head));
  const torch::Tensor causal = torch::ones({4, 4}, torch::kBool).triu(1);
  auto patterns = [&](const torch::Tensor& x, int l) {  // x [4, d_model] -> [head, 4, 4]
    const auto& at = *m->block(l).attn;
    std::vector<torch::Tensor> hs;
    for (int h = 0; h < cfg.n_heads; ++h) {
      torch::Tensor s = torch::matmul(torch::matmul(x, at.W_Q[h]), torch::matmul(x, at.W_K[h]).t()) * scale;
      hs.push_back(torch::softmax(s.masked_fill(causal, -INFINITY), -1));
    }
    return torch::stack(hs);
  };
  float worst = 0;
  for (int a : {0, 2, 6})
    for (int b : {1, 3, 5}) {
      torch::Tensor x = m->embed->W_E.index_select(0, torch::tensor({int64_t(p), int64_t(a), int64_t(b), int64_t(p)})) +
                        m->pos_embed->W_pos;  // [4, d_model]
      const auto& at = *m->block(0).attn;
      const auto& mlp = *m->block(0).mlp;
      const torch::Tensor p0 = patterns(x, 0);
      torch::Tensor attn_out = torch::zeros_like(x);
      for (int h = 0; h < cfg.n_heads; ++h)
        attn_out += torch::matmul(torch::matmul(p0[h], torch::matmul(x, at.W_V[h])), at.W_O[h]);
      x = x + attn_out;
      x = x + torch::matmul(torch::relu(torch::matmul(x, mlp.W_in) + mlp.b_in), mlp.W_out) + mlp.b_out;
      const torch::Tensor p1 = patterns(x, 1);  // [head, 4, 4]
      for (int h = 0; h < cfg.n_heads; ++h) {
        const torch::Tensor got = pat.select(0, cfg.n_heads + h).select(2, a).select(2, b);  // [4, 4]
        worst = std::max(worst, MaxAbsDiff(got, p1[h]));
        const torch::Tensor got0 = pat.select(0, h).select(2, a).select(2, b);
        worst = std::max(worst, MaxAbsDiff(got0, p0[h]));
      }
      INFO("a=" << a << " b=" << b << " worst " << worst);
      CHECK(worst < 1e-5f);
    }
}

// [SECTION] summaries by value

TEST_CASE("summaries equal a numpy recomputation on designed frequency matrices", "[pipeline][summary]") {
  // Frequency matrices written by hand so that every rule is exercised:
  // explained and not (the 0.85 threshold), key and not (1% of 256 neurons
  // is 2.56: 3 explained neurons make a key frequency, 2 do not), ties
  // (the first frequency wins), 1-based k.
  test::TempDir tmp("by_value");
  const int p = 13, F = 6;
  model::TransformerConfig cfg = SmallModel(p, 1, 3);
  cfg.d_mlp = 256;
  const fs::path dir = MakeRun(tmp.path, "fam", {"a", "b", "="}, cfg, p, {0, 1, 2}, {"neuron_activations"});
  analyzers::AnalyzeOptions opt;
  analyzers::AnalyzeRun(dir, opt);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> low(0.0f, 0.12f);
  const io::RunPaths paths{dir};
  for (int e : {0, 1, 2}) {
    std::vector<float> nf(size_t(F) * 256);
    for (auto& v : nf) v = low(rng);
    auto set = [&](int k, int neuron, float frac) { nf[size_t(k - 1) * 256 + neuron] = frac; };
    for (int i = 0; i < 3 + e; ++i) set(2, i, 0.9f);          // k=2: 3, 4, 5 explained neurons (key)
    for (int i = 10; i < 12; ++i) set(4, i, 0.95f);           // k=4: 2 explained (not key)
    set(5, 20, 0.84f);                                        // below the threshold
    set(6, 21, 0.851f);                                       // just above
    set(1, 30, 0.95f), set(3, 30, 0.95f);                     // a tie: k=1 wins
    io::WriteNpz(paths.Artifact("neuron_freq_norm", e), {{"freq_matrix", io::Array::F32({F, 256}, nf)}});
    std::vector<float> af(size_t(F) * 3);
    for (auto& v : af) v = low(rng);
    af[size_t(F - 1) * 3 + 0] = 0.99f;                         // head 0: k = F
    af[size_t(0) * 3 + 1] = 0.5f, af[size_t(2) * 3 + 1] = 0.5f;  // head 1: a tie, k = 1
    io::NpzArchive a = io::ReadNpz(paths.Artifact("attention_freq", e));
    a["freq_matrix"] = io::Array::F32({F, 3}, af);
    io::WriteNpz(paths.Artifact("attention_freq", e), a);
  }
  const auto r = analyzers::AnalyzeRun(dir, opt);
  CHECK(r.artifacts_validated == 6);
  CHECK(r.summaries_written == 2);
  const auto run = families::LoadRunInfo(dir);
  const auto ns = analyzers::ReadValidSummary(*run, "neuron_freq_norm");
  CHECK(ns.at("key_freq_mask").data<float>()[1] == 1.0f);  // k=2 at epoch 0
  CHECK(ns.at("key_freq_mask").data<float>()[3] == 0.0f);  // k=4
  CHECK(analyzers::ReadValidSummary(*run, "attention_freq").at("dominant_freq_per_head").data<int64_t>()[0] == F);

  const std::string script = R"PY(
import numpy as np, sys, os
d = sys.argv[1]; ep = [0, 1, 2]; N = 256
art = lambda a, e: np.load(os.path.join(d, 'artifacts', a, 'epoch_%05d.npz' % e))['freq_matrix']
nf = np.stack([art('neuron_freq_norm', e) for e in ep])        # [epoch, freq, neuron]
n = np.load(os.path.join(d, 'artifacts/neuron_freq_norm/summary.npz'))
frac = nf.max(axis=1); dom = nf.argmax(axis=1)                  # argmax: the first on ties
counts = np.zeros((3, nf.shape[1]))
for i in range(3):
    for j in range(N):
        if frac[i, j] > 0.85: counts[i, dom[i, j]] += 1
assert counts[0, 1] == 3 and counts[0, 3] == 2 and counts[0, 0] == 1 and counts[0, 5] == 1, counts
assert np.array_equal(n['neurons_per_freq'], counts), (n['neurons_per_freq'], counts)
assert np.array_equal(n['key_freq_mask'], (counts >= 0.01 * N).astype(np.float32)), n['key_freq_mask']
assert np.allclose(n['frac_explained'], (frac > 0.85).mean(axis=1)), n['frac_explained']
af = np.stack([art('attention_freq', e) for e in ep])          # [epoch, freq, head]
s = np.load(os.path.join(d, 'artifacts/attention_freq/summary.npz'))
assert np.array_equal(s['dominant_freq_per_head'], af.argmax(axis=1) + 1), s['dominant_freq_per_head']
assert s['dominant_freq_per_head'][0, 0] == af.shape[1] and s['dominant_freq_per_head'][0, 1] == 1
assert np.array_equal(s['max_frac_per_head'], af.max(axis=1))
assert np.allclose(s['mean_specialization'], af.max(axis=1).mean(axis=1), atol=1e-7)
assert list(s['epochs']) == ep and list(n['epochs']) == ep
print('summaries by value ok')
)PY";
  std::ofstream(tmp.path / "check.py") << script;
  const std::string cmd = "/usr/bin/python3 " + (tmp.path / "check.py").string() + " " + dir.string();
  CHECK(std::system(cmd.c_str()) == 0);
}

// [SECTION] ReadValidSummary

TEST_CASE("ReadValidSummary rejects malformed summaries, naming the file", "[pipeline][summary]") {
  test::TempDir tmp("summary");
  const int p = 7;
  const fs::path dir = MakeRun(tmp.path, "fam", {"a", "b", "="}, SmallModel(p, 1, 3), p, {0, 5, 9});
  analyzers::AnalyzeOptions opt;
  opt.analyzers = {"attention_freq"};
  analyzers::AnalyzeRun(dir, opt);
  const auto run = families::LoadRunInfo(dir);
  const fs::path path = io::RunPaths{dir}.ArtifactsDir("attention_freq") / "summary.npz";
  const io::NpzArchive good = analyzers::ReadValidSummary(*run, "attention_freq");
  REQUIRE(good.at("epochs").shape == std::vector<int64_t>{3});

  auto expect = [&](const io::NpzArchive& bad, const std::string& what) {
    io::WriteNpz(path, bad);
    INFO(what);
    CHECK_THROWS_WITH(analyzers::ReadValidSummary(*run, "attention_freq"), Contains(path.string()) && Contains(what));
  };
  io::NpzArchive s = good;
  s.erase("max_frac_per_head");
  expect(s, "lacks array 'max_frac_per_head'");

  s = good;
  io::Array& dom = s.at("dominant_freq_per_head");
  dom.shape[0] = 2;
  dom.bytes.resize(size_t(dom.numel()) * 8);
  expect(s, "'dominant_freq_per_head' has 2 rows but 'epochs' has 3");

  s = good;
  s.at("dominant_freq_per_head").mutable_data<int64_t>()[4] = 0;
  expect(s, "outside [1, 3]");
  s = good;
  s.at("dominant_freq_per_head").mutable_data<int64_t>()[1] = 4;
  expect(s, "outside [1, 3]");

  s = good;
  s.at("max_frac_per_head").mutable_data<float>()[2] = NAN;
  expect(s, "'max_frac_per_head' holds a non-finite value");
  s = good;
  s.at("mean_specialization").mutable_data<float>()[0] = 1.5f;
  expect(s, "'mean_specialization' holds 1.5");

  s = good;
  s.at("epochs").mutable_data<int64_t>()[2] = 5;
  expect(s, "'epochs' is not strictly ascending (5 after 5)");
  s = good;
  s.at("epochs").mutable_data<int64_t>()[0] = -1;
  expect(s, "negative epoch");

  s = good;
  s.at("max_frac_per_head") = io::Array::I64(s.at("max_frac_per_head").shape, std::vector<int64_t>(9, 0));
  expect(s, "'max_frac_per_head' is I64, expected F32");

  io::WriteFileAtomic(path, "PK\x03\x04 not really");
  CHECK_THROWS_WITH(analyzers::ReadValidSummary(*run, "attention_freq"), Contains(path.string()));
  CHECK_THROWS_WITH(analyzers::ReadValidSummary(*run, "attention_patterns"), Contains("has no summary"));
}

// [SECTION] ModelCache

TEST_CASE("ModelCache reuses one forward per epoch, honours cancellation and sees rewritten checkpoints",
          "[pipeline][model_cache]") {
  test::TempDir tmp("model_cache");
  const int p = 7;
  const auto cfg = SmallModel(p, 1, 3);
  const fs::path dir = MakeRun(tmp.path, "fam", {"a", "b", "="}, cfg, p, {0, 4});
  const auto run = families::LoadRunInfo(dir);

  SECTION("cancellation between phases throws Cancelled") {
    analyzers::ModelCache mc;
    int calls = 0;
    auto after_first_phase = [&] { return ++calls > 1; };  // false before the load, true after it
    CHECK_THROWS_AS(mc.Compute(*run, "attention_freq", 0, after_first_phase), jobs::Cancelled);
    CHECK(mc.checkpoint_loads() == 1);
    CHECK(mc.forward_passes() == 0);  // stopped before the forward
    calls = 0;
    auto after_second_phase = [&] { return ++calls > 2; };
    CHECK_THROWS_AS(mc.Compute(*run, "neuron_freq_norm", 0, after_second_phase), jobs::Cancelled);
    CHECK(mc.forward_passes() == 1);
    CHECK(mc.checkpoint_loads() == 1);  // the loaded model was kept
    CHECK_NOTHROW(mc.Compute(*run, "neuron_freq_norm", 0));
    CHECK(mc.forward_passes() == 1);  // and the forward too
  }

  SECTION("every analyzer of one epoch shares one forward") {
    analyzers::ModelCache mc;
    mc.set_fast_path(false);
    mc.Compute(*run, "coarseness", 4);  // the whole forward
    for (const auto& a : analyzers::AnalyzerNames()) mc.Compute(*run, a, 4);
    CHECK(mc.forward_passes() == 1);
    mc.Compute(*run, "attention_freq", 0);      // patterns only: stops before the MLP
    mc.Compute(*run, "attention_patterns", 0);  // reuses them
    CHECK(mc.forward_passes() == 2);
    mc.Compute(*run, "neuron_freq_norm", 0);    // needs the MLP: one more
    mc.Compute(*run, "coarseness", 0);
    mc.Compute(*run, "attention_patterns", 4);  // still cached (2 models)
    CHECK(mc.forward_passes() == 3);
    CHECK(mc.checkpoint_loads() == 2);

    analyzers::ModelCache fast;
    fast.Compute(*run, "attention_patterns", 4);
    fast.Compute(*run, "attention_freq", 4);
    CHECK(fast.forward_passes() == 1);
    CHECK(fast.fast_passes() == 1);
    fast.Compute(*run, "neuron_freq_norm", 4);  // patterns + the MLP at the last position
    fast.Compute(*run, "coarseness", 4);
    fast.Compute(*run, "attention_freq", 4);
    CHECK(fast.forward_passes() == 2);
    CHECK(fast.fast_passes() == 2);
    // The fast path's artifacts equal the general forward's.
    for (const auto& [an, key] : std::vector<std::pair<std::string, std::string>>{
             {"attention_patterns", "patterns"}, {"attention_freq", "freq_matrix"}, {"neuron_activations", "activations"},
             {"neuron_freq_norm", "freq_matrix"}, {"coarseness", "neuron_gradient"}, {"coarseness", "head_fft_low_freq"}}) {
      const auto f = model::FromArray(fast.Compute(*run, an, 4).at(key));
      const auto g = model::FromArray(mc.Compute(*run, an, 4).at(key));
      INFO(an << " " << key);
      CHECK(MaxAbsDiff(f, g) < 1e-4f);
    }
    CHECK(fast.fast_passes() == 2);
  }

  SECTION("a rewritten checkpoint is not served from the cache") {
    analyzers::ModelCache mc;
    const auto before = mc.Compute(*run, "attention_freq", 4).at("freq_matrix");
    model::HookedTransformer other(cfg);
    other->InitWeights(42);
    model::SaveCheckpoint(io::RunPaths{dir}.Checkpoint(4), *other);
    const auto after = mc.Compute(*run, "attention_freq", 4).at("freq_matrix");
    CHECK(mc.checkpoint_loads() == 2);
    CHECK(after.bytes != before.bytes);
    CHECK(after.bytes == analyzers::ComputeArtifact(dir, "attention_freq", 4).at("freq_matrix").bytes);
  }

  SECTION("a missing or corrupt checkpoint is an IoError naming it") {
    analyzers::ModelCache mc;
    const fs::path ck = io::RunPaths{dir}.Checkpoint(8);
    CHECK_THROWS_AS(mc.Compute(*run, "attention_freq", 8), io::IoError);
    CHECK_THROWS_WITH(mc.Compute(*run, "attention_freq", 8), Contains(ck.string()));
    io::WriteFileAtomic(ck, "garbage");
    CHECK_THROWS_WITH(mc.Compute(*run, "attention_freq", 8), Contains(ck.string()));
  }
}

// [SECTION] manifest

TEST_CASE("a pass with nothing new reads no artifact, and changed artifacts and checkpoints are noticed",
          "[pipeline][manifest]") {
  test::TempDir tmp("manifest");
  const int p = 7;
  const auto cfg = SmallModel(p, 1, 3);
  const fs::path dir = MakeRun(tmp.path, "fam", {"a", "b", "="}, cfg, p, {0, 3, 6, 9}, {"neuron_activations"});
  const io::RunPaths paths{dir};
  analyzers::AnalyzeOptions opt;
  auto r = analyzers::AnalyzeRun(dir, opt);
  CHECK(r.analysed == 4);
  CHECK(r.summaries_written == 3);
  CHECK(fs::exists(dir / "artifacts" / "manifest.json"));
  CHECK_FALSE(fs::exists(paths.ArtifactsDir("neuron_activations")));  // on demand: not stored by default
  const auto summary_time = fs::last_write_time(paths.ArtifactsDir("attention_freq") / "summary.npz");

  r = analyzers::AnalyzeRun(dir, opt);
  CHECK(r.analysed == 0);
  CHECK(r.skipped == 4);
  CHECK(r.artifacts_validated == 0);
  CHECK(r.summaries_written == 0);
  CHECK(fs::last_write_time(paths.ArtifactsDir("attention_freq") / "summary.npz") == summary_time);

  // Rewritten with the same content: re-validated (one read), kept, and that
  // analyzer's summary recomputed.
  const fs::path art = paths.Artifact("neuron_freq_norm", 3);
  io::WriteNpz(art, io::ReadNpz(art));
  r = analyzers::AnalyzeRun(dir, opt);
  CHECK(r.artifacts_validated == 1);
  CHECK(r.analysed == 0);
  CHECK(r.summaries_written == 1);
  CHECK(r.warnings.empty());

  // Corrupted: re-validated, reported, recomputed.
  const std::string bytes = io::ReadFile(art);
  io::WriteFileAtomic(art, bytes.substr(0, bytes.size() - 10));
  r = analyzers::AnalyzeRun(dir, opt);
  CHECK(r.artifacts_validated == 1);
  CHECK(r.analysed == 1);
  REQUIRE(r.warnings.size() == 1);
  CHECK_THAT(r.warnings[0], Contains(art.string()) && Contains("recomputing"));

  // A rewritten checkpoint: its artifacts are recomputed without reading them.
  model::HookedTransformer other(cfg);
  other->InitWeights(77);
  model::SaveCheckpoint(paths.Checkpoint(6), *other);
  r = analyzers::AnalyzeRun(dir, opt);
  CHECK(r.artifacts_validated == 0);
  CHECK(r.analysed == 1);
  CHECK(r.summaries_written == 3);

  // A lost manifest costs one validation pass, nothing is recomputed.
  fs::remove(dir / "artifacts" / "manifest.json");
  r = analyzers::AnalyzeRun(dir, opt);
  CHECK(r.artifacts_validated == 4 * 4);
  CHECK(r.analysed == 0);
  io::WriteFileAtomic(dir / "artifacts" / "manifest.json", "{ not json");
  r = analyzers::AnalyzeRun(dir, opt);
  CHECK(r.analysed == 0);
  CHECK(r.warnings.size() == 1);
  r = analyzers::AnalyzeRun(dir, opt);
  CHECK(r.artifacts_validated == 0);

  // Asked explicitly, on-demand analyzers are written.
  opt.analyzers = {"neuron_activations"};
  r = analyzers::AnalyzeRun(dir, opt);
  CHECK(r.analysed == 4);
  CHECK(analyzers::ReadValidArtifact(dir, "neuron_activations", 9).at("activations").shape ==
        std::vector<int64_t>{cfg.d_mlp, p, p});
}

TEST_CASE("a run folder named with a trailing slash is the same run", "[pipeline][manifest]") {
  test::TempDir tmp("slash");
  const fs::path dir = MakeRun(tmp.path, "fam", {"a", "b", "="}, SmallModel(7, 1, 3), 7, {0});
  fs::remove(tmp.path / "fam" / "family.json");  // rewritten from ... nothing: use a built-in family instead
  nlohmann::json cfg = nlohmann::json::parse(io::ReadFile(dir / "config.json"));
  cfg["family"] = "modadd_1l";
  io::WriteFileAtomic(dir / "config.json", cfg.dump());
  const auto run = families::LoadRunInfo(dir.string() + "/");
  CHECK(run->variant == "v");
  CHECK(fs::exists(tmp.path / "fam" / "family.json"));
  CHECK_FALSE(fs::exists(dir / "family.json"));
  analyzers::AnalyzeOptions opt;
  opt.analyzers = {"attention_freq"};
  CHECK(analyzers::AnalyzeRun(dir.string() + "/", opt).analysed == 1);
  CHECK(analyzers::AnalyzeRun(dir, opt).artifacts_validated == 0);
}

// [SECTION] errors

TEST_CASE("AnalyzeRun turns any error of a checkpoint into a warning naming it", "[pipeline][errors]") {
  test::TempDir tmp("worker_errors");
  SECTION("a truncated checkpoint") {
    const fs::path dir = MakeRun(tmp.path, "fam", {"a", "b", "="}, SmallModel(7, 1, 3), 7, {0, 1, 2});
    const fs::path ck = io::RunPaths{dir}.Checkpoint(1);
    const std::string bytes = io::ReadFile(ck);
    io::WriteFileAtomic(ck, bytes.substr(0, bytes.size() / 2));
    analyzers::AnalyzeOptions opt;
    opt.threads = 2;
    const auto r = analyzers::AnalyzeRun(dir, opt);
    CHECK(r.analysed == 2);
    REQUIRE(r.warnings.size() == 1);
    CHECK_THAT(r.warnings[0], Contains(ck.string()) && Contains("skipped"));
  }
  SECTION("a torch / std error, not an IoError (an even p has no Fourier basis)") {
    model::TransformerConfig cfg = SmallModel(8, 1, 3);
    const fs::path dir = MakeRun(tmp.path, "fam", {"a", "b", "="}, cfg, 8, {0, 1});
    analyzers::AnalyzeOptions opt;
    opt.threads = 2;
    analyzers::AnalyzeReport r;
    REQUIRE_NOTHROW(r = analyzers::AnalyzeRun(dir, opt));
    CHECK(r.analysed == 0);
    REQUIRE(r.warnings.size() == 2);
    CHECK_THAT(r.warnings[0], Contains("epoch_0000") && Contains("odd p"));
  }
}

TEST_CASE("an unwritable run folder is an IoError that names the path and says what to do", "[pipeline][errors]") {
  test::TempDir tmp("unwritable");
  const fs::path dir = MakeRun(tmp.path, "fam", {"a", "b", "="}, SmallModel(7, 1, 3), 7, {0});
  SECTION("artifacts is a file") {
    io::WriteFileAtomic(dir / "artifacts", "in the way");
    CHECK_THROWS_AS(analyzers::AnalyzeRun(dir, {}), io::IoError);
    CHECK_THROWS_WITH(analyzers::AnalyzeRun(dir, {}), Contains((dir / "artifacts").string()) && Contains("writable"));
  }
  SECTION("an analyzer's folder is a file") {
    fs::create_directories(dir / "artifacts");
    io::WriteFileAtomic(dir / "artifacts" / "attention_freq", "in the way");
    CHECK_THROWS_WITH(analyzers::AnalyzeRun(dir, {}),
                      Contains((dir / "artifacts" / "attention_freq").string()) && Contains("writable"));
  }
}

// [SECTION] deflated npz

TEST_CASE("deflated npz archives round-trip, open in numpy, and corruption is caught", "[pipeline][npz]") {
  test::TempDir tmp("deflate");
  io::NpzArchive a;
  std::vector<float> v(5000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 3 == 0 ? 0.0f : std::sin(float(i));
  a["x"] = io::Array::F32({50, 100}, v);
  a["k"] = io::Array::I64({2}, {3, 4});
  const fs::path path = tmp.path / "d.npz", stored = tmp.path / "s.npz";
  io::WriteNpz(path, a, {true, 1});
  io::WriteNpz(stored, a);
  CHECK(fs::file_size(path) < fs::file_size(stored));
  const auto back = io::ReadNpz(path);
  CHECK(back.at("x").bytes == a.at("x").bytes);
  CHECK(back.at("k").bytes == a.at("k").bytes);
  const std::string cmd = "/usr/bin/python3 -c \"import numpy as np, sys; z = np.load(sys.argv[1]); "
                          "assert z['x'].shape == (50, 100) and abs(z['x'][0, 1] - np.sin(1.0)) < 1e-6 "
                          "and list(z['k']) == [3, 4]\" " + path.string();
  CHECK(std::system(cmd.c_str()) == 0);

  const std::string bytes = io::ReadFile(path);
  for (size_t cut : {bytes.size() - 1, bytes.size() / 2, size_t(40), size_t(3)}) {
    io::WriteFileAtomic(tmp.path / "t.npz", bytes.substr(0, cut));
    INFO("truncated to " << cut);
    CHECK_THROWS_AS(io::ReadNpz(tmp.path / "t.npz"), io::IoError);
  }
  // Flip bytes inside the compressed data of the first member.
  for (size_t at : {size_t(100), bytes.size() / 3, bytes.size() / 2}) {
    std::string bad = bytes;
    bad[at] = char(bad[at] ^ 0x5a);
    io::WriteFileAtomic(tmp.path / "c.npz", bad);
    INFO("flipped byte " << at);
    CHECK_THROWS_AS(io::ReadNpz(tmp.path / "c.npz"), io::IoError);
  }
  std::string sbytes = io::ReadFile(stored);
  sbytes[sbytes.size() / 2] = char(sbytes[sbytes.size() / 2] ^ 1);  // inside x's data
  io::WriteFileAtomic(tmp.path / "s2.npz", sbytes);
  CHECK_THROWS_WITH(io::ReadNpz(tmp.path / "s2.npz"), Contains("checksum"));
}

TEST_CASE("the npz reader survives every truncation and random corruption with an IoError", "[npz][fuzz]") {
  // Run under -fsanitize=address,undefined too: any read past a buffer shows.
  test::TempDir tmp("npz_fuzz");
  io::NpzArchive a;
  std::vector<float> v(3000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 4 == 0 ? 0.0f : std::cos(float(i) * 0.1f);
  a["x"] = io::Array::F32({30, 100}, v);
  a["epochs"] = io::Array::I64({3}, {0, 5, 9});
  std::mt19937 rng(11);
  for (bool deflate : {false, true}) {
    const fs::path good = tmp.path / "good.npz", bad = tmp.path / "bad.npz";
    io::WriteNpz(good, a, {deflate, 1});
    const std::string bytes = io::ReadFile(good);
    int rejected = 0, other = 0;
    auto attempt = [&](const std::string& b) {
      io::WriteFileAtomic(bad, b);
      try {
        const auto back = io::ReadNpz(bad);
        // Accepted: then it must hold exactly what was written (the CRCs
        // guard member data; a flip elsewhere may be harmless).
        if (back.at("x").bytes != a.at("x").bytes || back.at("epochs").bytes != a.at("epochs").bytes) ++other;
      } catch (const io::IoError& e) {
        ++rejected;
        if (std::string(e.what()).find(bad.string()) == std::string::npos) ++other;
      } catch (...) {
        ++other;
      }
    };
    for (size_t cut = 0; cut < bytes.size(); cut += 7) attempt(bytes.substr(0, cut));
    for (int trial = 0; trial < 200; ++trial) {
      std::string b = bytes;
      const int flips = 1 + int(rng() % 3);
      for (int f = 0; f < flips; ++f) b[rng() % b.size()] ^= char(1 + rng() % 255);
      attempt(b);
    }
    INFO("deflate " << deflate << ": rejected " << rejected);
    CHECK(other == 0);
    CHECK(rejected > int(bytes.size() / 7));
  }
}

TEST_CASE("live following analyses the newest checkpoint within its share of the time; a full pass fills in the rest",
          "[pipeline][live]") {
  test::TempDir tmp("live");
  const int p = 7;
  const auto cfg = SmallModel(p, 1, 3);
  const fs::path dir = MakeRun(tmp.path / "a", "fam", {"a", "b", "="}, cfg, p, {0, 3, 6, 9});
  const fs::path ref = MakeRun(tmp.path / "b", "fam", {"a", "b", "="}, cfg, p, {0, 3, 6, 9});  // the same weights
  analyzers::AnalyzeOptions live;
  live.analyzers = {"attention_freq", "neuron_freq_norm", "progress_measures"};
  live.follow = true;
  live.follow_duty = 0.5;
  live.follow_poll_seconds = 0.01;
  live.follow_idle_exit_seconds = 0;
  auto r = analyzers::AnalyzeRun(dir, live);
  CHECK(r.analysed == 1);  // the newest checkpoint only
  const auto epochs_of = [&](const fs::path& run, const std::string& a) {
    return io::ReadNpz(io::RunPaths{run}.ArtifactsDir(a) / "summary.npz").at("epochs").ToFloat();
  };
  CHECK(epochs_of(dir, "attention_freq") == std::vector<float>{9});
  CHECK(epochs_of(dir, "progress_measures") == std::vector<float>{9});  // run-level, while following
  CHECK_FALSE(fs::exists(io::RunPaths{dir}.Artifact("attention_freq", 3)));

  // The full pass afterwards: every checkpoint, and the same summaries as a
  // run analysed only by full passes.
  analyzers::AnalyzeOptions full;
  full.analyzers = live.analyzers;
  r = analyzers::AnalyzeRun(dir, full);
  CHECK(r.analysed == 3);
  CHECK(r.skipped == 1);
  CHECK(epochs_of(dir, "progress_measures") == std::vector<float>{0, 3, 6, 9});
  analyzers::AnalyzeRun(ref, full);
  for (const char* a : {"attention_freq", "neuron_freq_norm", "progress_measures"}) {
    INFO(a);
    const auto x = io::ReadNpz(io::RunPaths{dir}.ArtifactsDir(a) / "summary.npz");
    const auto y = io::ReadNpz(io::RunPaths{ref}.ArtifactsDir(a) / "summary.npz");
    REQUIRE(x.size() == y.size());
    for (const auto& [k, arr] : x) {
      INFO(k);
      REQUIRE(y.count(k));
      CHECK(arr.shape == y.at(k).shape);
      CHECK(arr.ToFloat() == y.at(k).ToFloat());
    }
  }

  // A long pause (a tiny duty) ends at once when asked to stop.
  test::TempDir tmp2("live_stop");
  const fs::path run2 = MakeRun(tmp2.path, "fam", {"a", "b", "="}, cfg, p, {0, 3});
  nlohmann::json c = nlohmann::json::parse(io::ReadFile(run2 / "config.json"));
  c["epochs"] = 1000;  // still "training": the follow never ends by itself
  io::WriteFileAtomic(run2 / "config.json", c.dump());
  live.follow_duty = 1e-4;
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  analyzers::AnalyzeRun(run2, live, nullptr, [&] { return stop.load(); });
  stopper.join();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
}
