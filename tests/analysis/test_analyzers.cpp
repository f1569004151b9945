// Tests: analyzers against direct computation, the pipeline's artifacts in
// numpy, summaries, and corrupt artifacts being recomputed.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "analyzers/analyzer.h"
#include "analyzers/pipeline.h"
#include "families/modadd_forward.h"
#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "library/fourier.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"
#include "test_util.h"
#include "families/modadd_task.h"
#include "train/trainer.h"
#include "jobs/thread_policy.h"

using namespace hs;
namespace fs = std::filesystem;

namespace {
train::TrainConfig SmallRun() {
  train::TrainConfig c;
  c.p = 13;
  c.d_model = 32;
  c.n_heads = 3;  // not 4: nothing may assume the paper's head count
  c.d_head = 8;
  c.d_mlp = 40;
  c.train_frac = 0.8;
  c.lr = 3e-3;
  c.epochs = 60;
  c.checkpoint_schedule = "0:20";
  return c;
}
}  // namespace

TEST_CASE("attention_patterns of a hand-set model match a direct computation", "[analyzers]") {
  const int p = 7;
  model::TransformerConfig cfg = model::ModAddConfig(p);
  cfg.d_model = 8;
  cfg.n_heads = 2;
  cfg.d_head = 4;
  cfg.d_mlp = 8;
  model::HookedTransformer m(cfg);
  m->InitWeights(3);
  families::RunInfo run;
  run.model = cfg;
  run.p = p;
  run.positions = {"a", "b", "="};
  run.a_pos = 0;
  run.b_pos = 1;
  torch::Tensor tokens = families::ModAddInputs(run);  // [p*p, 3]
  CHECK(torch::equal(tokens, families::MakeModAddData(p, 0.5, 1).all_tokens));
  model::ActivationCache cache;
  {
    torch::NoGradGuard ng;
    m->forward_with_cache(tokens, cache);
  }
  auto an = analyzers::MakeAnalyzer("attention_patterns");
  const io::NpzArchive out = an->Analyze({cache, run, 0, library::FourierBasis(p)});
  torch::Tensor pat = model::FromArray(out.at("patterns"));  // [head, q, k, p, p]
  REQUIRE(pat.sizes().vec() == std::vector<int64_t>{2, 3, 3, p, p});
  // Direct: softmax over keys of (x_q W_Q)(x_k W_K)/sqrt(d_head), causal.
  torch::NoGradGuard ng;
  const auto& attn = *m->block(0).attn;
  for (int a : {0, 3, 6})
    for (int b : {1, 5}) {
      torch::Tensor x = m->embed->W_E.index_select(0, torch::tensor({a, b, p}, torch::kLong)) + m->pos_embed->W_pos;  // [3, d]
      for (int h = 0; h < 2; ++h) {
        torch::Tensor q = torch::matmul(x, attn.W_Q[h]), k = torch::matmul(x, attn.W_K[h]);
        torch::Tensor s = torch::matmul(q, k.t()) / 2.0;
        for (int i = 0; i < 3; ++i) {
          torch::Tensor row = torch::softmax(s[i].narrow(0, 0, i + 1), 0);
          for (int j = 0; j < 3; ++j) {
            INFO("a=" << a << " b=" << b << " head " << h << " q " << i << " k " << j);
            const float want = j <= i ? row[j].item<float>() : 0.0f;
            CHECK(pat[h][i][j][a][b].item<float>() == Approx(want).margin(1e-6));
          }
        }
      }
    }
}

