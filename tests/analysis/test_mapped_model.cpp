// Tests: streamed inference over mapped weights (MappedModel, and the
// language model's streamed prompt analysis) against the full computation:
// HookedTransformer over LoadHFModel's float32 weights, every pattern held,
// and the roles verified on those patterns (library::VerifyPrompt). Folders
// are 3-layer random models in each architecture's exact hub layout
// (tests/analysis/hf_reference.py with HS_FIXTURE_LAYERS=3).
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "io/atomic_file.h"
#include "io/npz.h"
#include "library/head_roles.h"
#include "lm/language_model.h"
#include "lm/prompt_analysis.h"
#include "model/hf_loader.h"
#include "model/hooked_transformer.h"
#include "model/mapped_model.h"
#include "test_util.h"

using namespace hs;
namespace fs = std::filesystem;

namespace stream_test {

const std::vector<std::string> kFixtures = {"gpt2",    "gpt2_sharded", "llama",  "qwen2", "qwen3",
                                            "mistral", "gemma",        "gemma2", "phi3",  "phi3_longrope",
                                            "gpt_neox", "gpt_neox_sequential", "opt"};

// 3-layer fixtures of every architecture, each with the demo LM's tokenizer
// (token ids below are inside every fixture's vocabulary).
const fs::path& Fixtures() {
  static test::TempDir dir("mapped_model");
  static bool made = false;
  if (!made) {
    const int rc = test::WriteHfFixtures(dir.path, kFixtures, false, "HS_FIXTURE_LAYERS=3 ");
    INFO(io::ReadFile(dir.path / "hf_reference.log"));
    REQUIRE(rc == 0);
    for (const auto& n : kFixtures)
      fs::copy_file(lm::DemoLmDir() / "headscope_tokenizer.json", dir.path / n / "headscope_tokenizer.json");
    made = true;
  }
  return dir.path;
}

// A prompt with repeats (induction and duplicate-token rows) that fits every
// fixture's context (32 positions) and vocabulary (>= 89 ids).
std::vector<int64_t> Prompt(int T, uint64_t seed) {
  std::vector<int64_t> t;
  uint64_t x = seed;
  for (int i = 0; i < T; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    t.push_back(i >= T / 2 ? t[i - T / 2] : int64_t((x >> 33) % 80) + 1);
  }
  return t;
}

struct Reference {
  std::vector<torch::Tensor> patterns, q, k;  // per layer: [H, T, T], [T, H, E], [T, KV, E]
  torch::Tensor logits;                        // [T, V]
};

Reference FullForward(const fs::path& folder, const std::vector<int64_t>& tokens) {
  model::LoadedModel m = model::LoadHFModel(folder);
  torch::NoGradGuard no_grad;
  model::ActivationCache cache;
  const torch::Tensor ids = torch::tensor(tokens, torch::kLong).view({1, -1});
  Reference r;
  r.logits = m.model->forward_with_cache(ids, cache)[0];
  for (int l = 0; l < m.cfg.n_layers; ++l) {
    r.patterns.push_back(cache("pattern", l)[0]);
    r.q.push_back(cache("q", l)[0]);
    r.k.push_back(cache("k", l)[0]);
  }
  return r;
}

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Categories whose top heads are every head, so every head's activation
// score is verified.
library::HeadCategories EveryHead(int L, int H) {
  std::array<library::LayerHeadScores, library::kNumHeadRoles> scores;
  for (auto& s : scores) s.assign(L, std::vector<double>(H, 1.0));
  library::HeadCategories c = library::BuildHeadCategories(scores, L, H);
  for (auto& cat : c.categories) {
    if (cat.key == "other") continue;
    cat.top_heads.clear();
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h) cat.top_heads.push_back({l, h, 1.0});
  }
  return c;
}

void CompareRoles(const library::PromptRoles& got, const library::PromptRoles& ref, double tol, double* worst) {
  REQUIRE(got.categories.size() == ref.categories.size());
  for (size_t i = 0; i < ref.categories.size(); ++i) {
    REQUIRE(got.categories[i].heads.size() == ref.categories[i].heads.size());
    for (size_t j = 0; j < ref.categories[i].heads.size(); ++j) {
      const double d =
          std::abs(got.categories[i].heads[j].activation_score - ref.categories[i].heads[j].activation_score);
      INFO(ref.categories[i].key << " L" << ref.categories[i].heads[j].layer << "H" << ref.categories[i].heads[j].head);
      CHECK(d <= tol);
      *worst = std::max(*worst, d);
    }
  }
}

}  // namespace stream_test
using namespace stream_test;

