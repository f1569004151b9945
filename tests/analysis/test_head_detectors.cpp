// Tests: head-role detectors (analysis/library/head_detectors) on hand-built
// patterns whose scores are worked out in the comments, and against an
// independent numpy reference of TransformerLens's formulas
// (tests/analysis/head_detector_ref.py) on random patterns.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "library/head_detectors.h"
#include "test_util.h"

using namespace hs;
using namespace hs::library;
namespace fs = std::filesystem;

namespace {

// TransformerLens's own example (demos/Head_Detector_Demo.ipynb, "mul"):
// this pattern against the previous-token detection pattern scores
// (0.5 + 0.3 + 0.5) / 4 = 0.325, and with both exclusions 0.8 / 0.95 ~ 0.842.
const std::vector<float> kTLExample = {1.0f, 0.0f,  0.0f, 0.0f,  //
                                       0.5f, 0.5f,  0.0f, 0.0f,  //
                                       0.2f, 0.3f,  0.5f, 0.0f,  //
                                       0.1f, 0.15f, 0.5f, 0.25f};
const std::vector<int64_t> kFourTokens = {10, 11, 12, 13};

DetectOptions Opts(ErrorMeasure m, bool bos, bool cur) {
  DetectOptions o;
  o.error_measure = m;
  o.exclude_bos = bos;
  o.exclude_current_token = cur;
  return o;
}

std::vector<float> UniformCausal(int T) {
  std::vector<float> a(static_cast<size_t>(T) * T, 0.f);
  for (int i = 0; i < T; ++i)
    for (int j = 0; j <= i; ++j) a[static_cast<size_t>(i) * T + j] = 1.f / (i + 1);
  return a;
}

// Row i attends fully to key target(i).
template <class F>
std::vector<float> OneHot(int T, F target) {
  std::vector<float> a(static_cast<size_t>(T) * T, 0.f);
  for (int i = 0; i < T; ++i) a[static_cast<size_t>(i) * T + target(i)] = 1.f;
  return a;
}

}  // namespace

TEST_CASE("detectors: TransformerLens demo example, mul", "[detectors]") {
  const std::vector<float> d = PreviousTokenPattern(4);
  const float* a = kTLExample.data();
  // No exclusion: sum(A*D) = 0.5 + 0.3 + 0.5 = 1.3, sum(A) = 4 rows of 1 -> 0.325.
  CHECK(AttentionSimilarityScore(a, d.data(), 4, Opts(ErrorMeasure::kMul, false, false)) == Approx(0.325).margin(1e-7));
  // exclude_bos: column 0 gone, sum(A') = 4 - (1 + 0.5 + 0.2 + 0.1) = 2.2;
  // the 0.5 at (1,0) was a match, so 0.3 + 0.5 = 0.8 -> 0.8 / 2.2 = 0.363636.
  CHECK(AttentionSimilarityScore(a, d.data(), 4, Opts(ErrorMeasure::kMul, true, false)) ==
        Approx(0.8 / 2.2).margin(1e-7));
  // exclude_current_token: diagonal 1 + 0.5 + 0.5 + 0.25 gone, sum(A') = 1.75;
  // matches unchanged 1.3 -> 1.3 / 1.75 = 0.742857.
  CHECK(AttentionSimilarityScore(a, d.data(), 4, Opts(ErrorMeasure::kMul, false, true)) ==
        Approx(1.3 / 1.75).margin(1e-7));
  // Both: left are 0.3 (2,1), 0.15 (3,1), 0.5 (3,2): sum 0.95, matches 0.8 -> 0.842105.
  const double both = AttentionSimilarityScore(a, d.data(), 4, Opts(ErrorMeasure::kMul, true, true));
  CHECK(both == Approx(0.8 / 0.95).margin(1e-7));
  CHECK(std::round(both * 1000) / 1000 == Approx(0.842));
  // The same through the role API (the tokens do not matter for previous-token).
  CHECK(HeadRoleScore(HeadRole::kPreviousToken, a, kFourTokens) == Approx(0.325).margin(1e-7));
  CHECK(HeadRoleScore(HeadRole::kPreviousToken, a, kFourTokens, Opts(ErrorMeasure::kMul, true, true)) ==
        Approx(0.8 / 0.95).margin(1e-7));
}

