// Interventions (lm/interventions.h) against the same change made to the
// weights of the independently implemented full-load model
// (HookedTransformer): zeroing a head's z is zeroing its rows of W_O,
// replacing it by a constant m is moving m W_O into b_O, zeroing a neuron's
// hook_post is zeroing its row of W_out. Activation patching and attribution
// against what causality fixes exactly. (The float64 numpy/torch checks of
// the same, attribution's gradients included, are ablate_check.py's.)
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "io/atomic_file.h"
#include "io/npz.h"
#include "lm/interventions.h"
#include "lm/role_checks.h"
#include "model/hf_loader.h"
#include "model/hooked_transformer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hs;

namespace interventions_test {

void MakeFixtures(const fs::path& dir, const std::vector<std::string>& names) {
  const int rc = test::WriteHfFixtures(dir, names);
  INFO(io::ReadFile(dir / "hf_reference.log"));
  REQUIRE(rc == 0);
}

std::vector<int64_t> RandomTokens(int64_t vocab, int T, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> d(0, vocab - 1);
  std::vector<int64_t> t(static_cast<size_t>(T));
  for (auto& x : t) x = d(rng);
  return t;
}

// Per-token losses of the full-load model after `edit` changed its weights.
std::vector<double> SurgeryLosses(const fs::path& dir, const std::vector<int64_t>& tokens,
                                  const std::function<void(std::map<std::string, torch::Tensor>&)>& edit) {
  model::LoadedModel m = model::LoadHFModel(dir);
  torch::NoGradGuard no_grad;
  auto sd = m.model->StateDict();
  edit(sd);
  const torch::Tensor logits = m.model->forward(torch::tensor(tokens, torch::kLong).unsqueeze(0))[0];
  const torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat64), -1);
  std::vector<double> out;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) out.push_back(-logp[int64_t(i)][tokens[i + 1]].item<double>());
  return out;
}

double MaxDiff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}


TEST_CASE("ablation at hook_z and hook_post equals the same edit of the weights, in every layout", "[interventions]") {
  test::TempDir dir("interventions");
  const std::vector<std::string> names = {"gpt2", "llama", "gemma2", "phi3"};
  MakeFixtures(dir.path, names);
  for (const auto& name : names) {
    INFO(name);
    const fs::path d = dir.path / name;
    const auto lm = lm::LanguageModel::Open(d);
    const auto& c = lm->cfg();
    const std::vector<int64_t> tokens = RandomTokens(c.d_vocab, 12, 7);
    const lm::CleanRun run(*lm, tokens);
    const std::vector<double> clean = SurgeryLosses(d, tokens, [](auto&) {});
    CHECK(MaxDiff(run.losses(), clean) < 2e-5);

    // Zero: two heads in two layers.
    lm::Intervention iv;
    iv.heads = {{0, 1}, {1, 0}};
    const auto zero_w = SurgeryLosses(d, tokens, [&](auto& sd) {
      sd.at("blocks.0.attn.W_O")[1].zero_();
      sd.at("blocks.1.attn.W_O")[0].zero_();
    });
    CHECK(MaxDiff(zero_w, clean) > 1e-3);  // the edit matters
    CHECK(MaxDiff(lm::TokenLosses(*lm, tokens, iv), zero_w) < 2e-5);
    CHECK(MaxDiff(run.Losses(iv), zero_w) < 2e-5);  // recomputed from layer 0
    iv.heads = {{1, 0}};
    const auto zero_l1 = SurgeryLosses(d, tokens, [&](auto& sd) { sd.at("blocks.1.attn.W_O")[0].zero_(); });
    CHECK(MaxDiff(run.Losses(iv), zero_l1) < 2e-5);  // from layer 1 only

    // A neuron of the last layer, and one of layer 0.
    lm::Intervention nv;
    nv.neurons = {{0, 3}, {c.n_layers - 1, 5}};
    const auto neuron_w = SurgeryLosses(d, tokens, [&](auto& sd) {
      sd.at("blocks.0.mlp.W_out")[3].zero_();
      sd.at("blocks." + std::to_string(c.n_layers - 1) + ".mlp.W_out")[5].zero_();
    });
    CHECK(MaxDiff(neuron_w, clean) > 1e-4);
    CHECK(MaxDiff(run.Losses(nv), neuron_w) < 2e-5);

    // Mean: z of L1H1 replaced by a constant = W_O row zeroed, m W_O added to b_O (models with b_O).
    if (name == "gpt2") {
      const lm::ActivationMeans means = lm::ComputeMeans(*lm, {RandomTokens(c.d_vocab, 9, 1), RandomTokens(c.d_vocab, 5, 2)});
      CHECK(means.tokens == 14);
      auto mp = std::make_shared<const lm::ActivationMeans>(means);
      lm::Intervention mv;
      mv.mode = lm::AblationMode::kMean;
      mv.means = mp;
      mv.heads = {{1, 1}};
      const auto mean_w = SurgeryLosses(d, tokens, [&](auto& sd) {
        const torch::Tensor m1 = torch::from_blob(const_cast<float*>(means.z.data()) + (1 * c.n_heads + 1) * c.d_head,
                                                  {c.d_head}, torch::kFloat);
        torch::Tensor W = sd.at("blocks.1.attn.W_O")[1];  // [E, D]
        sd.at("blocks.1.attn.b_O").add_(torch::matmul(m1, W));
        W.zero_();
      });
      CHECK(MaxDiff(mean_w, zero_l1) > 1e-4);  // the mean is not zero
      CHECK(MaxDiff(run.Losses(mv), mean_w) < 2e-5);
    }

    // Resampling from the prompt itself changes nothing; from another prompt it does.
    lm::Intervention rv;
    rv.mode = lm::AblationMode::kResample;
    rv.heads = {{0, 0}, {1, 1}};
    rv.neurons = {{0, 2}};
    rv.source = tokens;
    CHECK(MaxDiff(run.Losses(rv), run.losses()) < 1e-9);
    rv.source = RandomTokens(c.d_vocab, 15, 9);
    CHECK(MaxDiff(run.Losses(rv), run.losses()) > 1e-4);

    // One position: the predictions before it are untouched (causality), later ones change.
    lm::Intervention pv;
    pv.heads = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    pv.positions = {5};
    const auto at5 = run.Losses(pv);
    for (int i = 0; i < 5; ++i) CHECK(at5[size_t(i)] == run.losses()[size_t(i)]);
    CHECK(MaxDiff(at5, run.losses()) > 1e-4);

    CHECK_THROWS_WITH(run.Losses(lm::Intervention{lm::AblationMode::kZero, {{c.n_layers, 0}}}),
                      Catch::Contains("no head L" + std::to_string(c.n_layers) + "H0"));
  }
}