TEST_CASE("streamed inference over mapped weights equals the full forward, every architecture (3 layers)",
          "[model][hf][stream]") {
  const std::vector<int64_t> tokens = Prompt(30, 7);
  for (const auto& name : kFixtures) {
    const fs::path folder = Fixtures() / name;
    const Reference ref = FullForward(folder, tokens);
    // Every layer resident, then every layer through the one slot (budget 0),
    // with attention one head at a time.
    for (double budget : {-1.0, 0.0}) {
      model::MappedOptions o;
      o.weights_budget_bytes = budget;
      auto m = model::OpenHFModelMapped(folder, o);
      if (budget == 0) CHECK(m->ResidentLayers() == 0);
      if (budget < 0) CHECK(m->ResidentLayers() == 3);
      const int L = m->cfg().n_layers, H = m->cfg().n_heads;
      REQUIRE(L == 3);
      std::vector<torch::Tensor> pat(L), q(L), k(L);
      for (auto& p : pat) p = torch::zeros({H, 30, 30});
      model::MappedModel::RunSpec spec;
      spec.chunk_bytes = budget == 0 ? 1 : spec.chunk_bytes;
      spec.on_pattern = [&](const model::PatternChunk& c) {
        pat[c.layer].narrow(0, c.head0, c.n_heads).copy_(c.pattern);
      };
      spec.on_qk = [&](int l, const torch::Tensor& ql, const torch::Tensor& kl) { q[l] = ql.clone(), k[l] = kl.clone(); };
      torch::Tensor logits;
      REQUIRE(m->Run(tokens, spec, nullptr, &logits));
      double dp = 0, dq = 0;
      for (int l = 0; l < L; ++l) {
        dp = std::max(dp, MaxDiff(pat[l], ref.patterns[l]));
        dq = std::max({dq, MaxDiff(q[l], ref.q[l]), MaxDiff(k[l], ref.k[l])});
      }
      const double dl = MaxDiff(logits, ref.logits) / ref.logits.abs().max().item<double>();
      INFO(name << (budget == 0 ? " (streamed through the slot)" : " (resident)"));
      CHECK(dp <= 1e-6);
      CHECK(dq <= 1e-5);
      CHECK(dl <= 1e-6);
      std::printf("stream %-20s %-9s patterns %.1e  q/k %.1e  logits %.1e\n", name.c_str(),
                  budget == 0 ? "slot" : "resident", dp, dq, dl);
    }
  }
}

TEST_CASE("streamed role and activation scores and --patterns-out equal the full computation",
          "[lm][hf][stream]") {
  const std::vector<int64_t> tokens = Prompt(30, 11);
  double worst_roles = 0, worst_npz = 0;
  for (const auto& name : kFixtures) {
    const fs::path folder = Fixtures() / name;
    const Reference ref = FullForward(folder, tokens);
    auto lm = std::shared_ptr<const lm::LanguageModel>(lm::LanguageModel::Open(folder));
    const int L = lm->cfg().n_layers, H = lm->cfg().n_heads, T = int(tokens.size());
    lm::LmModel model;
    model.dir = folder;
    model.lm = lm;
    model.categories = EveryHead(L, H);
    // The full computation: every pattern held, roles verified on them.
    std::vector<float> all(size_t(L) * H * T * T);
    for (int l = 0; l < L; ++l)
      std::memcpy(all.data() + size_t(l) * H * T * T, ref.patterns[l].contiguous().data_ptr<float>(),
                  size_t(H) * T * T * sizeof(float));
    const library::PromptRoles full = library::VerifyPrompt(model.categories, all.data(), L, H, tokens);
    // Streamed, with the patterns written as the CLI's --patterns-out does.
    test::TempDir out("patterns_out");
    auto npy = std::make_unique<io::NpyFileWriter>(out.path / "p.npy", io::DType::F32,
                                                   std::vector<int64_t>{L, H, T, T});
    lm::PromptOptions po;
    po.sink = [&](const lm::PatternBlock& b) { npy->Append(b.data, size_t(b.n_heads) * T * T * sizeof(float)); };
    po.head = {L - 1, H - 1};
    const auto a = lm::AnalyzePrompt(model, *lm, "", tokens, false, -1, po);
    REQUIRE(a->error.empty());
    npy->Finish();
    io::WriteNpz(out.path / "patterns.npz", {{"tokens", io::Array::I64({T}, tokens)}}, {{"patterns", npy->path()}});
    const fs::path tmp = npy->path();
    npy.reset();
    CHECK_FALSE(fs::exists(tmp));  // the streamed .npy was a temporary
    INFO(name);
    CompareRoles(a->roles, full, 1e-6, &worst_roles);
    const io::NpzArchive z = io::ReadNpz(out.path / "patterns.npz");
    REQUIRE(z.at("patterns").shape == std::vector<int64_t>{L, H, T, T});
    const float* got = z.at("patterns").data<float>();
    for (size_t i = 0; i < all.size(); ++i) worst_npz = std::max(worst_npz, double(std::abs(got[i] - all[i])));
    // The selected head, and the overview's rows each summing to 1.
    const float* head = a->Head(L - 1, H - 1);
    REQUIRE(head != nullptr);
    double dh = 0;
    for (int i = 0; i < T * T; ++i) dh = std::max(dh, double(std::abs(head[i] - all[size_t((L - 1) * H + H - 1) * T * T + i])));
    CHECK(dh <= 1e-6);
    const int S = a->overview_size;
    for (int r = 0; r < S; ++r) {
      double s = 0;
      for (int c = 0; c < S; ++c) s += a->Overview(1, 0)[r * S + c];
      CHECK(s == Approx(1.0).epsilon(1e-5));
    }
  }
  std::printf("streamed roles: max |activation score difference| %.1e; --patterns-out max |difference| %.1e\n",
              worst_roles, worst_npz);
  CHECK(worst_npz <= 1e-6);
}