TEST_CASE("detectors: TransformerLens demo example, abs", "[detectors]") {
  const std::vector<float> d = PreviousTokenPattern(4);
  const float* a = kTLExample.data();
  // |A - D| rows: [1 0 0 0] = 1, [0.5 0.5 0 0] = 1, [0.2 0.7 0.5 0] = 1.4,
  // [0.1 0.15 0.5 0.25] = 1.0; total 4.4; score 1 - 4.4 / 4 = -0.1.
  CHECK(AttentionSimilarityScore(a, d.data(), 4, Opts(ErrorMeasure::kAbs, false, false)) == Approx(-0.1).margin(1e-7));
  // exclude_bos drops column 0 of |A-D| (1 + 0.5 + 0.2 + 0.1): 2.6 -> 0.35.
  CHECK(AttentionSimilarityScore(a, d.data(), 4, Opts(ErrorMeasure::kAbs, true, false)) == Approx(0.35).margin(1e-7));
  // exclude_current_token drops the diagonal (1 + 0.5 + 0.5 + 0.25): 2.15 -> 0.4625.
  CHECK(AttentionSimilarityScore(a, d.data(), 4, Opts(ErrorMeasure::kAbs, false, true)) == Approx(0.4625).margin(1e-7));
  // Both: left 0.7 (2,1), 0.15 (3,1), 0.5 (3,2): 1.35 -> 0.6625.
  CHECK(AttentionSimilarityScore(a, d.data(), 4, Opts(ErrorMeasure::kAbs, true, true)) == Approx(0.6625).margin(1e-7));
}

TEST_CASE("detectors: scoring never modifies the pattern", "[detectors]") {
  const std::vector<float> before = kTLExample;
  std::vector<float> a = kTLExample;
  for (HeadRole role : kAllHeadRoles)
    for (auto m : {ErrorMeasure::kMul, ErrorMeasure::kAbs})
      for (bool bos : {false, true})
        for (bool cur : {false, true}) HeadRoleScore(role, a.data(), kFourTokens, Opts(m, bos, cur));
  const std::vector<PromptAttention> prompts = {{a.data(), &kFourTokens}};
  ScoreAllRoles(prompts, 1, 1, Opts(ErrorMeasure::kMul, true, true));
  CHECK(a == before);
}

TEST_CASE("detectors: detection patterns from the tokens", "[detectors]") {
  // tokens A B A B
  const std::vector<int64_t> abab = {7, 8, 7, 8};
  // duplicate: (2,0) and (3,1).
  std::vector<float> dup(16, 0.f);
  dup[2 * 4 + 0] = dup[3 * 4 + 1] = 1.f;
  CHECK(DuplicateTokenPattern(abab) == dup);
  // induction: shifted one right: (2,1) and (3,2).
  std::vector<float> ind(16, 0.f);
  ind[2 * 4 + 1] = ind[3 * 4 + 2] = 1.f;
  CHECK(InductionPattern(abab) == ind);
  CHECK(DetectionPattern(HeadRole::kInduction, abab) == ind);
  // previous: (1,0) (2,1) (3,2).
  std::vector<float> prev(16, 0.f);
  prev[1 * 4 + 0] = prev[2 * 4 + 1] = prev[3 * 4 + 2] = 1.f;
  CHECK(PreviousTokenPattern(4) == prev);
  // Consecutive equal tokens X X: TL's shifted duplicate pattern lands on the
  // diagonal, (1,1).
  const std::vector<int64_t> xx = {5, 5};
  CHECK(DuplicateTokenPattern(xx) == std::vector<float>{0, 0, 1, 0});
  CHECK(InductionPattern(xx) == std::vector<float>{0, 0, 0, 1});
  CHECK_THROWS_AS(DetectionPattern(HeadRole::kDiffuse, abab), std::invalid_argument);
}

