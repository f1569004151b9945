// Tests: the HookedTransformer, its ActivationCache, the trainer's fast
// forward against the reference forward, and checkpoints.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "io/safetensors.h"
#include "model/activation_cache.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"
#include "test_util.h"
#include "families/modadd_task.h"
#include "train/modadd_kernel.h"
#include "train/trainer.h"
#include "io/run_dir.h"
#include "jobs/thread_policy.h"

using namespace hs;

namespace {
model::HookedTransformer TinyModel(int p, int n_layers = 1, uint64_t seed = 1) {
  model::TransformerConfig c = model::ModAddConfig(p);
  c.n_layers = n_layers;
  c.d_model = 32;
  c.n_heads = 3;
  c.d_head = 8;
  c.d_mlp = 48;
  model::HookedTransformer m(c);
  m->InitWeights(seed);
  return m;
}
// Largest |a - b| with the index where it happens, for readable failures.
std::string MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor d = (a - b).abs().flatten();
  const int64_t i = d.argmax().item<int64_t>();
  return "max |diff| " + std::to_string(d[i].item<double>()) + " at flat index " + std::to_string(i);
}
}  // namespace

TEST_CASE("parameter names are TransformerLens state-dict names with TL shapes", "[model]") {
  auto m = TinyModel(7);
  const auto sd = m->StateDict();
  const std::map<std::string, std::vector<int64_t>> expected = {
      {"embed.W_E", {8, 32}},           {"pos_embed.W_pos", {3, 32}},     {"blocks.0.attn.W_Q", {3, 32, 8}},
      {"blocks.0.attn.W_K", {3, 32, 8}}, {"blocks.0.attn.W_V", {3, 32, 8}}, {"blocks.0.attn.W_O", {3, 8, 32}},
      {"blocks.0.mlp.W_in", {32, 48}},  {"blocks.0.mlp.b_in", {48}},      {"blocks.0.mlp.W_out", {48, 32}},
      {"blocks.0.mlp.b_out", {32}},     {"unembed.W_U", {32, 7}}};
  REQUIRE(sd.size() == expected.size());
  for (const auto& [name, shape] : expected) {
    INFO(name);
    REQUIRE(sd.count(name));
    CHECK(sd.at(name).sizes().vec() == shape);
  }
  // TL "gpt2" init: weights N(0, 0.8/sqrt(d_model)), biases zero.
  CHECK(sd.at("blocks.0.mlp.b_in").abs().max().item<float>() == 0.0f);
  const double std = sd.at("blocks.0.mlp.W_in").std().item<double>();
  CHECK(std == Approx(0.8 / std::sqrt(32.0)).epsilon(0.1));
}

TEST_CASE("forward_with_cache stores every hook under TL names with TL shapes", "[model][cache]") {
  const int n_layers = 2;
  auto m = TinyModel(7, n_layers);
  torch::Tensor tokens = torch::tensor({0, 3, 7, 6, 2, 7}, torch::kLong).view({2, 3});
  model::ActivationCache cache;
  torch::Tensor logits = m->forward_with_cache(tokens, cache);
  CHECK(logits.sizes().vec() == std::vector<int64_t>{2, 3, 7});
  using V = std::vector<int64_t>;
  std::map<std::string, V> shapes = {{"hook_embed", {2, 3, 32}}, {"hook_pos_embed", {2, 3, 32}}};
  for (int l = 0; l < n_layers; ++l) {
    const std::string b = "blocks." + std::to_string(l) + ".";
    for (const char* n : {"hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out"})
      shapes[b + n] = {2, 3, 32};
    for (const char* n : {"attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_z"}) shapes[b + n] = {2, 3, 3, 8};
    shapes[b + "attn.hook_attn_scores"] = {2, 3, 3, 3};
    shapes[b + "attn.hook_pattern"] = {2, 3, 3, 3};
    shapes[b + "mlp.hook_pre"] = {2, 3, 48};
    shapes[b + "mlp.hook_post"] = {2, 3, 48};
  }
  for (const auto& [name, shape] : shapes) {
    INFO(name);
    REQUIRE(cache.Contains(name));
    CHECK(cache[name].sizes().vec() == shape);
  }
  CHECK(cache.Names().size() == shapes.size());
  // Shorthand with negative layers.
  CHECK(cache("pattern", -1).equal(cache["blocks.1.attn.hook_pattern"]));
  CHECK(cache("resid_post", 0).equal(cache["blocks.0.hook_resid_post"]));
  CHECK(cache("pre", 1).equal(cache["blocks.1.mlp.hook_pre"]));
  CHECK(model::ActName("embed") == "hook_embed");
  CHECK_THROWS_WITH(cache["blocks.9.attn.hook_pattern"], Catch::Contains("not in the cache"));
  CHECK_THROWS(cache("pattern", 2));
  // The final residual stream unembedded gives the logits.
  CHECK(torch::allclose(torch::matmul(cache("resid_post", -1), m->unembed->W_U), logits, 1e-5, 1e-5));
}