TEST_CASE("activation patching and attribution respect causality exactly", "[interventions]") {
  test::TempDir dir("patching");
  MakeFixtures(dir.path, {"gpt2"});
  const fs::path d = dir.path / "gpt2";
  const auto lm = lm::LanguageModel::Open(d);
  const auto& c = lm->cfg();
  std::vector<int64_t> clean = RandomTokens(c.d_vocab, 10, 3), corrupt = clean;
  const int k = 6;
  corrupt[k] = (clean[k] + 1) % c.d_vocab;
  const lm::PatchResult r = lm::PatchActivations(*lm, clean, corrupt, 5, 9);
  REQUIRE(r.z.size() == size_t(c.n_layers) * c.n_heads * 10);
  CHECK(std::abs(r.ld_clean - r.ld_corrupt) > 1e-4);
  // resid_pre of layer 0 at the one differing token is the whole difference; elsewhere nothing.
  CHECK(r.resid[k] == Approx(1.0).margin(1e-4));
  for (int p = 0; p < 10; ++p)
    if (p != k) CHECK(std::abs(r.resid[size_t(p)]) < 1e-6);
  // Before the differing token the two runs agree: patching there restores nothing.
  for (int l = 0; l < c.n_layers; ++l)
    for (int h = 0; h < c.n_heads; ++h)
      for (int p = 0; p < k; ++p) CHECK(std::abs(r.z[(size_t(l) * c.n_heads + h) * 10 + p]) < 1e-6);
  // The last layer's resid_pre at the last position carries everything the last
  // layer's query sees, but not the other positions' keys: not 1 in general;
  // summing over positions of the last layer's resid is not needed here.
  CHECK_THROWS_WITH(lm::PatchActivations(*lm, clean, std::vector<int64_t>(clean.begin(), clean.end() - 1), 5, 9),
                    Catch::Contains("the same number"));
  CHECK_THROWS_WITH(lm::PatchActivations(*lm, clean, clean, 5, 9), Catch::Contains("nothing to restore"));

  // Attribution: the last position predicts nothing in the loss, so its z has no gradient;
  // a loss over the first prediction only sees position 0.
  std::vector<std::vector<char>> masks = {std::vector<char>(9, 1), std::vector<char>(9, 0)};
  masks[1][0] = 1;
  const lm::HeadAttribution a = lm::AttributeHeads(*lm, clean, lm::AblationMode::kZero, nullptr, masks);
  REQUIRE(a.effect.size() == 2);
  double any = 0;
  for (int l = 0; l < c.n_layers; ++l)
    for (int h = 0; h < c.n_heads; ++h) {
      const float* e0 = a.effect[0].data() + (size_t(l) * c.n_heads + h) * 10;
      const float* e1 = a.effect[1].data() + (size_t(l) * c.n_heads + h) * 10;
      CHECK(e0[9] == 0.f);
      for (int p = 1; p < 10; ++p) CHECK(e1[p] == 0.f);
      any = std::max(any, double(std::abs(e0[3])));
    }
  CHECK(any > 1e-5);
}