TEST_CASE("detectors: a perfect induction head on A B A B", "[detectors]") {
  const std::vector<int64_t> abab = {7, 8, 7, 8};
  // Rows 0 and 1 sit on position 0 (nothing to copy yet), row 2 looks at 1,
  // row 3 at 2.
  const std::vector<float> a = OneHot(4, [](int i) { return i < 2 ? 0 : i - 1; });
  // mul: matches (2,1) + (3,2) = 2 of total 4 -> 0.5; without column 0: 2 / 2 = 1.
  CHECK(HeadRoleScore(HeadRole::kInduction, a.data(), abab) == Approx(0.5));
  CHECK(HeadRoleScore(HeadRole::kInduction, a.data(), abab, Opts(ErrorMeasure::kMul, true, false)) == Approx(1.0));
  // abs: |A-D| is 1 at (0,0) and (1,0), 0 elsewhere: 1 - 2/4 = 0.5; without column 0: 1.
  CHECK(HeadRoleScore(HeadRole::kInduction, a.data(), abab, Opts(ErrorMeasure::kAbs, false, false)) == Approx(0.5));
  CHECK(HeadRoleScore(HeadRole::kInduction, a.data(), abab, Opts(ErrorMeasure::kAbs, true, false)) == Approx(1.0));
  // Duplicate-token: it attends to (2,1), (3,2), not to (2,0), (3,1): 0.
  CHECK(HeadRoleScore(HeadRole::kDuplicateToken, a.data(), abab) == Approx(0.0));
  // Previous-token: (2,1), (3,2) are also previous-token entries, and (1,0): 3/4.
  CHECK(HeadRoleScore(HeadRole::kPreviousToken, a.data(), abab) == Approx(0.75));
}

TEST_CASE("detectors: one prompt and a list of the same prompt score the same, with exclusions", "[detectors]") {
  // A model of 2 layers x 2 heads on A B A B: TL example, perfect induction,
  // uniform, sink.
  const std::vector<int64_t> abab = {7, 8, 7, 8};
  std::vector<std::vector<float>> heads = {kTLExample, OneHot(4, [](int i) { return i < 2 ? 0 : i - 1; }),
                                           UniformCausal(4), OneHot(4, [](int) { return 0; })};
  std::vector<float> model;
  for (const auto& h : heads) model.insert(model.end(), h.begin(), h.end());
  const std::vector<float> before = model;
  for (auto m : {ErrorMeasure::kMul, ErrorMeasure::kAbs})
    for (bool bos : {false, true})
      for (bool cur : {false, true}) {
        const DetectOptions o = Opts(m, bos, cur);
        const PromptAttention p{model.data(), &abab};
        const auto one = ScoreAllRoles({p}, 2, 2, o);
        const auto many = ScoreAllRoles({p, p, p}, 2, 2, o);
        for (HeadRole role : kAllHeadRoles) {
          const int r = static_cast<int>(role);
          REQUIRE(one[r].size() == 2);
          for (int l = 0; l < 2; ++l) {
            REQUIRE(one[r][l].size() == 2);
            for (int h = 0; h < 2; ++h) {
              const double direct = HeadRoleScore(role, heads[l * 2 + h].data(), abab, o);
              INFO(HeadRoleKey(role) << " L" << l << "H" << h << " bos " << bos << " cur " << cur);
              CHECK(one[r][l][h] == Approx(direct).margin(1e-12));
              CHECK(many[r][l][h] == Approx(direct).margin(1e-12));
            }
          }
        }
      }
  CHECK(model == before);
  // The TL example head with both exclusions, in the model: L0H0.
  const auto s = ScoreHeads(HeadRole::kPreviousToken, {{model.data(), &abab}, {model.data(), &abab}}, 2, 2,
                            Opts(ErrorMeasure::kMul, true, true));
  CHECK(s[0][0] == Approx(0.8 / 0.95));
}

TEST_CASE("detectors: averaging over prompts of different lengths", "[detectors]") {
  const std::vector<int64_t> t4 = kFourTokens, t2 = {1, 2};
  const std::vector<float> a2 = {1.f, 0.f, 0.5f, 0.5f};
  // previous-token mul: 0.325 on the first, 0.5 / 2 = 0.25 on the second.
  const auto s = ScoreHeads(HeadRole::kPreviousToken, {{kTLExample.data(), &t4}, {a2.data(), &t2}}, 1, 1);
  CHECK(s[0][0] == Approx((0.325 + 0.25) / 2));
}

