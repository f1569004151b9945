// Attention plasticity on synthetic queries and keys where the
// answer is known: planted regression coefficients, the Householder
// reflection, plasticity 1 for keys that differ only where queries carry no
// mean, plasticity 0 for keys far apart along the query mean, KS p-values of
// Gaussian samples roughly uniform, the GQA mapping, and the config reader.
#include <catch2/catch.hpp>

#include <cmath>
#include <nlohmann/json.hpp>
#include <functional>
#include <random>

#include "io/atomic_file.h"
#include "io/npz.h"
#include "library/plasticity.h"
#include "lm/qk_capture.h"
#include "test_util.h"
#include "lm/plasticity_files.h"

namespace fs = std::filesystem;
using namespace hs;
namespace pl = library::plasticity;
using Eigen::MatrixXd;
using Eigen::VectorXd;

TEST_CASE("the position regression recovers planted alpha and beta", "[plasticity]") {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0.0, 0.1);
  const int n = 4000, d = 5;
  VectorXd alpha(d), beta(d), t(n);
  alpha << 1.0, -2.0, 0.5, 0.0, 3.0;
  beta << 0.01, 0.0, -0.02, 0.005, 0.0;
  MatrixXd X(n, d);
  for (int i = 0; i < n; ++i) {
    t(i) = i % 500;
    for (int j = 0; j < d; ++j) X(i, j) = alpha(j) + beta(j) * t(i) + noise(rng);
  }
  const pl::LinearFit f = pl::FitOnPosition(t, X);
  for (int j = 0; j < d; ++j) {
    CHECK(f.alpha(j) == Approx(alpha(j)).margin(0.01));
    CHECK(f.beta(j) == Approx(beta(j)).margin(5e-5));
  }
  // R^2: high where the slope dominates the noise, ~0 where there is no slope.
  CHECK(f.r2(0) > 0.95);
  CHECK(std::abs(f.r2(1)) < 0.01);
  CHECK(f.r2_overall == Approx(f.r2.mean()));
  // Constant positions: no slope, the means.
  const pl::LinearFit c = pl::FitOnPosition(VectorXd::Constant(n, 7.0), X);
  CHECK(c.beta.norm() == 0);
  CHECK(c.alpha(4) == Approx(X.col(4).mean()));
}

TEST_CASE("H is orthogonal and maps e1 to beta's direction (and beta to |beta| e1)", "[plasticity]") {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> g(0.0, 1.0);
  for (int d : {1, 2, 7, 64}) {
    VectorXd beta(d);
    for (int j = 0; j < d; ++j) beta(j) = g(rng);
    const MatrixXd H = pl::HouseholderToBeta(beta);
    CHECK((H * H.transpose() - MatrixXd::Identity(d, d)).norm() < 1e-12);
    CHECK((H - H.transpose()).norm() < 1e-12);
    CHECK((H.col(0) - beta / beta.norm()).norm() < 1e-12);
    // Rows rotate as X H: beta^T H = |beta| e1^T.
    VectorXd rotated = H.transpose() * beta;
    CHECK(rotated(0) == Approx(beta.norm()));
    CHECK(rotated.tail(d - 1).norm() < 1e-10);
  }
  CHECK(pl::HouseholderToBeta(VectorXd::Zero(3)).isIdentity());
  VectorXd e1 = VectorXd::Zero(3);
  e1(0) = 2.0;
  CHECK(pl::HouseholderToBeta(e1).isIdentity());
}

namespace {
// A synthetic head: queries q = (a0 + b0 * pos, mean + N(0, 1) per semantic
// dimension); keys given per row; positions 0..T-1 per example.
struct Synthetic {
  int d = 4, T = 64, examples = 40;
  std::vector<float> q, k;
  std::vector<int32_t> pos, ex;
  pl::HeadInput Input() const {
    pl::HeadInput in;
    in.d = d, in.n_q = in.n_k = int(pos.size());
    in.q = q.data(), in.k = k.data();
    in.q_position = in.k_position = pos.data();
    in.k_example = ex.data();
    return in;
  }
};

Synthetic MakeHead(const std::vector<double>& semantic_mean, const std::function<std::vector<double>(int, int)>& key) {
  Synthetic s;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> g(0.0, 1.0);
  for (int e = 0; e < s.examples; ++e)
    for (int p = 0; p < s.T; ++p) {
      s.pos.push_back(p), s.ex.push_back(e);
      s.q.push_back(float(0.5 + 0.05 * p + 0.1 * g(rng)));
      for (int j = 1; j < s.d; ++j) s.q.push_back(float(semantic_mean[j - 1] + g(rng)));
      for (double v : key(e, p)) s.k.push_back(float(v));
    }
  return s;
}
}  // namespace

