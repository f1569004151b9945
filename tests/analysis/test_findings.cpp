// Tests: findings rules on synthetic curves with known answers, the progress
// measures on a hand-built logit grid with known frequency content, and the
// progress_measures summary of a real tiny run against a numpy reference.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>

#include "analyzers/findings.h"
#include "analyzers/pipeline.h"
#include "analyzers/progress_analyzer.h"
#include "io/atomic_file.h"
#include "io/npz.h"
#include "io/run_dir.h"
#include "library/progress_measures.h"
#include "model/tensor_io.h"
#include "test_util.h"
#include "families/modadd_task.h"
#include "train/trainer.h"
#include "jobs/thread_policy.h"

using namespace hs;
namespace fs = std::filesystem;

TEST_CASE("crossings of a synthetic accuracy curve land on the known epochs", "[findings]") {
  // acc(e) = 1 / (1 + exp(-(e - 5000) / 300)), evaluated every 10 epochs:
  // it exceeds t at e = 5000 + 300 ln(t / (1 - t)), so the first evaluated
  // epoch above it is that rounded up to the next multiple of 10.
  std::vector<double> x, acc;
  for (int e = 0; e <= 12000; e += 10) x.push_back(e), acc.push_back(1.0 / (1.0 + std::exp(-(e - 5000) / 300.0)));
  for (double t : {0.5, 0.9, 0.99}) {
    const double exact = 5000 + 300 * std::log(t / (1 - t));
    const int want = int(std::floor(exact / 10) + 1) * 10;
    INFO("threshold " << t);
    CHECK(analyzers::FirstAbove(x, acc, t) == want);
  }
  CHECK(analyzers::FirstAbove(x, acc, 1.0) == -1);  // never crossed
  CHECK(analyzers::FirstAbove({}, {}, 0.5) == -1);
}

TEST_CASE("specialization onset is the start of the last run above the threshold", "[findings]") {
  std::vector<double> x, y;
  for (int e = 0; e <= 10000; e += 250) {
    x.push_back(e);
    double v = e >= 6250 ? 0.95 : 0.3;
    if (e >= 2000 && e <= 2500) v = 0.93;  // an early excursion that does not hold
    y.push_back(v);
  }
  CHECK(analyzers::HeldOnset(x, y, 0.9) == 6250);
  y.back() = 0.85;  // the last checkpoint falls back: no held onset
  CHECK(analyzers::HeldOnset(x, y, 0.9) == -1);
  CHECK(analyzers::HeldOnset(x, std::vector<double>(x.size(), 0.97), 0.9) == 0);
}

TEST_CASE("the test-loss cliff and the phases of a synthetic run", "[findings]") {
  // Test loss: rises to 30 at epoch 1400, slowly falls to 20 by 9000, then
  // falls one decade per 100 epochs to 1e-6 and stays there.
  std::vector<double> x, loss;
  for (int e = 0; e <= 20000; e += 10) {
    double l;
    if (e <= 1400) l = 4.7 + (30 - 4.7) * e / 1400.0;
    else if (e <= 9000) l = 30 - 10.0 * (e - 1400) / 7600.0;
    else l = std::max(1e-6, 20 * std::pow(10.0, -(e - 9000) / 100.0));
    x.push_back(e), loss.push_back(l);
  }
  const auto cliff = analyzers::SteepestFall(x, loss, 400);
  CHECK(cliff.start >= 9000);
  CHECK(cliff.end <= 9000 + 100 * std::log10(20 / 1e-6) + 10);
  CHECK(cliff.decades == Approx(4.0).margin(1e-6));  // 400 epochs of one decade per 100
  // Gini of W_L: 0.1 until 9000, then linear to 0.8 at 13000, then flat.
  std::vector<double> gx, gini;
  for (int e = 0; e <= 20000; e += 250) {
    gx.push_back(e);
    gini.push_back(e < 9000 ? 0.1 : e < 13000 ? 0.1 + 0.7 * (e - 9000) / 4000.0 : 0.8);
  }
  const auto ph = analyzers::PhasesOf(x, loss, gx, gini);
  CHECK(ph.memorisation_end == 1400);
  // Below 3 (a tenth of the peak): 20 * 10^(-(e-9000)/100) < 3 from e > 9082.4.
  CHECK(ph.circuit_end == 9090);
  // 95% of the rise from gini(9250) = 0.14375 to 0.8: 0.767..., reached at 12812.5 -> checkpoint 13000.
  CHECK(ph.cleanup_end == 13000);
  // A run that never generalises has no circuit end and no clean-up.
  const std::vector<double> flat(x.size(), 30.0);
  std::vector<double> rising(x.size());
  for (size_t i = 0; i < x.size(); ++i) rising[i] = 10 + x[i] / 1000;
  const auto none = analyzers::PhasesOf(x, rising, gx, gini);
  CHECK(none.memorisation_end == -1);  // test loss still rising at the end
  CHECK(none.circuit_end == -1);
  CHECK(none.cleanup_end == -1);
}

