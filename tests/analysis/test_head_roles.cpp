// Head roles: runtime activation scores on hand-built patterns,
// the top-head rule, the prompt verification and its reasons, the
// head_categories.json reader on broken files, and the shipped demo LM's
// categories and role formation against independent computations.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <thread>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "library/head_roles.h"
#include "lm/categorize.h"
#include "lm/prompt_analysis.h"
#include "test_util.h"
#include "lm/head_categories_file.h"

namespace fs = std::filesystem;
using namespace hs;
using library::HeadRole;
using nlohmann::json;

namespace {
using test::Python;
fs::path Demo() { return test::DemoLm(); }

// A causal [T, T] pattern with the given (row, key, weight) cells; the rest
// of each row's mass goes to key 0.
std::vector<float> Pattern(int T, const std::vector<std::tuple<int, int, float>>& cells) {
  std::vector<float> a(size_t(T) * T, 0.f);
  std::vector<float> used(T, 0.f);
  for (auto [i, j, w] : cells) a[size_t(i) * T + j] += w, used[i] += w;
  for (int i = 0; i < T; ++i) a[size_t(i) * T] += 1.f - used[i];
  return a;
}
}  // namespace

TEST_CASE("activation scores on hand-built patterns", "[roles]") {
  // tokens: 7 8 9 7 8 -> row 3 (7) repeats position 0, row 4 (8) repeats position 1.
  const std::vector<int64_t> tok = {7, 8, 9, 7, 8};
  // A perfect induction head: row 3 on position 1 (after the earlier 7), row 4 on position 2.
  auto ind = Pattern(5, {{3, 1, 1.f}, {4, 2, 1.f}});
  CHECK(library::ActivationScore(HeadRole::kInduction, ind.data(), 5, tok) == Approx(1.0));
  CHECK(library::ActivationScore(HeadRole::kDuplicateToken, ind.data(), 5, tok) == Approx(0.0));
  // Half its mass on the earlier occurrence itself: duplicate 0.5, induction 0.5 in row 3 and 1 in row 4.
  auto mixed = Pattern(5, {{3, 0, 0.5f}, {3, 1, 0.5f}, {4, 2, 1.f}});
  CHECK(library::ActivationScore(HeadRole::kInduction, mixed.data(), 5, tok) == Approx(0.75));
  // Row 3's duplicate is position 0: its 0.5 plus the rest put there (0) -> 0.5; row 4's position 1 gets 0.
  CHECK(library::ActivationScore(HeadRole::kDuplicateToken, mixed.data(), 5, tok) == Approx(0.25));
  // Previous token: rows 1..4 with 1, 0.5, 0, 1 on i - 1.
  auto prev = Pattern(5, {{1, 0, 0.f}, {2, 1, 0.5f}, {4, 3, 1.f}});
  CHECK(library::ActivationScore(HeadRole::kPreviousToken, prev.data(), 5, tok) == Approx((1 + 0.5 + 0 + 1) / 4.0));
  CHECK(library::ActivationScore(HeadRole::kFirstToken, prev.data(), 5, tok) == Approx((1 + 0.5 + 1 + 0) / 4.0));
  // No repeated token: the repetition roles give 0.
  const std::vector<int64_t> distinct = {1, 2, 3, 4, 5};
  CHECK(library::ActivationScore(HeadRole::kInduction, ind.data(), 5, distinct) == 0.0);
  CHECK(library::ActivationScore(HeadRole::kDuplicateToken, ind.data(), 5, distinct) == 0.0);
  // Uniform causal attention is perfectly diffuse.
  std::vector<float> uni(25, 0.f);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j <= i; ++j) uni[i * 5 + j] = 1.f / (i + 1);
  CHECK(library::ActivationScore(HeadRole::kDiffuse, uni.data(), 5, tok) == Approx(1.0));
  CHECK(library::ActivationScore(HeadRole::kDiffuse, ind.data(), 5, tok) == Approx(0.0).margin(1e-6));
}