TEST_CASE("attention rows sum to 1 and masked (future) entries are exactly 0", "[model][cache]") {
  auto m = TinyModel(11, 1, 5);
  torch::Tensor tokens = torch::randint(0, 12, {16, 3}, torch::kLong);
  model::ActivationCache cache;
  m->forward_with_cache(tokens, cache);
  const torch::Tensor pattern = cache("pattern", 0);  // [batch, head, query_pos, key_pos]
  const torch::Tensor sums = pattern.sum(-1);
  INFO(MaxDiff(sums, torch::ones_like(sums)));
  CHECK(torch::allclose(sums, torch::ones_like(sums), 0, 1e-6));
  for (int q = 0; q < 3; ++q)
    for (int k = q + 1; k < 3; ++k) CHECK(pattern.select(2, q).select(2, k).abs().max().item<float>() == 0.0f);
  CHECK(std::isinf(cache("attn_scores", 0)[0][0][0][2].item<float>()));
  // Position 0 can only attend to itself.
  CHECK(torch::allclose(pattern.select(2, 0).select(2, 0), torch::ones({16, 3})));
}

TEST_CASE("bad token input gives clear errors", "[model]") {
  auto m = TinyModel(7);
  CHECK_THROWS_WITH(m->forward(torch::zeros({1, 4}, torch::kLong)), Catch::Contains("longer than the context"));
  CHECK_THROWS_WITH(m->forward(torch::full({1, 3}, 99, torch::kLong)), Catch::Contains("outside the vocabulary"));
}