TEST_CASE("plasticity is 1 for keys that differ only orthogonally to the query mean", "[plasticity]") {
  // Queries carry no mean in dimensions 1..3; keys differ only there (random
  // per key), and share the positional component: every pair is a coin flip.
  std::mt19937_64 rng(2);
  std::normal_distribution<double> g(0.0, 1.0);
  const Synthetic s = MakeHead({0, 0, 0}, [&](int, int) { return std::vector<double>{1.0, g(rng), g(rng), g(rng)}; });
  pl::Config cfg;
  const pl::HeadResult r = pl::AnalyzeHead(s.Input(), cfg);
  REQUIRE(std::isfinite(r.ap_overall));
  CHECK(r.ap_overall > 0.97);
  for (const auto& c : r.cells) {
    CHECK(c.q_bucket > c.k_bucket);
    if (std::isfinite(c.plasticity)) CHECK(c.plasticity > 0.9);
  }
}

TEST_CASE("plasticity is 0 for keys that differ along the query mean", "[plasticity]") {
  // Queries have mean 10 in dimension 1 (unit noise); keys differ only there
  // (0.1 per position). For any two keys, z = sign(dk_1) * 10: the order of
  // the two keys is fixed, whatever the query's noise.
  const Synthetic s = MakeHead({10, 0, 0}, [&](int, int p) { return std::vector<double>{1.0, 0.1 * p, 0.0, 0.0}; });
  const pl::HeadResult r = pl::AnalyzeHead(s.Input(), pl::Config{});
  REQUIRE(std::isfinite(r.ap_overall));
  CHECK(r.ap_overall < 1e-6);
  int cells = 0;
  for (const auto& c : r.cells) {
    if (!std::isfinite(c.plasticity)) continue;
    ++cells;
    CHECK(c.plasticity < 1e-6);
    CHECK(c.n_pairs > 0);
  }
  CHECK(cells >= 10);  // query buckets 1..5, every earlier key bucket
  // The same keys with the query mean moved to a dimension where the keys
  // agree: every pair is a coin flip again.
  const Synthetic t = MakeHead({0, 10, 0}, [&](int, int p) { return std::vector<double>{1.0, 0.1 * p, 0.0, 0.0}; });
  CHECK(pl::AnalyzeHead(t.Input(), pl::Config{}).ap_overall > 0.9);
}

TEST_CASE("KS p-values of Gaussian samples are roughly uniform, of non-Gaussian ones small", "[plasticity]") {
  std::mt19937_64 rng(9);
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  // Against the known N(0, 1): uniform p-values.
  std::vector<double> ps, std_ps;
  for (int rep = 0; rep < 300; ++rep) {
    std::vector<double> x(400);
    for (double& v : x) v = g(rng);
    ps.push_back(pl::KsPValueStandardNormal(x));
    for (double& v : x) v = 3.0 + 2.0 * v;  // NormalityOf standardises with the sample's own mean and sd
    std_ps.push_back(pl::NormalityOf(x).ks_p);
  }
  auto summary = [](const std::vector<double>& p, double* mean, int* below_005, int* below_05) {
    *mean = 0, *below_005 = 0, *below_05 = 0;
    for (double v : p) *mean += v / p.size(), *below_005 += v < 0.05, *below_05 += v < 0.5;
  };
  double mean;
  int below_005, below_05;
  summary(ps, &mean, &below_005, &below_05);
  INFO("known N(0,1): mean p " << mean << ", below 0.05: " << below_005 << ", below 0.5: " << below_05);
  CHECK(mean == Approx(0.5).margin(0.06));
  CHECK(below_005 >= 3);
  CHECK(below_005 <= 30);  // 5% of 300 = 15
  CHECK(below_05 >= 120);
  CHECK(below_05 <= 180);
  // Standardised as the method does: conservative (Lilliefors), never systematically small.
  summary(std_ps, &mean, &below_005, &below_05);
  INFO("standardised: mean p " << mean << ", below 0.05: " << below_005);
  CHECK(mean > 0.6);
  CHECK(below_005 <= 6);
  // Exponential samples are not normal.
  std::vector<double> e(400);
  for (double& v : e) v = -std::log(1 - u(rng));
  const pl::Moments m = pl::NormalityOf(e);
  CHECK(m.ks_p < 1e-4);
  CHECK(m.skew > 1.0);  // exponential: skewness 2
  // scipy: skew([1,2,3,4,5], bias=False) = 0, kurtosis(..., bias=False) = -1.2
  const pl::Moments five = pl::NormalityOf({1, 2, 3, 4, 5});
  CHECK(five.skew == Approx(0.0).margin(1e-12));
  CHECK(five.kurt == Approx(-1.2));
}