TEST_CASE("top heads: threshold, layer diversity, a cap of 8, best first", "[roles]") {
  library::LayerHeadScores s = {{0.9, 0.5, 0.1}, {0.2, 0.3, 0.1}, {0.1, 0.1, 0.2}};
  auto t = library::SelectTopHeads(s, 0.4, 0.25);
  REQUIRE(t.size() == 3);  // 0.9, 0.5 above 0.4; layer 1's best 0.3 >= 0.25; layer 2's 0.2 is not
  CHECK((t[0].layer == 0 && t[0].head == 0));
  CHECK((t[1].layer == 0 && t[1].head == 1));
  CHECK((t[2].layer == 1 && t[2].head == 1 && t[2].score == 0.3));
  library::LayerHeadScores many(2, std::vector<double>(8));
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 8; ++h) many[l][h] = 0.5 + 0.01 * (l * 8 + h);
  t = library::SelectTopHeads(many, 0.4, 0.25);
  REQUIRE(t.size() == 8);
  CHECK((t[0].layer == 1 && t[0].head == 7));
  CHECK(t[7].score == Approx(0.5 + 0.01 * 8));
}

TEST_CASE("VerifyPrompt: active heads, no-repetition and no-head reasons, the UI's JSON", "[roles]") {
  std::array<library::LayerHeadScores, library::kNumHeadRoles> s;
  for (auto& r : s) r = {{0.0, 0.0}};
  s[int(HeadRole::kPreviousToken)] = {{0.8, 0.0}};
  s[int(HeadRole::kInduction)] = {{0.0, 0.6}};
  library::HeadCategories c = library::BuildHeadCategories(s, 1, 2);
  REQUIRE(c.Find("previous_token")->top_heads.size() == 1);
  CHECK(c.RolesOf(0, 0) == std::vector<std::string>{"previous_token"});
  CHECK(c.Find("other")->top_heads.empty());  // both heads hold a role
  // Head 0 attends to the previous token, head 1 does induction; tokens 1 2 1 2.
  const int T = 4;
  std::vector<float> p;
  auto h0 = Pattern(T, {{1, 0, 1.f}, {2, 1, 1.f}, {3, 2, 1.f}});
  auto h1 = Pattern(T, {{2, 1, 1.f}, {3, 2, 1.f}});
  p.insert(p.end(), h0.begin(), h0.end());
  p.insert(p.end(), h1.begin(), h1.end());
  auto r = library::VerifyPrompt(c, p.data(), 1, 2, {1, 2, 1, 2});
  CHECK(r.Find("previous_token")->active);
  CHECK(r.Find("induction")->active);
  CHECK(r.Find("induction")->heads[0].activation_score == Approx(1.0));
  CHECK(r.Find("duplicate_token")->reason.find("no head scoring") != std::string::npos);
  const json j = r.ToJson();
  CHECK(j["induction"][0]["is_active"] == true);
  CHECK(j["induction"][0]["layer"] == 0);
  CHECK(j["induction"][0]["head"] == 1);
  CHECK(j["induction"][0]["score"] == Approx(0.6));
  CHECK_FALSE(j["reasons"].contains("induction"));
  // Distinct tokens: induction is not applicable, and says why, instead of a false zero.
  r = library::VerifyPrompt(c, p.data(), 1, 2, {1, 2, 3, 4});
  CHECK_FALSE(r.Find("induction")->applicable);
  CHECK_FALSE(r.Find("induction")->active);
  CHECK(r.ToJson()["reasons"]["induction"].get<std::string>().find("no repeated tokens in your input") == 0);
  CHECK(r.Find("previous_token")->active);
}