TEST_CASE("the trainer's hand-derived kernel equals the general forward and autograd", "[model][train]") {
  // Reference: forward_with_cache's path (model.forward) and autograd, run in
  // float64 on a copy of the weights; the kernel runs in float32.
  const int p = 17;
  model::TransformerConfig c = model::ModAddConfig(p);
  c.d_model = 32, c.n_heads = 4, c.d_head = 8, c.d_mlp = 40;  // d_mlp + p not a multiple of 16
  model::HookedTransformer m(c);
  m->InitWeights(5);
  {  // large enough weights that attention is far from uniform and many ReLUs are off
    torch::NoGradGuard ng;
    for (auto& prm : m->parameters()) prm.normal_(0, 0.4);
  }
  model::HookedTransformer ref(c);
  ref->to(torch::kFloat64);
  {
    torch::NoGradGuard ng;
    auto src = m->named_parameters();
    for (auto& np : ref->named_parameters()) np.value().copy_(src[np.key()]);
  }
  const auto data = families::MakeModAddData(p, 0.6, 3);
  const torch::Tensor x = data.all_tokens.index_select(0, data.train_idx);
  const torch::Tensor y = data.all_labels.index_select(0, data.train_idx);
  train::ModAddExamples ex;
  for (int64_t i = 0; i < x.size(0); ++i) {
    ex.a.push_back(static_cast<int32_t>(x[i][0].item<int64_t>()));
    ex.b.push_back(static_cast<int32_t>(x[i][1].item<int64_t>()));
    ex.y.push_back(static_cast<int32_t>(y[i].item<int64_t>()));
  }
  torch::Tensor ref_logits = ref->forward(x).select(1, -1);
  torch::Tensor ref_loss = families::CrossEntropyF64(ref_logits, y);
  ref_loss.backward();
  const double ref_acc = ref_logits.argmax(1).eq(y).to(torch::kFloat64).mean().item<double>();
  CHECK(ref_acc > 0.0);
  CHECK(ref_acc < 1.0);
  auto ref_grads = ref->named_parameters();
  for (int threads : {1, 2}) {
    INFO("threads " << threads);
    train::ModAddKernel k(*m, threads);
    for (int rep = 0; rep < 2; ++rep) {  // the second call reuses every buffer
      std::vector<float> logits;
      const train::LossAcc ev = k.Evaluate(ex, &logits);
      const train::LossAcc r = k.ForwardBackward(ex);
      torch::Tensor kl = torch::from_blob(logits.data(), {x.size(0), p}, torch::kFloat32).to(torch::kFloat64);
      INFO("logits: " << MaxDiff(kl, ref_logits.detach()));
      CHECK(torch::allclose(kl, ref_logits.detach(), 1e-4, 1e-4));
      CHECK(r.loss == Approx(ref_loss.item<double>()).epsilon(1e-5));
      CHECK(ev.loss == Approx(r.loss).epsilon(1e-12));
      CHECK(r.acc == Approx(ref_acc));
      for (auto& np : m->named_parameters()) {
        const torch::Tensor g = np.value().grad().to(torch::kFloat64), want = ref_grads[np.key()].grad();
        INFO(np.key() << ": " << MaxDiff(g, want) << " (largest gradient " << want.abs().max().item<double>() << ")");
        CHECK(torch::allclose(g, want, 1e-3, 1e-5 * want.abs().max().item<double>()));
      }
    }
  }
  // Tables follow in-place parameter updates (torch's version counter).
  train::ModAddKernel k(*m, 1);
  const double before = k.Evaluate(ex).loss;
  {
    torch::NoGradGuard ng;
    m->block(0).attn->W_V.mul_(1.5);
  }
  const double after = k.Evaluate(ex).loss;
  CHECK(after != Approx(before));
  CHECK(after == Approx(train::ModAddKernel(*m, 2).Evaluate(ex).loss).epsilon(1e-6));
  // Out-of-range input is refused, not read past the tables.
  train::ModAddExamples bad = ex;
  bad.b[3] = p;
  CHECK_THROWS_WITH(k.Evaluate(bad), Catch::Contains("outside [0, p)"));
}