TEST_CASE("detectors: first-token and diffuse on uniform and one-hot rows", "[detectors]") {
  const int T = 5;
  // Uniform causal: row i gives 1/(i+1) to each visible key. First-token
  // averages rows 1..4 (row 0 has no choice): (1/2 + 1/3 + 1/4 + 1/5) / 4 =
  // 77/240. Every row's entropy is log(i+1): normalised exactly 1.
  const auto u = UniformCausal(T);
  CHECK(FirstTokenScore(u.data(), T) == Approx(77.0 / 240.0));
  CHECK(DiffuseScore(u.data(), T) == Approx(1.0).margin(1e-6));
  // Everything on position 0 (an attention sink): 1 and 0.
  const auto sink = OneHot(T, [](int) { return 0; });
  CHECK(FirstTokenScore(sink.data(), T) == Approx(1.0));
  CHECK(DiffuseScore(sink.data(), T) == Approx(0.0).margin(1e-12));
  // Previous token (row 0 on itself): only row 1 looks at 0 -> 1/4; one-hot -> 0.
  const auto prev = OneHot(T, [](int i) { return i == 0 ? 0 : i - 1; });
  CHECK(FirstTokenScore(prev.data(), T) == Approx(0.25));
  CHECK(DiffuseScore(prev.data(), T) == Approx(0.0).margin(1e-12));
  // Half on 0, half on itself, for rows 1..4: first 0.5; entropy log 2 over
  // log(i+1): (1 + log2/log3 + 1/2 + log2/log5) / 4.
  std::vector<float> half(T * T, 0.f);
  half[0] = 1.f;
  for (int i = 1; i < T; ++i) half[i * T] = half[i * T + i] = 0.5f;
  CHECK(FirstTokenScore(half.data(), T) == Approx(0.5));
  CHECK(DiffuseScore(half.data(), T) ==
        Approx((1 + std::log(2.0) / std::log(3.0) + 0.5 + std::log(2.0) / std::log(5.0)) / 4));
  // Too short to judge: 0.
  const float one = 1.f;
  CHECK(FirstTokenScore(&one, 1) == 0.0);
  CHECK(DiffuseScore(&one, 1) == 0.0);
  // Through the role API.
  const std::vector<int64_t> toks = {1, 2, 3, 4, 5};
  CHECK(HeadRoleScore(HeadRole::kFirstToken, u.data(), toks) == Approx(77.0 / 240.0));
  CHECK(HeadRoleScore(HeadRole::kDiffuse, u.data(), toks) == Approx(1.0).margin(1e-6));
}

TEST_CASE("detectors: repeated tokens and role metadata", "[detectors]") {
  CHECK_FALSE(HasRepeatedTokens({}));
  CHECK_FALSE(HasRepeatedTokens({1, 2, 3, 4}));
  CHECK(HasRepeatedTokens({1, 2, 3, 1}));
  CHECK(HasRepeatedTokens({9, 9}));
  // A prompt without repeats has all-zero duplicate and induction patterns.
  const std::vector<int64_t> distinct = {1, 2, 3, 4};
  for (float v : InductionPattern(distinct)) CHECK(v == 0.f);
  for (float v : DuplicateTokenPattern(distinct)) CHECK(v == 0.f);
  CHECK(RoleNeedsRepetition(HeadRole::kInduction));
  CHECK(RoleNeedsRepetition(HeadRole::kDuplicateToken));
  CHECK_FALSE(RoleNeedsRepetition(HeadRole::kPreviousToken));
  CHECK_FALSE(RoleNeedsRepetition(HeadRole::kFirstToken));
  CHECK_FALSE(RoleNeedsRepetition(HeadRole::kDiffuse));
  CHECK(HeadRoleKey(HeadRole::kPreviousToken) == "previous_token");
  CHECK(HeadRoleKey(HeadRole::kDuplicateToken) == "duplicate_token");
  CHECK(HeadRoleKey(HeadRole::kInduction) == "induction");
  CHECK(HeadRoleKey(HeadRole::kFirstToken) == "first_token");
  CHECK(HeadRoleKey(HeadRole::kDiffuse) == "diffuse");
}