TEST_CASE("typing reuses the prefix: an edit recomputes from its first changed token and equals a full recompute",
          "[lm][hf][stream]") {
  // The demo LM's 128 positions make the overview's blocks 2 tokens wide:
  // rows are then reused from a block boundary.
  // mistral and gemma2: rows reused across sliding windows and soft-capped scores.
  for (const auto& [name, T] : std::vector<std::pair<std::string, int>>{
           {"gpt2", 24}, {"llama", 24}, {"mistral", 24}, {"gemma2", 24}, {"gpt_neox", 24}, {"demo", 120}}) {
    const fs::path folder = name == "demo" ? lm::DemoLmDir() : Fixtures() / name;
    auto lm = std::shared_ptr<const lm::LanguageModel>(lm::LanguageModel::Open(folder));
    const int L = lm->cfg().n_layers, H = lm->cfg().n_heads;
    lm::LmModel model;
    model.dir = folder;
    model.lm = lm;
    model.categories = EveryHead(L, H);
    const std::vector<int64_t> base = Prompt(T, 5);
    std::vector<int64_t> appended = base, edited = base, shorter(base.begin(), base.begin() + T - 4);
    appended.push_back(3), appended.push_back(base[4]);  // the repeat makes new induction rows
    edited[T - 7] = 2;
    auto cache = lm::NewPromptCache();
    lm::PromptOptions o;
    o.cache = cache;
    o.head = {1, 1};
    auto prev = lm::AnalyzePrompt(model, *lm, "", base, false, -1, o);
    REQUIRE(prev->error.empty());
    CHECK(prev->reused_rows == 0);
    for (const auto& next : {appended, edited, shorter, base}) {
      o.previous = prev;
      const auto inc = lm::AnalyzePrompt(model, *lm, "", next, false, -1, o);
      lm::PromptOptions fresh_o;
      fresh_o.head = {1, 1};
      const auto fresh = lm::AnalyzePrompt(model, *lm, "", next, false, -1, fresh_o);
      REQUIRE(inc->error.empty());
      INFO(name << ": " << next.size() << " tokens, " << inc->reused_rows << " rows reused");
      // Shared prefix rows are reused, from the start of the overview block.
      size_t lcp = 0;
      while (lcp < std::min(prev->tokens.size(), next.size()) && prev->tokens[lcp] == next[lcp]) ++lcp;
      int64_t expect = int64_t(std::min(lcp, next.size() - 1));
      expect -= expect % inc->overview_bin;
      if (prev->overview_bin != inc->overview_bin) expect = 0;
      CHECK(inc->reused_rows == expect);
      CHECK(inc->reused_rows > 0);
      double worst = 0;
      CompareRoles(inc->roles, fresh->roles, 1e-5, &worst);
      REQUIRE(inc->overview.size() == fresh->overview.size());
      for (size_t i = 0; i < fresh->overview.size(); ++i) CHECK(std::abs(inc->overview[i] - fresh->overview[i]) <= 1e-5);
      for (size_t i = 0; i < fresh->head_pattern.size(); ++i)
        CHECK(std::abs(inc->head_pattern[i] - fresh->head_pattern[i]) <= 1e-5);
      prev = inc;
    }
  }
}

TEST_CASE("longrope: a prompt growing past the original context recomputes every row; within one regime rows are reused",
          "[model][hf][stream]") {
  const fs::path folder = Fixtures() / "phi3_longrope";
  auto m = model::OpenHFModelMapped(folder);
  const int64_t orig = m->cfg().rope_original_max_position;
  REQUIRE(m->cfg().LongRope());
  const std::vector<int64_t> tokens = Prompt(int(orig) + 6, 3);
  const Reference ref = FullForward(folder, tokens);  // long factors for every position
  auto run = [&](const std::vector<int64_t>& t, model::MappedModel::PrefixCache* cache, int64_t* row0) {
    model::MappedModel::RunSpec spec;
    spec.on_pattern = [&](const model::PatternChunk& c) { *row0 = c.row0; };
    torch::Tensor logits;
    REQUIRE(m->Run(t, spec, cache, &logits));
    return logits;
  };
  for (int64_t first : {orig - 2, orig + 2}) {  // short then long: recomputed; long then long: reused
    model::MappedModel::PrefixCache cache;
    int64_t row0 = -1;
    run(std::vector<int64_t>(tokens.begin(), tokens.begin() + first), &cache, &row0);
    const torch::Tensor logits = run(tokens, &cache, &row0);
    INFO("first run " << first << " tokens, original context " << orig);
    CHECK(row0 == (first > orig ? first : 0));
    const torch::Tensor want = ref.logits.narrow(0, row0, int64_t(tokens.size()) - row0);
    CHECK(MaxDiff(logits, want) / want.abs().max().item<double>() <= 1e-6);
  }
}