TEST_CASE("mean activations: the .npz reads in numpy's layout, and a bad file is named", "[interventions]") {
  test::TempDir dir("means");
  MakeFixtures(dir.path, {"gpt2"});
  const auto lm = lm::LanguageModel::Open(dir.path / "gpt2");
  const auto& c = lm->cfg();
  std::string note;
  const auto means = lm::LoadOrComputeMeans(*lm, dir.path / "gpt2", &note);
  CHECK_THAT(note, Catch::Contains("wrote"));
  const fs::path path = lm::MeansPath(dir.path / "gpt2");
  REQUIRE(fs::exists(path));
  const io::NpzArchive a = io::ReadNpz(path);
  CHECK(a.at("z").shape == std::vector<int64_t>{c.n_layers, c.n_heads, c.d_head});
  CHECK(a.at("post").shape == std::vector<int64_t>{c.n_layers, c.d_mlp});
  note.clear();
  lm::LoadOrComputeMeans(*lm, dir.path / "gpt2", &note);
  CHECK(note.empty());  // read, not computed again

  io::NpzArchive bad = a;
  bad["z"] = io::Array::F32({c.n_layers, c.n_heads + 1, c.d_head},
                            std::vector<float>(size_t(c.n_layers) * (c.n_heads + 1) * c.d_head, 0.f));
  io::WriteNpz(dir.path / "bad_shape.npz", bad);
  CHECK_THROWS_WITH(lm::ReadMeans(dir.path / "bad_shape.npz", c),
                    Catch::Contains("bad_shape.npz") && Catch::Contains("'z' has shape"));
  bad = a;
  bad.erase("post");
  io::WriteNpz(dir.path / "no_post.npz", bad);
  CHECK_THROWS_WITH(lm::ReadMeans(dir.path / "no_post.npz", c), Catch::Contains("no member 'post'"));
  bad = a;
  std::vector<float> z = a.at("z").ToFloat();
  z[3] = std::nanf("");
  bad["z"] = io::Array::F32(a.at("z").shape, z);
  io::WriteNpz(dir.path / "nan.npz", bad);
  CHECK_THROWS_WITH(lm::ReadMeans(dir.path / "nan.npz", c), Catch::Contains("not finite"));
  // A corrupted file on disk is replaced, and the note says why.
  io::WriteFileAtomic(path, "not a zip");
  note.clear();
  lm::LoadOrComputeMeans(*lm, dir.path / "gpt2", &note);
  CHECK_THAT(note, Catch::Contains("activation_means.npz") && Catch::Contains("wrote"));
}

TEST_CASE("percentile is numpy's linear interpolation", "[interventions]") {
  CHECK(lm::Percentile({1, 2, 3, 4}, 50) == Approx(2.5));
  CHECK(lm::Percentile({5, 1, 3}, 95) == Approx(4.8));
  CHECK(lm::Percentile({7}, 95) == Approx(7));
  CHECK(std::isnan(lm::Percentile({}, 95)));
}

}  // namespace interventions_test

#include "lm/logit_attribution.h"