TEST_CASE("detectors: random patterns agree with the numpy reference of TransformerLens", "[detectors]") {
  test::TempDir dir("head_detector_ref");
  const fs::path out = dir.path / "ref.txt";
  const fs::path log = dir.path / "ref.log";
  const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const std::string cmd = python + " " + std::string(HS_SOURCE_DIR) + "/tests/analysis/head_detector_ref.py " +
                          out.string() + " > " + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  INFO("command: " << cmd);
  REQUIRE(rc == 0);
  std::ifstream in(out);
  int n_cases = 0;
  REQUIRE(in >> n_cases);
  REQUIRE(n_cases >= 5);
  const HeadRole pattern_roles[] = {HeadRole::kPreviousToken, HeadRole::kDuplicateToken, HeadRole::kInduction};
  const std::pair<bool, bool> exclusions[] = {{false, false}, {true, false}, {false, true}, {true, true}};
  int compared = 0;
  double worst = 0;
  for (int c = 0; c < n_cases; ++c) {
    int T = 0;
    REQUIRE(in >> T);
    std::vector<int64_t> tokens(T);
    for (auto& t : tokens) REQUIRE(in >> t);
    std::vector<float> a(static_cast<size_t>(T) * T);
    for (auto& x : a) REQUIRE(in >> x);
    for (HeadRole role : pattern_roles)
      for (auto m : {ErrorMeasure::kMul, ErrorMeasure::kAbs})
        for (auto [bos, cur] : exclusions) {
          double ref = 0;
          REQUIRE(in >> ref);
          const double got = HeadRoleScore(role, a.data(), tokens, Opts(m, bos, cur));
          INFO("case " << c << " T " << T << " " << HeadRoleKey(role) << (m == ErrorMeasure::kMul ? " mul" : " abs")
                       << " bos " << bos << " cur " << cur);
          CHECK(std::abs(got - ref) <= 1e-6);
          worst = std::max(worst, std::abs(got - ref));
          ++compared;
        }
    double ref_first = 0, ref_diffuse = 0;
    REQUIRE(in >> ref_first >> ref_diffuse);
    CHECK(std::abs(FirstTokenScore(a.data(), T) - ref_first) <= 1e-6);
    CHECK(std::abs(DiffuseScore(a.data(), T) - ref_diffuse) <= 1e-6);
    worst = std::max(
        {worst, std::abs(FirstTokenScore(a.data(), T) - ref_first), std::abs(DiffuseScore(a.data(), T) - ref_diffuse)});
    compared += 2;
  }
  WARN("numpy reference: " << compared << " scores compared, worst |diff| " << worst);
  CHECK(compared == n_cases * 26);
}

TEST_CASE("detectors: the pattern without the sink renormalises each row over the other keys", "[detectors][sink]") {
  // A causal pattern that puts 0.9 on key 0 and spreads 0.1 over the rest
  // as 1 : 2 : 3 ...: without the first key, row i is j / (1 + ... + i).
  const int T = 6;
  std::vector<float> a(size_t(T) * T, 0.f);
  for (int i = 0; i < T; ++i) {
    a[size_t(i) * T] = i == 0 ? 1.f : 0.9f;
    const double tri = i * (i + 1) / 2.0;
    for (int j = 1; j <= i; ++j) a[size_t(i) * T + j] = float(0.1 * j / tri);
  }
  a[size_t(3) * T] = 1.f;  // row 3 gives everything to key 0
  for (int j = 1; j <= 3; ++j) a[size_t(3) * T + j] = 0.f;
  const std::vector<float> full = WithoutFirstKey(a.data(), T, 0, T, 0, T);
  for (int i = 0; i < T; ++i) {
    INFO("row " << i);
    CHECK(std::isnan(full[size_t(i) * T]));  // the first key's column
    if (i == 0 || i == 3) {                  // nothing left to show
      for (int j = 0; j < T; ++j) CHECK(std::isnan(full[size_t(i) * T + j]));
      continue;
    }
    double sum = 0;
    for (int j = 1; j <= i; ++j) {
      CHECK(full[size_t(i) * T + j] == Approx(j / (i * (i + 1) / 2.0)).epsilon(1e-6));
      sum += full[size_t(i) * T + j];
    }
    CHECK(sum == Approx(1.0).epsilon(1e-6));
    for (int j = i + 1; j < T; ++j) CHECK(full[size_t(i) * T + j] == 0.f);  // the causal zeros stay
  }
  // A window is the same cells as the whole.
  const std::vector<float> w = WithoutFirstKey(a.data(), T, 2, 3, 1, 4);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) {
      const float x = w[size_t(r) * 4 + c], y = full[size_t(2 + r) * T + 1 + c];
      CHECK(((std::isnan(x) && std::isnan(y)) || x == y));
    }
  CHECK(a[size_t(1) * T] == 0.9f);  // the input is untouched
  CHECK_THROWS_AS(WithoutFirstKey(a.data(), T, 4, 3, 0, T), std::invalid_argument);
}
