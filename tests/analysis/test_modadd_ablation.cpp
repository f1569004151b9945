// Tests: the grokking ablation (families/modadd_ablation.h). Its last-position
// forward against the general forward with the same interventions made by
// editing weights (every head off = W_O zero; head h off = W_O[h] zero;
// neuron n off = W_out[n] zero); frequency removal against the progress
// measures' own projection (library/progress_measures.h), on a grid and
// through the model's MLP path; everything off gives a constant prediction
// (chance); over a run folder: sorted epochs, progress, cancellation, and
// errors that name the checkpoint or the index.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "families/modadd_ablation.h"
#include "families/modadd_forward.h"
#include "families/modadd_task.h"
#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "jobs/cancelled.h"
#include "library/progress_measures.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"
#include "test_util.h"

using namespace hs;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

model::TransformerConfig AblConfig(int p) {
  model::TransformerConfig c = model::ModAddConfig(p);
  c.d_model = 32;
  c.n_heads = 4;
  c.d_head = 8;
  c.d_mlp = 48;
  c.init_range = 0.5;  // sharp patterns and many active neurons: the interventions change things
  return c;
}

families::RunInfo AblRun(int p) {
  families::RunInfo run;
  run.p = p;
  run.family = "modadd_1l";
  run.positions = {"a", "b", "="};
  run.a_pos = 0, run.b_pos = 1;
  run.model = AblConfig(p);
  run.config = {{"train_frac", 0.4}, {"data_seed", 3}};
  return run;
}

model::HookedTransformer AblModel(const families::RunInfo& run, uint64_t seed) {
  model::HookedTransformer m(run.model);
  m->InitWeights(seed);
  m->eval();
  return m;
}

model::HookedTransformer AblCopy(const families::RunInfo& run, model::HookedTransformer& m) {
  model::HookedTransformer c(run.model);
  std::map<std::string, torch::Tensor> sd;
  for (const auto& [k, t] : m->StateDict()) sd[k] = t.clone();
  c->LoadStateDict(sd);
  c->eval();
  return c;
}

// The general forward's logits at the last position. -> [p*p, d_vocab_out]
torch::Tensor AblGeneral(model::HookedTransformer& m, const families::RunInfo& run) {
  torch::NoGradGuard ng;
  return m->forward(families::ModAddInputs(run)).select(1, -1).contiguous();
}

torch::Tensor AblTensor(const std::vector<float>& v, const families::RunInfo& run) {
  return torch::tensor(v).view({int64_t(run.p) * run.p, run.model.d_vocab_out});
}

float AblMaxDiff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<float>(); }

}  // namespace

TEST_CASE("ablation's forward equals the general forward with the same heads and neurons removed from the weights",
          "[ablation]") {
  const families::RunInfo run = AblRun(13);
  auto m = AblModel(run, 5);
  const torch::Tensor clean = AblGeneral(m, run);
  const float scale = clean.abs().max().item<float>();
  CHECK(AblMaxDiff(AblTensor(families::ModAddAblatedLogits(*m, run, {}), run), clean) < 1e-5f * scale);

  struct Case {
    families::ModAddAblation a;
    std::function<void(model::HookedTransformer&)> edit;
  };
  const std::vector<Case> cases = {
      {{{0, 1, 2, 3}, {}, {}}, [](model::HookedTransformer& c) { c->block(0).attn->W_O.zero_(); }},  // no attention output
      {{{2}, {}, {}}, [](model::HookedTransformer& c) { c->block(0).attn->W_O[2].zero_(); }},
      {{{3, 0}, {}, {}},
       [](model::HookedTransformer& c) { c->block(0).attn->W_O[0].zero_(), c->block(0).attn->W_O[3].zero_(); }},
      {{{}, {5, 17, 40}, {}},
       [](model::HookedTransformer& c) {
         for (int n : {5, 17, 40}) c->block(0).mlp->W_out[n].zero_();
       }},
      {{{1}, {9}, {}},
       [](model::HookedTransformer& c) { c->block(0).attn->W_O[1].zero_(), c->block(0).mlp->W_out[9].zero_(); }},
  };
  for (const auto& cs : cases) {
    INFO(cs.a.Describe());
    auto edited = AblCopy(run, m);
    {
      torch::NoGradGuard ng;
      cs.edit(edited);
    }
    const torch::Tensor want = AblGeneral(edited, run);
    const torch::Tensor got = AblTensor(families::ModAddAblatedLogits(*m, run, cs.a), run);
    CHECK(AblMaxDiff(got, want) < 1e-5f * scale);
    CHECK(AblMaxDiff(want, clean) > 1e-2f * scale);  // the intervention changes the logits: the check has teeth
  }
}