TEST_CASE("restricted and excluded loss of a hand-built logit grid with known frequency content", "[findings][progress]") {
  // logits(a, b, c) = A cos(w3 (a+b-c)) - E cos(w7 (a+b-c)) + D cos(w5 (a-b)) + u(c):
  // frequency 3 points at the answer, 7 away from it, (a-b) is noise.
  // With key frequencies {3}: restricted = A cos(w3(a+b-c)) + u(c) (the other
  // terms have no cos/sin(w3(a+b)) component and average to zero over the
  // grid); excluded = E cos(w7(a+b-c)) + D cos(w5(a-b)) + u(c).
  const int p = 17;
  const double A = 6, E = 2.5, D = 3;
  auto w = [&](int k) { return 2 * M_PI * k / p; };
  auto u = [&](int c) { return 0.3 * std::sin(1.7 * c); };
  std::vector<float> grid(size_t(p) * p * p);
  std::vector<double> want_restricted(grid.size()), want_excluded(grid.size());
  for (int a = 0; a < p; ++a)
    for (int b = 0; b < p; ++b)
      for (int c = 0; c < p; ++c) {
        const size_t i = (size_t(a) * p + b) * p + c;
        const double t3 = A * std::cos(w(3) * (a + b - c)), t7 = -E * std::cos(w(7) * (a + b - c)),
                     t5 = D * std::cos(w(5) * (a - b));
        grid[i] = float(t3 + t7 + t5 + u(c));
        want_restricted[i] = t3 + u(c);
        want_excluded[i] = t7 + t5 + u(c);
      }
  const auto restricted = library::RestrictedLogits(grid.data(), p, {3});
  const auto excluded = library::ExcludedLogits(grid.data(), p, {3});
  double max_r = 0, max_e = 0;
  for (size_t i = 0; i < grid.size(); ++i) {
    max_r = std::max(max_r, std::abs(restricted[i] - want_restricted[i]));
    max_e = std::max(max_e, std::abs(excluded[i] - want_excluded[i]));
  }
  CHECK(max_r < 1e-5);  // the grid is float32
  CHECK(max_e < 1e-5);
  // The losses, against a direct log-sum-exp of the closed forms.
  std::vector<int> all(size_t(p) * p), train;
  for (int i = 0; i < p * p; ++i) all[size_t(i)] = i, (i % 3 == 0 ? train.push_back(i) : void());
  auto ce = [&](const std::vector<double>& g, const std::vector<int>& pairs) {
    double s = 0;
    for (int i : pairs) {
      double z = 0;
      for (int c = 0; c < p; ++c) z += std::exp(g[size_t(i) * p + c]);
      s += std::log(z) - g[size_t(i) * p + (i / p + i % p) % p];
    }
    return s / pairs.size();
  };
  const double r_loss = library::GridCrossEntropy(restricted.data(), p, all);
  const double e_loss = library::GridCrossEntropy(excluded.data(), p, train);
  CHECK(r_loss == Approx(ce(want_restricted, all)).epsilon(1e-6));
  CHECK(e_loss == Approx(ce(want_excluded, train)).epsilon(1e-6));
  // The claim the measures test, on this grid: the key frequency alone solves
  // the task better than the whole grid; removing it leaves a worse model.
  const double full = library::GridCrossEntropy(grid.data(), p, all);
  CHECK(r_loss < full);
  CHECK(e_loss > full);
  // Keeping 3 and 7 restores both (a+b-c) terms.
  const auto both = library::RestrictedLogits(grid.data(), p, {3, 7});
  CHECK(std::abs(both[5] - (want_restricted[5] - E * std::cos(w(7) * (0 + 0 - 5)))) < 1e-5);
  CHECK_THROWS_AS(library::RestrictedLogits(grid.data(), p, {9}), std::invalid_argument);  // k > (p-1)/2
}