TEST_CASE("degenerate heads: one dimension, constant components, non-finite values", "[plasticity]") {
  // d = 1: no semantic dimensions; noise statistics are NaN (not measured).
  const Synthetic s1 = [] {
    Synthetic s;
    s.d = 1;
    std::mt19937_64 rng(1);
    std::normal_distribution<double> g(0.0, 1.0);
    for (int e = 0; e < 10; ++e)
      for (int p = 0; p < 32; ++p)
        s.pos.push_back(p), s.ex.push_back(e), s.q.push_back(float(0.1 * p + g(rng))), s.k.push_back(float(g(rng)));
    return s;
  }();
  const pl::HeadResult r1 = pl::AnalyzeHead(s1.Input(), pl::Config{});
  CHECK(std::isnan(r1.noise_med_ks_p));
  CHECK(std::isfinite(r1.ap_overall));
  CHECK(r1.component_weight == std::vector<double>{1.0});
  // A constant query component carries no positional information.
  Synthetic s2 = MakeHead({0, 0, 0}, [](int, int p) { return std::vector<double>{1.0, 0.1 * p, 0.0, 0.0}; });
  for (size_t i = 0; i < s2.pos.size(); ++i) s2.q[i * 4 + 3] = 2.5f;
  const pl::HeadResult r2 = pl::AnalyzeHead(s2.Input(), pl::Config{});
  CHECK(r2.component_r2[3] == 0.0);
  CHECK(r2.component_weight[0] > 0.9);
  // A NaN is refused in words.
  s2.q[5] = NAN;
  CHECK_THROWS_WITH(pl::AnalyzeHead(s2.Input(), pl::Config{}), Catch::Contains("not a finite number"));
  // The pool passes a head's error up naming the head.
  pl::HeadInput bad = s2.Input();
  bad.layer = 3, bad.q_head = 2;
  CHECK_THROWS_WITH(pl::AnalyzeHeads({s1.Input(), bad}, pl::Config{}),
                    Catch::Contains("layer 3 head 2") && Catch::Contains("not a finite number"));
  // Cancelling stops.
  CHECK_THROWS_WITH(pl::AnalyzeHeads({s1.Input(), s1.Input(), s1.Input()}, pl::Config{},
                                     [](int, int) { return false; }),
                    Catch::Contains("cancelled"));
}

TEST_CASE("GQA: query heads read key head floor(h / (n_q / n_kv))", "[plasticity]") {
  CHECK(lm::KeyHeadOf(0, 8, 2) == 0);
  CHECK(lm::KeyHeadOf(3, 8, 2) == 0);
  CHECK(lm::KeyHeadOf(4, 8, 2) == 1);
  CHECK(lm::KeyHeadOf(7, 8, 2) == 1);
  CHECK(lm::KeyHeadOf(5, 6, 6) == 5);
  lm::QKSample s;
  s.n_layers = 2, s.n_q_heads = 4, s.n_k_heads = 2, s.d_head = 3;
  s.position = {0, 1, 2}, s.example = {0, 0, 0};
  s.q.assign(8, std::vector<float>(9, 0.f));
  s.k.assign(4, std::vector<float>(9, 0.f));
  const auto in = lm::PlasticityInputs(s);
  REQUIRE(in.size() == 8);
  for (const auto& h : in) {
    CHECK(h.k_head == h.q_head / 2);
    CHECK(h.k == s.K(h.layer, h.q_head / 2));
    CHECK(h.q == s.Q(h.layer, h.q_head));
  }
  CHECK(lm::PositionBucket(0) == 0);
  CHECK(lm::PositionBucket(1) == 0);
  CHECK(lm::PositionBucket(2) == 1);
  CHECK(lm::PositionBucket(3) == 1);
  CHECK(lm::PositionBucket(4) == 2);
  CHECK(lm::PositionBucket(1023) == 9);
}