namespace interventions_test {

TEST_CASE("direct logit attribution: the components sum to the logit, in every layout", "[logits]") {
  test::TempDir dir("dla");
  const std::vector<std::string> names = {"gpt2", "llama", "gpt_neox", "qwen2", "opt"};
  MakeFixtures(dir.path, names);
  for (const auto& name : names) {
    INFO(name);
    const auto lm = lm::LanguageModel::Open(dir.path / name);
    const auto& c = lm->cfg();
    const std::vector<int64_t> tokens = RandomTokens(c.d_vocab, 11, 4);
    for (int64_t wrong : {int64_t(-1), int64_t(3)}) {
      const lm::LogitAttribution a = lm::DirectLogitAttribution(*lm, tokens, {}, wrong);
      REQUIRE(a.names.size() == size_t(1 + c.n_layers * (c.n_heads + 2) + 2));
      CHECK(a.names[a.HeadIndex(1, 0)] == "L1H0");
      CHECK(a.names[a.MlpIndex(0)] == "L0 MLP");
      double worst = 0, scale = 0, heads = 0;
      for (int p = 0; p < a.T; ++p) {
        double s = 0;
        for (size_t k = 0; k < a.names.size(); ++k) s += a.At(k, p);
        worst = std::max(worst, std::abs(s - a.logits[size_t(p)]));
        scale = std::max(scale, std::abs(a.logits[size_t(p)]));
        for (int h = 0; h < c.n_heads; ++h) heads = std::max(heads, std::abs(a.Head(1, h, p)));
      }
      CHECK(a.logits.back() == 0.0);  // the last position has no next token
      CHECK(scale > 1e-3);
      CHECK(heads > 1e-5);
      CHECK(worst <= 1e-4 * std::max(1.0, scale));
    }
    // What a head writes, read through the unembedding, agrees with its attribution to the next token.
    const lm::LogitAttribution a = lm::DirectLogitAttribution(*lm, tokens);
    const lm::HeadPromotes hp = lm::HeadOutputTokens(*lm, tokens, 1, 0, 4, 3);
    REQUIRE(hp.up.size() == 3);
    CHECK(hp.up[0].second >= a.Head(1, 0, 4) - 1e-5);
    CHECK(hp.down[0].second <= a.Head(1, 0, 4) + 1e-5);
    // The logit lens' last row is the model's own prediction.
    const lm::LogitLens lens = lm::ComputeLogitLens(*lm, tokens, 4, 5);
    const auto losses = lm::TokenLosses(*lm, tokens);
    for (int p = 0; p + 1 < lens.T; ++p)
      CHECK(std::log(double(lens.next_prob[size_t(c.n_layers - 1) * lens.T + p])) ==
            Approx(-losses[size_t(p)]).margin(1e-4));
    CHECK(lens.top.size() == size_t(c.n_layers));
    // A window of positions around the selected one: the same values inside, nothing outside.
    const lm::LogitLens win = lm::ComputeLogitLens(*lm, tokens, 4, 5, 3);
    CHECK(win.first == 3);
    CHECK(win.last == 6);
    for (int l = 0; l < c.n_layers; ++l)
      for (int p = 0; p < win.T; ++p) {
        const size_t i = size_t(l) * win.T + p;
        if (p >= win.first && p < win.last && p + 1 < win.T) {
          CHECK(win.next_rank[i] == lens.next_rank[i]);
          CHECK(win.next_prob[i] == Approx(lens.next_prob[i]).margin(1e-6));
        } else {
          CHECK(win.next_rank[i] == -1);
        }
      }
  }
  test::TempDir g2("dla_gemma2");
  MakeFixtures(g2.path, {"gemma2"});
  const auto gemma2 = lm::LanguageModel::Open(g2.path / "gemma2");
  CHECK_THROWS_WITH(lm::DirectLogitAttribution(*gemma2, {1, 2, 3}), Catch::Contains("post-norms"));
}

}  // namespace interventions_test

#include "lm/ov_scores.h"
#include "lm/categorize.h"
#include "lm/prompt_analysis.h"
#include <nlohmann/json.hpp>