TEST_CASE("metrics.csv's test numbers: evaluated on schedule and equal to the general forward at checkpoints",
          "[model][train]") {
  test::TempDir dir("evalsched");
  jobs::ConfigureTorchForTraining(2);
  train::TrainConfig cfg;
  cfg.p = 13, cfg.d_model = 32, cfg.n_heads = 4, cfg.d_head = 8, cfg.d_mlp = 48, cfg.train_frac = 0.5;
  cfg.epochs = 120, cfg.eval_every = 7, cfg.checkpoint_schedule = "0:50";
  train::Trainer(cfg, dir.path / "run").Run();
  const auto rows = io::ReadMetricsCsv(dir.path / "run" / "metrics.csv");
  REQUIRE(rows.size() == 121);
  int last_eval = -1;
  for (const auto& r : rows) {
    const bool due = r.epoch % 7 == 0 || r.epoch % 50 == 0 || r.epoch == 120;
    INFO("epoch " << r.epoch);
    CHECK(r.test_epoch == (due ? r.epoch : last_eval));
    if (!due) {
      CHECK(r.test_loss == rows[last_eval].test_loss);  // repeats the evaluation it names
      CHECK(r.test_acc == rows[last_eval].test_acc);
    }
    if (due) last_eval = r.epoch;
  }
  // At checkpoints, the general forward on the saved weights gives the same
  // test loss and accuracy, and the same train loss.
  const auto data = families::MakeModAddData(cfg.p, cfg.train_frac, cfg.data_seed);
  for (int epoch : {0, 50, 100, 120}) {
    INFO("checkpoint " << epoch);
    model::HookedTransformer m(cfg.Model());
    model::LoadCheckpoint(dir.path / "run" / "checkpoints" / (io::EpochStem(epoch) + ".safetensors"), *m);
    torch::NoGradGuard ng;
    for (bool test : {true, false}) {
      const torch::Tensor idx = test ? data.test_idx : data.train_idx;
      const torch::Tensor logits = m->forward(data.all_tokens.index_select(0, idx)).select(1, -1);
      const torch::Tensor y = data.all_labels.index_select(0, idx);
      const double loss = families::CrossEntropyF64(logits, y).item<double>();
      const double acc = logits.argmax(1).eq(y).to(torch::kFloat64).mean().item<double>();
      CHECK((test ? rows[epoch].test_loss : rows[epoch].train_loss) == Approx(loss).epsilon(1e-4));
      CHECK((test ? rows[epoch].test_acc : rows[epoch].train_acc) == Approx(acc).margin(1.5 / idx.size(0)));
    }
  }
  jobs::ConfigureTorchForTraining(1);
}

TEST_CASE("float64 cross-entropy does not underflow on confident predictions", "[train]") {
  // log(1 + 2e^-20) = 4.1e-9: below float32 resolution at 20, fine in float64.
  torch::Tensor logits = torch::tensor({{20.0f, 0.0f, 0.0f}});
  torch::Tensor loss = families::CrossEntropyF64(logits, torch::tensor({0}, torch::kLong));
  CHECK(loss.scalar_type() == torch::kFloat64);
  CHECK(loss.item<double>() > 0.0);  // float32 gives exactly 0
  CHECK(loss.item<double>() == Approx(std::log1p(2 * std::exp(-20.0))).epsilon(1e-6));
}

TEST_CASE("checkpoints round trip through safetensors and reject wrong shapes", "[model][io]") {
  test::TempDir dir("ckpt");
  auto m = TinyModel(7, 1, 11);
  model::SaveCheckpoint(dir.path / "epoch_00000.safetensors", *m, {{"epoch", "0"}});
  auto n = TinyModel(7, 1, 12);
  CHECK_FALSE(n->embed->W_E.equal(m->embed->W_E));
  const auto meta = model::LoadCheckpoint(dir.path / "epoch_00000.safetensors", *n);
  CHECK(meta.at("epoch") == "0");
  for (const auto& [name, t] : m->StateDict()) CHECK(n->StateDict().at(name).equal(t));
  auto wrong = TinyModel(11);
  CHECK_THROWS_WITH(model::LoadCheckpoint(dir.path / "epoch_00000.safetensors", *wrong),
                    Catch::Contains("epoch_00000.safetensors") && Catch::Contains("shape"));
}

TEST_CASE("forward_with_cache can stop after a hook, with the same activations up to it", "[model][cache]") {
  auto m = TinyModel(7, 2);
  torch::Tensor tokens = torch::tensor({0, 3, 7, 6, 2, 7}, torch::kLong).view({2, 3});
  model::ActivationCache full, part;
  m->forward_with_cache(tokens, full);
  CHECK_FALSE(m->forward_with_cache(tokens, part, "blocks.0.attn.hook_pattern").defined());
  CHECK(part["blocks.0.attn.hook_pattern"].equal(full["blocks.0.attn.hook_pattern"]));
  CHECK_FALSE(part.Contains("blocks.0.mlp.hook_post"));
  CHECK_FALSE(part.Contains("blocks.1.attn.hook_pattern"));
}