TEST_CASE("plasticity config: defaults, overrides, and errors naming the file", "[plasticity]") {
  const pl::Config d = pl::ConfigFromJson(nlohmann::json::object(), "c.json");
  CHECK(d.max_tokens_per_head == 50000);
  CHECK(d.normality_max_dims == 64);
  CHECK(d.p_alpha == 0.01);
  CHECK(d.num_pairs_per_bucket == 256);
  const pl::Config o = pl::ConfigFromJson({{"seed", 7}, {"p_alpha", 0.05}}, "c.json");
  CHECK(o.seed == 7);
  CHECK(o.p_alpha == 0.05);
  CHECK_THROWS_WITH(pl::ConfigFromJson({{"seeds", 7}}, "c.json"), Catch::Contains("c.json") && Catch::Contains("seeds"));
  CHECK_THROWS_WITH(pl::ConfigFromJson({{"p_alpha", 2}}, "c.json"), Catch::Contains("p_alpha"));
  CHECK_THROWS_WITH(pl::ConfigFromJson({{"output_csv", "../x.csv"}}, "c.json"), Catch::Contains("file name"));
  CHECK_THROWS_WITH(pl::ConfigFromJson({{"max_tokens_per_head", "many"}}, "c.json"),
                    Catch::Contains("max_tokens_per_head"));
  CHECK_THROWS_WITH(pl::ConfigFromJson({{"bucket_csv", "head_metrics.csv"}}, "c.json"),
                    Catch::Contains("three different names"));
  CHECK_THROWS_WITH(pl::ConfigFromJson({{"component_csv", ".."}}, "c.json"), Catch::Contains("file name"));
}

namespace {
using test::Python;
}  // namespace

TEST_CASE("a demo-LM head's plasticity metrics agree with an independent numpy computation", "[plasticity][lm]") {
  const auto model = lm::LanguageModel::Open(test::DemoLm());
  lm::QKCaptureOptions o;
  o.max_tokens = 1500;  // 12 examples: small enough for numpy to enumerate every key pair
  const lm::QKSample s = lm::CaptureQK(*model, o);
  REQUIRE(s.n() == 1500);
  CHECK(s.position[0] == 0);
  CHECK(s.example.back() == 11);
  const auto inputs = lm::PlasticityInputs(s);
  REQUIRE(inputs.size() == 8);
  test::TempDir dir("plasticity_ref");
  const pl::Config cfg;
  std::vector<pl::HeadResult> results;
  for (int h : {1 * 4 + 1, 0 * 4 + 3}) results.push_back(pl::AnalyzeHead(inputs[h], cfg));
  lm::WritePlasticityCsvs(dir.path, cfg, results);
  for (const auto& r : results) {
    const int n = s.n(), d = s.d_head;
    std::vector<int64_t> pos(s.position.begin(), s.position.end()), ex(s.example.begin(), s.example.end());
    const fs::path npz = dir.path / ("head_" + std::to_string(r.layer) + "_" + std::to_string(r.q_head) + ".npz");
    io::WriteNpz(npz, {{"q", io::Array::F32({n, d}, s.Q(r.layer, r.q_head))},
                       {"k", io::Array::F32({n, d}, s.K(r.layer, r.k_head))},
                       {"position", io::Array::I64({n}, pos)},
                       {"example", io::Array::I64({n}, ex)}});
    const std::string cmd = Python() + " " HS_SOURCE_DIR "/tests/analysis/plasticity_ref.py " + npz.string() + " " +
                            dir.path.string() + " " + std::to_string(r.layer) + " " + std::to_string(r.q_head);
    CHECK(std::system(cmd.c_str()) == 0);
  }
  // The CSVs read back as written (every field, %.17g round trips).
  const auto back = lm::ReadPlasticityCsvs(dir.path);
  REQUIRE(back.size() == 2);  // sorted by layer, then head: L0H3, L1H1
  CHECK(back[1].ap_overall == results[0].ap_overall);
  CHECK(back[1].cells.size() == results[0].cells.size());
  CHECK(back[0].component_weight == results[1].component_weight);
}