namespace interventions_test {

TEST_CASE("roles from the weights: planted circuits score on top, a random model scores nowhere", "[ovscores]") {
  test::TempDir dir("planted");
  const std::string cmd = test::Python() + " " + std::string(HS_SOURCE_DIR) + "/tests/analysis/planted_circuits.py " +
                          dir.path.string() + " > " + (dir.path / "log.txt").string() + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto planted = lm::LanguageModel::Open(dir.path / "planted");
  const lm::OvScores s = lm::ComputeOvScores(*planted);
  CHECK(s.n_tokens == 256);
  CHECK(s.ordinal_sets.size() == 3);  // digits, a-z, A-Z as single bytes
  // The planted head of each role against the best other head.
  auto best_other = [&](const std::vector<double>& v, int l0, int h0) {
    double b = 0;
    for (int l = 0; l < s.n_layers; ++l)
      for (int h = 0; h < s.n_heads; ++h)
        if (!(l == l0 && h == h0)) b = std::max(b, s.At(v, l, h));
    return b;
  };
  INFO("copying " << s.At(s.copying, 1, 0) << " vs " << best_other(s.copying, 1, 0) << "; suppression "
                  << s.At(s.suppression, 1, 1) << " vs " << best_other(s.suppression, 1, 1) << "; successor "
                  << s.At(s.successor, 1, 2) << " vs " << best_other(s.successor, 1, 2));
  CHECK(s.At(s.copying, 1, 0) >= 0.99);
  CHECK(best_other(s.copying, 1, 0) < 0.2);
  CHECK(s.At(s.suppression, 1, 1) >= 0.99);
  CHECK(best_other(s.suppression, 1, 1) < 0.2);
  CHECK(s.At(s.successor, 1, 2) >= 0.99);
  CHECK(best_other(s.successor, 1, 2) < 0.3);
  // The sink: on random tokens and on text alike.
  std::vector<std::vector<int64_t>> random_prompts, text_prompts;
  for (unsigned seed = 0; seed < 4; ++seed) random_prompts.push_back(RandomTokens(256, 30, seed));
  for (const char* t : {"The cat sat on the mat.", "When the rain stopped, the children ran outside."})
    text_prompts.push_back(planted->Encode(t, true));
  for (const auto* prompts : {&random_prompts, &text_prompts}) {
    const std::vector<double> sink = lm::SinkScores(*planted, *prompts);
    double other = 0;
    for (size_t i = 0; i < sink.size(); ++i)
      if (i != size_t(1 * 4 + 3)) other = std::max(other, sink[i]);
    INFO("sink " << sink[1 * 4 + 3] << " vs " << other);
    CHECK(sink[1 * 4 + 3] > 0.95);
    CHECK(other < 0.5);
  }
  // A random model: no head above the thresholds.
  const auto random = lm::LanguageModel::Open(dir.path / "random");
  const lm::OvScores r = lm::ComputeOvScores(*random);
  for (size_t i = 0; i < r.copying.size(); ++i) {
    CHECK(r.copying[i] < 0.2);
    CHECK(r.suppression[i] < 0.2);
    CHECK(r.successor[i] < 0.3);
  }
  for (double v : lm::SinkScores(*random, random_prompts)) CHECK(v < 0.5);

  // In the categories (the badges' schema): exactly the planted heads hold the
  // output roles, L1H3 is a first-token head that is a sink; the random model
  // has none. On prompts, the planted heads' output roles are active.
  const library::HeadCategories pc = lm::Categorize(*planted, "planted");
  REQUIRE(pc.has_weight_roles);
  auto tops = [](const library::HeadCategories& c, const char* key) {
    std::vector<std::pair<int, int>> out;
    if (const auto* r = c.Find(key))
      for (const auto& t : r->top_heads) out.emplace_back(t.layer, t.head);
    return out;
  };
  using Heads = std::vector<std::pair<int, int>>;
  CHECK(tops(pc, "copying") == Heads{{1, 0}});
  CHECK(tops(pc, "copy_suppression") == Heads{{1, 1}});
  CHECK(tops(pc, "successor") == Heads{{1, 2}});
  CHECK(pc.IsSink(1, 3));
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 4; ++h) CHECK(pc.IsSink(l, h) == (l == 1 && h == 3));
  const library::HeadCategories rc = lm::Categorize(*random, "random");
  for (const char* key : {"copying", "copy_suppression", "successor"}) CHECK(tops(rc, key).empty());
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 4; ++h) CHECK(!rc.IsSink(l, h));

  lm::LmModel model;
  model.dir = dir.path / "planted";
  model.lm = std::shared_ptr<const lm::LanguageModel>(lm::LanguageModel::Open(model.dir));
  model.categories = pc;
  auto roles = [&](const std::string& text) {
    const auto a = lm::AnalyzePrompt(model, *model.lm, text, true);
    REQUIRE(a->error.empty());
    return a->roles;
  };
  const library::PromptRoles text = roles("When Mary and John went to the store, John gave a drink to Mary");
  INFO(text.ToJson().dump());
  for (const char* key : {"copying", "copy_suppression"}) {
    const auto* ca = text.Find(key);
    REQUIRE(ca != nullptr);
    CHECK(ca->active);
    CHECK(ca->heads.at(0).activation_score > 0.9);
    CHECK_THAT(ca->note, Catch::Contains("e.g. at"));
  }
  const library::PromptRoles digits = roles("1 2 3 4 5 6 7 8 9");
  const auto* succ = digits.Find("successor");
  REQUIRE(succ != nullptr);
  INFO(digits.ToJson().dump());
  CHECK(succ->active);
  CHECK(succ->heads.at(0).activation_score > 0.8);  // 0.85: layer 0's random heads add noise
  // Nothing with a next item (no digit, no letter): not applicable, and says why.
  const auto* none = roles("!? ,. ;: !? ,.").Find("successor");
  REQUIRE(none != nullptr);
  CHECK(!none->applicable);
  CHECK_THAT(none->reason, Catch::Contains("no number"));
}

}  // namespace interventions_test