TEST_CASE("head_categories.json: broken files are refused naming the file and the problem", "[roles]") {
  test::TempDir dir("categories");
  const fs::path p = dir.path / "head_categories.json";
  const json good = json::parse(io::ReadFile(Demo() / "head_categories.json"));
  auto error_of = [&](const std::string& text, int L = 0, int H = 0) -> std::string {
    io::WriteFileAtomic(p, text);
    try {
      lm::ReadHeadCategories(p, L, H);
    } catch (const io::IoError& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK_THAT(error_of(good.dump().substr(0, 300)), Catch::Contains(p.string()) && Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(good.dump(), 12, 12), Catch::Contains("2 layers x 4 heads") && Catch::Contains("12 x 12"));
  json j = good;
  auto& e = j.begin().value();
  e["categories"]["induction"]["top_heads"][0]["head"] = 4;
  CHECK_THAT(error_of(j.dump()), Catch::Contains("categories.induction.top_heads[0]") && Catch::Contains("[0, 3]"));
  j = good;
  j.begin().value()["all_scores"]["diffuse"][1].erase(0);
  CHECK_THAT(error_of(j.dump()), Catch::Contains("all_scores.diffuse[1] must hold 4 scores"));
  j = good;
  j.begin().value()["categories"].erase("first_token");
  CHECK_THAT(error_of(j.dump()), Catch::Contains("lacks the category \"first_token\""));
  j = good;
  j.begin().value()["all_scores"]["induction"][0][0] = "x";
  CHECK_THAT(error_of(j.dump()), Catch::Contains("must be a finite number"));
  CHECK_THAT(error_of("[]"), Catch::Contains("expected one model entry"));
  // The roles read from the weights.
  j = good;
  j.begin().value()["weight_roles"]["sink_random"][1].erase(3);
  CHECK_THAT(error_of(j.dump()), Catch::Contains("weight_roles.sink_random[1] must hold 4 scores"));
  j = good;
  j.begin().value()["weight_roles"]["sink_random"][0][2] = nullptr;
  CHECK_THAT(error_of(j.dump()), Catch::Contains("weight_roles.sink_random[0][2] must be a finite number"));
  j = good;
  j.begin().value()["weight_roles"]["k"] = -3;
  CHECK_THAT(error_of(j.dump()), Catch::Contains("weight_roles.\"k\" must be an integer"));
  j = good;
  j.begin().value()["categories"].erase("successor");
  CHECK_THAT(error_of(j.dump()), Catch::Contains("lacks the category \"successor\" (nor says"));
  j = good;
  j.begin().value()["weight_roles"]["unavailable"]["copying"] = "no";
  CHECK_THAT(error_of(j.dump()), Catch::Contains("categories.copying is present but"));
  j = good;
  j.begin().value()["weight_roles"] = 3;
  CHECK_THAT(error_of(j.dump()), Catch::Contains("\"weight_roles\" must be an object"));
  // A role the file says could not be computed is left out, with why.
  j = good;
  j.begin().value()["categories"].erase("successor");
  j.begin().value()["all_scores"].erase("successor");
  j.begin().value()["weight_roles"]["unavailable"]["successor"] = "no ordinal sequence";
  io::WriteFileAtomic(p, j.dump());
  const auto c = lm::ReadHeadCategories(p);
  CHECK(c.Find("successor") == nullptr);
  CHECK(c.Unavailable("successor") == "no ordinal sequence");
  CHECK(c.Find("copying") != nullptr);
}

TEST_CASE("the shipped demo LM's categories match an independent forward and its weights", "[roles][lm]") {
  const auto c = lm::ReadHeadCategories(Demo() / "head_categories.json", 2, 4);
  CHECK(c.weights_hash == lm::WeightsHash(Demo()));  // made from the shipped weights
  // Every role's scores recomputed with the float64 forward of
  // hf_reference.py and the numpy detectors (on the same sentences and, for
  // induction and duplicate token, the same random sequences, written out
  // here); the top-head rule re-applied.
  const auto lm = lm::LanguageModel::Open(Demo());
  test::TempDir dir("categories_check");
  const auto seqs = lm::RepeatedTokenPrompts(*lm, c.method.n_repeated, c.method.repeated_half_length, c.method.bos,
                                             c.method.seed);
  io::WriteFileAtomic(dir.path / "repeated.json", json(seqs).dump());
  const std::string cmd = Python() + " " HS_SOURCE_DIR "/tests/analysis/categories_check.py " + Demo().string() +
                          " " HS_SOURCE_DIR "/assets/prompts/natural_sentences.txt " +
                          (dir.path / "repeated.json").string();
  CHECK(std::system(cmd.c_str()) == 0);
  // The heads the trainer's own circuit scores (training.json, another code
  // path, on text repeats) call the best previous-token and induction heads
  // are top heads of those categories.
  const json t = json::parse(io::ReadFile(Demo() / "training.json"));
  auto has = [&](const std::string& key, const json& best) {
    for (const auto& h : c.Find(key)->top_heads)
      if (h.layer == best["layer"].get<int>() && h.head == best["head"].get<int>()) return true;
    return false;
  };
  CHECK(has("induction", t["final"]["induction"]));
  CHECK(has("previous_token", t["final"]["previous_token"]));
}

TEST_CASE("the demo LM's induction heads form when the loss on repeats falls", "[roles][lm]") {
  const lm::RoleFormation f = lm::ReadFormation(Demo() / "role_formation.json");
  REQUIRE(f.steps.size() >= 8);
  REQUIRE(f.repeat_loss.size() == f.steps.size());
  // Olsson et al. (2022): induction heads appear in a phase change that
  // coincides with the drop of the loss on repeated text.
  int ind_step = -1, loss_step = -1;
  for (size_t i = 0; i < f.steps.size(); ++i) {
    if (ind_step < 0 && f.Best(int(i), HeadRole::kInduction) >= 0.25) ind_step = int(i);
    if (loss_step < 0 && f.repeat_loss[i] < 0.5 * f.repeat_loss[0]) loss_step = int(i);
  }
  REQUIRE(ind_step > 0);
  REQUIRE(loss_step > 0);
  CHECK(std::abs(ind_step - loss_step) <= 1);
  CHECK(f.Best(0, HeadRole::kInduction) < 0.1);  // none at initialisation
  CHECK(f.Best(int(f.steps.size()) - 1, HeadRole::kInduction) > 0.4);
}

TEST_CASE("LoadOrCategorize computes, saves and then reuses; other weights are categorised again", "[roles][lm]") {
  test::TempDir dir("categorize");
  const fs::path d = dir.path / "demo";
  fs::create_directories(d);
  for (const char* f : {"config.json", "model.safetensors", "headscope_tokenizer.json"}) fs::copy(Demo() / f, d / f);
  const auto lm = lm::LanguageModel::Open(d);
  std::string note;
  int calls = 0;
  const auto c = lm::LoadOrCategorize(*lm, d, [&](int, int) { return ++calls, true; }, &note);
  CHECK(calls == 70 + 9);  // 50 repeated sequences and 20 sentences; then the OV circuits of 8 heads, and done
  CHECK(c.has_weight_roles);
  CHECK_THAT(note, Catch::Contains("wrote"));
  CHECK(fs::exists(lm::CategoriesPath(d)));
  const auto shipped = lm::ReadHeadCategories(Demo() / "head_categories.json");
  double worst = 0;  // the same scores as `headscope categorize` shipped (thread counts may reorder sums)
  for (size_t k = 0; k < c.categories.size(); ++k)
    for (int l = 0; l < 2; ++l)
      for (int h = 0; h < 4; ++h)
        worst = std::max(worst, std::abs(c.categories[k].all_scores[l][h] - shipped.categories[k].all_scores[l][h]));
  CHECK(worst < 1e-5);
  note.clear();
  lm::LoadOrCategorize(*lm, d, {}, &note);
  CHECK(note.empty());  // reused
  // Cancelling stops at once.
  fs::remove(lm::CategoriesPath(d));
  CHECK_THROWS_AS(lm::LoadOrCategorize(*lm, d, [](int done, int) { return done < 3; }), jobs::Cancelled);
  // A file from before the roles read from the weights gets them added, the attention roles kept as they were.
  {
    json old = lm::HeadCategoriesJson(c);
    json& e = old.begin().value();
    e.erase("weight_roles");
    for (const char* k : {"copying", "copy_suppression", "successor"}) e["categories"].erase(k), e["all_scores"].erase(k);
    e["all_scores"]["previous_token"][0][0] = 0.123;  // marks the attention scores as the file's own
    io::WriteFileAtomic(lm::CategoriesPath(d), old.dump());
    const auto before = lm::ReadHeadCategories(lm::CategoriesPath(d));
    CHECK(!before.has_weight_roles);
    CHECK(before.Find("copying") == nullptr);
    note.clear();
    const auto added = lm::LoadOrCategorize(*lm, d, {}, &note);
    CHECK_THAT(note, Catch::Contains("added the roles read from the weights"));
    CHECK(added.Find("previous_token")->all_scores[0][0] == 0.123);
    REQUIRE(added.Find("copying") != nullptr);
    CHECK(added.Find("copying")->all_scores == c.Find("copying")->all_scores);
    CHECK(lm::ReadHeadCategories(lm::CategoriesPath(d)).has_weight_roles);  // and saved
  }
  // A file for other weights is replaced.
  json j = lm::HeadCategoriesJson(c);
  j.begin().value()["weights_hash"] = "fnv1a64:0000000000000000";
  j.begin().value()["weights_signature"] = "model.safetensors:1:1;";
  io::WriteFileAtomic(lm::CategoriesPath(d), j.dump());
  lm::LoadOrCategorize(*lm, d, {}, &note);
  CHECK_THAT(note, Catch::Contains("other weights"));
}

TEST_CASE("role_formation.json: broken or stale files are refused or recomputed", "[roles][lm]") {
  test::TempDir dir("formation");
  const fs::path d = dir.path / "demo";
  fs::create_directories(d / "checkpoints");
  for (const char* f : {"config.json", "model.safetensors", "headscope_tokenizer.json", "training.json",
                        "head_categories.json"})
    fs::copy(Demo() / f, d / f);
  for (const char* s : {"step_00600", "step_01000"})
    fs::copy(Demo() / "checkpoints" / s, d / "checkpoints" / s, fs::copy_options::recursive);
  const json shipped = json::parse(io::ReadFile(Demo() / "role_formation.json"));
  // The shipped file lists 12 steps; this folder has 2: recomputed for these two.
  io::WriteFileAtomic(d / "role_formation.json", shipped.dump());
  auto model = lm::LoadLmModel(d);
  REQUIRE(model->formation);
  CHECK(model->formation->steps == std::vector<int>{600, 1000});
  CHECK(model->formation->repeat_loss.size() == 2);
  CHECK(model->formation->Best(0, HeadRole::kInduction) < 0.1);
  CHECK(model->formation->Best(1, HeadRole::kInduction) > 0.3);
  // Reader errors name the file and the key.
  const fs::path p = d / "role_formation.json";
  auto error_of = [&](const json& j) -> std::string {
    io::WriteFileAtomic(p, j.dump());
    try {
      lm::ReadFormation(p);
    } catch (const io::IoError& e) {
      return e.what();
    }
    return "no error";
  };
  json j = shipped;
  j.erase("train_loss");
  CHECK_THAT(error_of(j), Catch::Contains(p.string()) && Catch::Contains("not both"));
  j = shipped;
  j["steps"][3] = 0;
  CHECK_THAT(error_of(j), Catch::Contains("not ascending"));
  j = shipped;
  j["roles"]["induction"]["all_scores"][0].erase(1);
  CHECK_THAT(error_of(j), Catch::Contains("roles.induction.all_scores[0]"));
  j = shipped;
  j["repeat_loss"][0] = "x";
  CHECK_THAT(error_of(j), Catch::Contains("repeat_loss"));
  // A broken file is noted and recomputed when the model is loaded.
  io::WriteFileAtomic(p, "{");
  model = lm::LoadLmModel(d);
  CHECK(model->formation);
  CHECK_THAT(model->categories_note, Catch::Contains("role_formation.json") && Catch::Contains("recomputed"));
}