TEST_CASE("plasticity CSVs: broken files are refused naming the file and the line", "[plasticity]") {
  test::TempDir dir("plasticity_csv");
  for (const char* f : {"head_metrics.csv", "head_bucket_plasticity.csv", "head_component_weights.csv"})
    fs::copy(test::DemoLm() / "plasticity" / f, dir.path / f);
  REQUIRE(lm::ReadPlasticityCsvs(dir.path).size() == 8);
  const fs::path m = dir.path / "head_metrics.csv", b = dir.path / "head_bucket_plasticity.csv";
  const std::string good_m = io::ReadFile(m), good_b = io::ReadFile(b);
  auto error_of = [&] {
    try {
      lm::ReadPlasticityCsvs(dir.path);
    } catch (const io::IoError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  io::WriteFileAtomic(m, good_m.substr(0, good_m.size() / 2));  // cut mid-row
  CHECK_THAT(error_of(), Catch::Contains(m.string()) && Catch::Contains("fields, expected 19"));
  io::WriteFileAtomic(m, "layer,head\n");
  CHECK_THAT(error_of(), Catch::Contains("line 1 is not the header"));
  std::string t = good_m;
  t.replace(t.find("\n0,1,1,") + 7, 5, "abcde");
  io::WriteFileAtomic(m, t);
  CHECK_THAT(error_of(), Catch::Contains("line 3") && Catch::Contains("not a number"));
  io::WriteFileAtomic(m, good_m);
  io::WriteFileAtomic(b, good_b + "9,9,9,1,0,0.5,256\n");
  CHECK_THAT(error_of(), Catch::Contains(b.string()) && Catch::Contains("a head that head_metrics.csv lacks"));
  io::WriteFileAtomic(b, good_b + "0,0,0,1,3,0.5,256\n");
  CHECK_THAT(error_of(), Catch::Contains("k_bucket >= q_bucket"));
  io::WriteFileAtomic(b, good_b + "0,0,0,6,0,0.5,256\n");  // the demo's (6, 0) cell again
  CHECK_THAT(error_of(), Catch::Contains("a second row for the same bucket pair"));
  io::WriteFileAtomic(b, good_b + "0,0,0,7,0,1.5,256\n");
  CHECK_THAT(error_of(), Catch::Contains("plasticity must be in [0, 1]"));
  io::WriteFileAtomic(b, good_b);
  const fs::path c = dir.path / "head_component_weights.csv";
  const std::string good_c = io::ReadFile(c);
  io::WriteFileAtomic(c, good_c.substr(0, good_c.rfind('\n', good_c.size() - 2) + 1));  // the last row gone
  CHECK_THAT(error_of(), Catch::Contains("31 component rows, expected d_model = 32"));
  io::WriteFileAtomic(c, good_c);
  fs::remove(b);
  CHECK_THAT(error_of(), Catch::Contains("file not found"));
}

TEST_CASE("captured queries and keys of a GQA model reproduce its attention patterns", "[plasticity][hf]") {
  // The llama fixture (4 query heads, 2 key/value heads, rotary with Llama 3
  // scaling) of hf_reference.py, with the byte tokenizer beside it: softmax
  // of q_h . k_{h / 2} / sqrt(d_head) over the causal keys must be the
  // model's pattern of head h, so the post-rotary vectors and the key head
  // the plasticity analysis pairs with each query head are the model's own.
  test::TempDir dir("pl_gqa");
  const std::string cmd = Python() + " " HS_SOURCE_DIR "/tests/analysis/hf_reference.py " + dir.path.string() +
                          " llama > " + (dir.path / "log.txt").string() + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const fs::path m = dir.path / "llama";
  fs::copy(test::DemoLm() / "headscope_tokenizer.json", m / "headscope_tokenizer.json");
  const auto model = lm::LanguageModel::Open(m);
  const auto& c = model->cfg();
  REQUIRE(c.NumKVHeads() < c.n_heads);
  std::vector<int64_t> tokens;
  for (int t = 0; t < 12; ++t) tokens.push_back((t * 7 + 3) % c.d_vocab);
  std::vector<io::Array> q, k;
  model->QueriesKeys(tokens, &q, &k);
  const io::Array pat = model->Patterns(tokens);
  const int T = int(tokens.size()), H = c.n_heads, KV = c.NumKVHeads(), E = c.d_head;
  auto worst_error = [&](const std::function<int(int)>& key_head) {
    double worst = 0;
    for (int l = 0; l < c.n_layers; ++l)
      for (int h = 0; h < H; ++h) {
        const int g = key_head(h);
        for (int i = 0; i < T; ++i) {
          std::vector<double> s(size_t(i) + 1);
          double mx = -1e300, z = 0;
          for (int j = 0; j <= i; ++j) {
            double dot = 0;
            for (int e = 0; e < E; ++e)
              dot += double(q[l].data<float>()[(size_t(i) * H + h) * E + e]) * k[l].data<float>()[(size_t(j) * KV + g) * E + e];
            s[j] = dot / std::sqrt(double(E));
            mx = std::max(mx, s[j]);
          }
          for (double& v : s) z += (v = std::exp(v - mx));
          for (int j = 0; j <= i; ++j) {
            const double got = pat.data<float>()[((size_t(l) * H + h) * T + i) * T + j];
            worst = std::max(worst, std::abs(got - s[j] / z));
          }
        }
      }
    return worst;
  };
  CHECK(worst_error([&](int h) { return lm::KeyHeadOf(h, H, KV); }) < 1e-5);
  CHECK(worst_error([&](int h) { return h % KV; }) > 1e-2);  // tiled instead of grouped: wrong, and visibly so
}