TEST_CASE("removing frequencies mirrors the progress measures' directions, on a grid and through the MLP",
          "[ablation][fourier]") {
  const int p = 13;
  // On a random logit grid: exactly the excluded logits.
  torch::manual_seed(3);
  const torch::Tensor grid = torch::randn({p * p, p}).contiguous();
  std::vector<float> removed(grid.data_ptr<float>(), grid.data_ptr<float>() + grid.numel());
  families::RemoveSumFrequencies(removed.data(), p, p, {2, 5});
  const std::vector<double> excluded = library::ExcludedLogits(grid.data_ptr<float>(), p, {2, 5});
  double worst = 0, moved = 0;
  for (size_t i = 0; i < removed.size(); ++i) {
    worst = std::max(worst, std::abs(double(removed[i]) - excluded[i]));
    moved = std::max(moved, std::abs(double(removed[i]) - grid.data_ptr<float>()[i]));
  }
  CHECK(worst < 1e-5);
  CHECK(moved > 0.05);

  // Every frequency removed: no column depends on (a + b) mod p any more
  // (each class of pairs with the same sum has the column's overall mean).
  std::vector<int> all;
  for (int k = 1; k <= (p - 1) / 2; ++k) all.push_back(k);
  std::vector<float> flat(grid.data_ptr<float>(), grid.data_ptr<float>() + grid.numel());
  families::RemoveSumFrequencies(flat.data(), p, p, all);
  for (int c = 0; c < p; ++c) {
    double mean = 0;
    std::vector<double> by_sum(size_t(p), 0.0);
    for (int i = 0; i < p * p; ++i) mean += flat[size_t(i) * p + c], by_sum[size_t((i / p + i % p) % p)] += flat[size_t(i) * p + c];
    mean /= p * p;
    for (int s = 0; s < p; ++s) CHECK(std::abs(by_sum[size_t(s)] / p - mean) < 1e-5);
  }
  CHECK_THROWS_WITH(families::RemoveSumFrequencies(flat.data(), p, p, {7}), Contains("frequency 7"));

  // Through the model: removing k from the neurons removes exactly the
  // k-part of the MLP path's contribution to the logits (clean minus all
  // neurons off), since the path is linear in the activations.
  const families::RunInfo run = AblRun(p);
  auto m = AblModel(run, 8);
  families::ModAddAblation none, freqs, neurons;
  freqs.freqs = {1, 4};
  for (int n = 0; n < run.model.d_mlp; ++n) neurons.neurons.push_back(n);
  const torch::Tensor clean = AblTensor(families::ModAddAblatedLogits(*m, run, none), run);
  const torch::Tensor no_mlp = AblTensor(families::ModAddAblatedLogits(*m, run, neurons), run);
  const torch::Tensor no_k = AblTensor(families::ModAddAblatedLogits(*m, run, freqs), run);
  const torch::Tensor mlp_path = (clean - no_mlp).contiguous();
  const std::vector<double> mlp_excl = library::ExcludedLogits(mlp_path.data_ptr<float>(), p, freqs.freqs);
  const torch::Tensor key_part = mlp_path.to(torch::kFloat64) - torch::tensor(mlp_excl, torch::kFloat64).view({p * p, p});
  const float scale = clean.abs().max().item<float>();
  CHECK(AblMaxDiff((clean - no_k).to(torch::kFloat64), key_part) < 1e-4f * scale);
  CHECK(key_part.abs().max().item<double>() > 1e-2 * scale);
}