TEST_CASE("Gini coefficient and participation ratio on known inputs", "[findings][progress]") {
  CHECK(library::Gini({1, 1, 1, 1}) == Approx(0).margin(1e-12));
  CHECK(library::Gini({0, 0, 0, 1}) == Approx(0.75));  // (n-1)/n for one non-zero of n
  CHECK(library::Gini({1, 2, 3}) == Approx(2.0 / 9.0));  // sum |xi - xj| / (2 n^2 mean) = 8 / 36
  CHECK(library::Gini({0, 0}) == 0);
  CHECK(library::ParticipationRatio({2, 2, 2}) == Approx(3));
  CHECK(library::ParticipationRatio({5, 0, 0}) == Approx(1));
  CHECK(library::ParticipationRatio({}) == 0);
}

TEST_CASE("progress_measures and summary.json of a real tiny run match a numpy reference", "[findings][progress][pipeline]") {
  test::TempDir dir("progress");
  jobs::ConfigureTorchForTraining(1);
  train::TrainConfig c;
  c.p = 13, c.d_model = 32, c.n_heads = 2, c.d_head = 8, c.d_mlp = 40, c.train_frac = 0.5, c.lr = 3e-3;
  c.epochs = 90, c.checkpoint_schedule = "0:30", c.eval_every = 3;
  const fs::path run = dir.path / "modadd_1l" / c.VariantName();
  train::Trainer(c, run).Run();
  analyzers::AnalyzeOptions opt;  // the family's list: progress_measures included
  const auto report = analyzers::AnalyzeRun(run, opt);
  CHECK(report.warnings.empty());
  REQUIRE(fs::exists(run / "artifacts/progress_measures/summary.npz"));
  const auto info = families::LoadRunInfo(run);
  CHECK_NOTHROW(analyzers::ReadValidSummary(*info, "progress_measures"));
  // summary.json: what the rules give on this run's own files.
  const auto j = analyzers::ReadFindings(run);
  CHECK(j["missing"].empty());
  const auto rows = io::ReadMetricsCsv(run / "metrics.csv");
  int memorised = -1;
  for (const auto& r : rows)
    if (r.train_acc > 0.99) { memorised = r.epoch; break; }
  CHECK(j["memorisation_epoch"] == (memorised >= 0 ? nlohmann::json(memorised) : nlohmann::json(nullptr)));
  CHECK(j["heads"].size() == 2);
  CHECK(j["phases"]["memorisation"][0] == 0);
  std::vector<int> keys = analyzers::FinalKeyFrequencies(*info);
  CHECK(j["key_frequencies"].get<std::vector<int>>() == keys);
  // summary.json with fields of the wrong type: refused where it is read, naming the file.
  {
    const std::string good = io::ReadFile(run / "summary.json");
    for (const char* bad : {R"({"run": 3})", R"({"run": "x", "heads": [1, 2]})", R"({"run": "x", "heads": [{"head": 5}]})",
                            R"({"run": "x", "rules": {"a": 1}})", R"({"run": "x", "phases": [1]})", "[]", "{\"run\": "}) {
      INFO(bad);
      io::WriteFileAtomic(run / "summary.json", bad);
      CHECK_THROWS_WITH(analyzers::ReadFindings(run), Catch::Contains("summary.json"));
    }
    io::WriteFileAtomic(run / "summary.json", good);
  }
  // A second pass finds everything current and writes nothing.
  const auto again = analyzers::AnalyzeRun(run, opt);
  CHECK(again.summaries_written == 0);

  // The measures with key frequencies set here (the tiny run has few or none
  // of its own), against the numpy reference.
  const auto epochs = io::ListCheckpointEpochs(run);
  io::WriteNpz(run / "artifacts/progress_measures/summary.npz",
               analyzers::ComputeProgressMeasures(*info, epochs, {2, 5}, 2));
  const auto data = families::MakeModAddData(c.p, c.train_frac, c.data_seed);
  io::WriteNpz(dir.path / "split.npz", {{"train_idx", model::ToArray(data.train_idx.to(torch::kInt64))}});
  const std::string cmd = test::Python() + " " + std::string(HS_SOURCE_DIR) + "/tests/analysis/progress_ref.py " +
                          run.string() + " " + (dir.path / "split.npz").string();
  CHECK(std::system(cmd.c_str()) == 0);
}