TEST_CASE("analyze writes every artifact numpy can open, summaries equal a numpy recomputation, corrupt ones are recomputed",
          "[analyzers][pipeline]") {
  test::TempDir dir("pipeline");
  jobs::ConfigureTorchForTraining(1);
  const auto cfg = SmallRun();
  const fs::path run = dir.path / "modadd_1l" / cfg.VariantName();
  train::Trainer(cfg, run).Run();
  analyzers::AnalyzeOptions opt;
  opt.analyzers = analyzers::AnalyzerNames();  // neuron_activations too (on demand by default)
  auto report = analyzers::AnalyzeRun(run, opt);
  CHECK(report.analysed == 4);  // epochs 0, 20, 40, 60
  CHECK(report.warnings.empty());
  CHECK(fs::exists(dir.path / "modadd_1l" / "family.json"));

  const std::string script = R"PY(
import numpy as np, sys, os
d = sys.argv[1]; p, H, M, F = 13, 3, 40, 6
want = {
  'attention_patterns': {'patterns': (H, 3, 3, p, p)},
  'attention_freq': {'freq_matrix': (F, H), 'position_pair': (2,)},
  'neuron_activations': {'activations': (M, p, p)},
  'neuron_freq_norm': {'freq_matrix': (F, M)},
  'coarseness': {'head_fft_low_freq': (H,), 'head_variance_preserved': (H,), 'head_gradient': (H,),
                 'neuron_fft_low_freq': (M,), 'neuron_variance_preserved': (M,), 'neuron_gradient': (M,)},
}
for name, keys in want.items():
    for e in (0, 20, 40, 60):
        z = np.load(os.path.join(d, 'artifacts', name, 'epoch_%05d.npz' % e))
        assert sorted(z.files) == sorted(keys), (name, z.files)
        for k, shape in keys.items():
            assert z[k].shape == shape, (name, k, z[k].shape, shape)
pat = np.load(os.path.join(d, 'artifacts/attention_patterns/epoch_00060.npz'))['patterns']
assert pat.dtype == np.float32
assert np.allclose(pat.sum(axis=2), 1, atol=1e-5)         # rows sum to one over keys
assert np.all(pat[:, 0, 1] == 0) and np.all(pat[:, 1, 2] == 0)  # masked entries
# Summaries by value, recomputed here from the per-epoch artifacts.
ep = [0, 20, 40, 60]
fm = np.stack([np.load(os.path.join(d, 'artifacts/attention_freq/epoch_%05d.npz' % e))['freq_matrix'] for e in ep])
s = np.load(os.path.join(d, 'artifacts/attention_freq/summary.npz'))
assert s['dominant_freq_per_head'].dtype == np.int64
assert np.array_equal(s['dominant_freq_per_head'], fm.argmax(axis=1) + 1), 'dominant k (1-based)'
assert np.allclose(s['max_frac_per_head'], fm.max(axis=1), atol=1e-6)
assert np.allclose(s['mean_specialization'], fm.max(axis=1).mean(axis=1), atol=1e-6)
assert list(s['epochs']) == ep
nf = np.stack([np.load(os.path.join(d, 'artifacts/neuron_freq_norm/epoch_%05d.npz' % e))['freq_matrix'] for e in ep])
n = np.load(os.path.join(d, 'artifacts/neuron_freq_norm/summary.npz'))
expl = nf.max(axis=1) > 0.85
counts = np.stack([np.bincount(nf[i].argmax(axis=0)[expl[i]], minlength=F) for i in range(len(ep))])
assert np.array_equal(n['neurons_per_freq'], counts), (n['neurons_per_freq'], counts)
assert np.array_equal(n['key_freq_mask'], ((counts >= 0.01 * M) & (counts > 0)).astype(np.float32))
assert np.allclose(n['frac_explained'], expl.mean(axis=1), atol=1e-6)
c = np.load(os.path.join(d, 'artifacts/coarseness/summary.npz'))
hc = np.stack([np.load(os.path.join(d, 'artifacts/coarseness/epoch_%05d.npz' % e))['head_gradient'] for e in ep])
assert np.allclose(c['head_gradient'], hc) and np.allclose(c['mean_head_gradient'], hc.mean(axis=1), atol=1e-6)
print('numpy ok')
)PY";
  {
    std::ofstream(dir.path / "check.py") << script;
  }
  const std::string cmd = "/usr/bin/python3 " + (dir.path / "check.py").string() + " " + run.string();
  CHECK(std::system(cmd.c_str()) == 0);

  // The per-epoch freq_matrix in the summary matches a recomputation.
  const auto direct = analyzers::ComputeArtifact(run, "attention_freq", 40);
  const auto stored = analyzers::ReadValidArtifact(run, "attention_freq", 40);
  // (on demand: the attention-only fast path; stored: the general forward)
  CHECK((model::FromArray(direct.at("freq_matrix")) - model::FromArray(stored.at("freq_matrix"))).abs().max().item<float>() <
        1e-5f);

  // Second run: everything up to date.
  report = analyzers::AnalyzeRun(run, opt);
  CHECK(report.analysed == 0);
  CHECK(report.skipped == 4);

  // Corrupt one artifact (truncate) and give another the wrong shape: both
  // are reported and recomputed, never used.
  const fs::path bad = io::RunPaths{run}.Artifact("attention_freq", 20);
  const std::string bytes = io::ReadFile(bad);
  const io::NpzArchive before = io::ReadNpz(bad);
  io::WriteFileAtomic(bad, bytes.substr(0, bytes.size() / 2));
  io::NpzArchive wrong;
  wrong["freq_matrix"] = io::Array::F32({2, 2}, std::vector<float>(4, 0.5f));
  io::WriteNpz(io::RunPaths{run}.Artifact("neuron_freq_norm", 40), wrong);
  CHECK_THROWS_WITH(analyzers::ReadValidArtifact(run, "neuron_freq_norm", 40), Catch::Contains("expected (6, 40)"));
  report = analyzers::AnalyzeRun(run, opt);
  CHECK(report.analysed == 2);
  REQUIRE(report.warnings.size() == 2);
  CHECK(report.warnings[0].find("recomputing") != std::string::npos);
  CHECK(io::ReadNpz(bad).at("freq_matrix").bytes == before.at("freq_matrix").bytes);  // same numbers again
  CHECK(analyzers::ReadValidArtifact(run, "neuron_freq_norm", 40).at("freq_matrix").shape ==
        std::vector<int64_t>{6, 40});
}

TEST_CASE("analyze reports a missing run folder and unknown analyzers", "[analyzers][pipeline]") {
  test::TempDir dir("missing");
  CHECK_THROWS_WITH(analyzers::AnalyzeRun(dir.path / "nope", {}), Catch::Contains("no such run folder"));
  CHECK_THROWS_WITH(analyzers::MakeAnalyzer("attention_frequency"), Catch::Contains("known: attention_patterns"));
}