TEST_CASE("with every head and neuron off the model predicts one constant answer: chance accuracy", "[ablation]") {
  const families::RunInfo run = AblRun(23);
  auto m = AblModel(run, 11);
  families::ModAddAblation all;
  for (int h = 0; h < run.model.n_heads; ++h) all.heads.push_back(h);
  for (int n = 0; n < run.model.d_mlp; ++n) all.neurons.push_back(n);
  const torch::Tensor lg = AblTensor(families::ModAddAblatedLogits(*m, run, all), run);
  CHECK(AblMaxDiff(lg, lg[0].unsqueeze(0).expand_as(lg)) < 1e-6f);  // every pair: the '=' token's logits
  const families::ModAddAblationResult r = families::AblateModel(*m, run, all);
  CHECK(r.ablated.test_acc < 3.0 / run.p);
  CHECK(r.ablated.train_loss > std::log(double(run.p)) - 0.1);

  // The clean scores are the task's: float64 cross-entropy over the trainer's split.
  const families::ModAddData d = families::MakeModAddData(run.p, 0.4, 3);
  const torch::Tensor clean = AblGeneral(m, run);
  const double want_train = families::CrossEntropyF64(clean.index_select(0, d.train_idx),
                                                      d.all_labels.index_select(0, d.train_idx)).item<double>();
  const double want_acc = (clean.index_select(0, d.test_idx).argmax(1) == d.all_labels.index_select(0, d.test_idx))
                              .to(torch::kFloat64).mean().item<double>();
  CHECK(r.clean.train_loss == Approx(want_train).epsilon(1e-5));
  CHECK(r.clean.test_acc == Approx(want_acc).margin(1e-12));
}

TEST_CASE("ablation over a run's checkpoints: sorted epochs, progress, cancellation, errors naming what is wrong",
          "[ablation][run]") {
  test::TempDir dir("ablation_run");
  const int p = 11;
  families::RunInfo proto = AblRun(p);
  const fs::path run_dir = dir.path / "modadd_1l" / "v";
  fs::create_directories(run_dir / "checkpoints");
  const nlohmann::json config = {{"family", "modadd_1l"}, {"p", p},          {"epochs", 20},
                                 {"model", proto.model},  {"train_frac", 0.4}, {"data_seed", 3}};
  io::WriteFileAtomic(run_dir / "config.json", config.dump(2));
  for (int e : {0, 10, 20}) {
    auto m = AblModel(proto, uint64_t(100 + e));
    model::SaveCheckpoint(io::RunPaths{run_dir}.Checkpoint(e), *m);
  }
  const families::RunInfoPtr run = families::LoadRunInfo(run_dir);
  families::ModAddAblation a;
  a.heads = {1};
  a.freqs = {3};
  std::vector<int> seen;
  const auto curve = families::AblateOverTraining(*run, a, {20, 0, 10}, [&](int done, int total, int epoch) {
    CHECK(total == 3);
    CHECK(done == int(seen.size()) + 1);
    seen.push_back(epoch);
    return true;
  });
  CHECK(curve.epochs == std::vector<int>{0, 10, 20});
  CHECK(seen == curve.epochs);
  for (size_t i = 0; i < 3; ++i) {
    const auto one = families::AblateCheckpoint(*run, curve.epochs[i], a);
    CHECK(one.ablated.test_loss == curve.ablated[i].test_loss);
    CHECK(one.clean.train_acc == curve.clean[i].train_acc);
    CHECK(curve.ablated[i].test_loss != curve.clean[i].test_loss);
  }
  // Without the clean forward: the same ablated numbers, clean left NaN.
  const auto ablated_only = families::AblateOverTraining(*run, a, {0, 20}, {}, false);
  CHECK(ablated_only.ablated[1].test_loss == curve.ablated[2].test_loss);
  CHECK(std::isnan(ablated_only.clean[0].test_loss));
  int calls = 0;
  CHECK_THROWS_AS(families::AblateOverTraining(*run, a, {0, 10, 20}, [&](int, int, int) { return ++calls < 2; }),
                  jobs::Cancelled);
  CHECK(calls == 2);
  CHECK_THROWS_WITH(families::AblateCheckpoint(*run, 5, a), Contains("epoch_00005"));
  families::ModAddAblation bad;
  bad.heads = {4};
  CHECK_THROWS_WITH(families::AblateCheckpoint(*run, 0, bad), Contains("head 4") && Contains("0-3"));
  bad = {};
  bad.neurons = {48};
  CHECK_THROWS_WITH(families::AblateCheckpoint(*run, 0, bad), Contains("neuron 48"));
  bad = {};
  bad.freqs = {0, 6};
  CHECK_THROWS_WITH(families::AblateCheckpoint(*run, 0, bad), Contains("frequency 0") && Contains("1-5"));
  CHECK(a.Describe() == "head 1; frequency 3");
  CHECK(families::ModAddAblation{{3, 1, 3}, {}, {}}.Key() == families::ModAddAblation{{1, 3}, {}, {}}.Key());
}

