// Attribution patching against exact ablation, for every head of a model, in
// one process: the time of one clean forward (the reference), of attribution
// (one forward and one backward), of exact ablation of every head alone
// (CleanRun: each recomputed from its layer), and the rank correlation of
// the two estimates of each head's mean loss rise.
//
//   bench_attribution DIR [DIR...] [--tokens 64] [--reps 3]
//
// The prompt: the demo LM (byte tokenizer) gets "The cat sat on the mat. ..."
// repeated to --tokens; other folders get --tokens/2 random ids twice (so
// induction has something to do). Mean ablation when the folder's means can
// be computed (it has a tokenizer), zero ablation always.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "jobs/thread_policy.h"
#include "lm/interventions.h"
#include "lm/role_checks.h"

namespace fs = std::filesystem;
using namespace hs;

namespace {
double Ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void Bench(const fs::path& dir, int T, int reps) {
  const auto lm = lm::LanguageModel::Open(dir);
  const auto& c = lm->cfg();
  std::vector<int64_t> tokens;
  if (lm->tokenizer().Kind() != "ids" && c.d_vocab <= 300) {
    std::string text;
    while (int(text.size()) < T) text += "The cat sat on the mat. ";
    tokens = lm->Encode(text, lm->DefaultBos());
    tokens.resize(size_t(std::min<int64_t>(T, c.n_ctx)));
  } else {
    std::mt19937 rng(5);
    std::uniform_int_distribution<int64_t> d(0, c.d_vocab - 1);
    std::vector<int64_t> half(size_t(T / 2));
    for (auto& t : half) t = d(rng);
    tokens = half;
    tokens.insert(tokens.end(), half.begin(), half.end());
  }
  std::printf("\n%s: %d layers x %d heads, d_model %d, %zu tokens\n", dir.string().c_str(), c.n_layers, c.n_heads,
              int(c.d_model), tokens.size());
  std::vector<double> fwd;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    lm::TokenLosses(*lm, tokens);
    fwd.push_back(Ms(t0));
  }
  std::sort(fwd.begin(), fwd.end());
  const double f = fwd[fwd.size() / 2];
  std::printf("  one forward (reference)            %8.1f ms\n", f);
  std::shared_ptr<const lm::ActivationMeans> means;
  try {
    if (lm->tokenizer().Kind() != "ids") means = lm::LoadOrComputeMeans(*lm, dir);
  } catch (const std::exception& e) {
    std::printf("  (no means: %s)\n", e.what());
  }
  for (lm::AblationMode mode : {lm::AblationMode::kZero, lm::AblationMode::kMean}) {
    if (mode == lm::AblationMode::kMean && !means) continue;
    std::vector<double> at;
    lm::HeadAttribution a;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      a = lm::AttributeHeads(*lm, tokens, mode, means);
      at.push_back(Ms(t0));
    }
    std::sort(at.begin(), at.end());
    const auto t0 = std::chrono::steady_clock::now();
    const lm::CleanRun run(*lm, tokens);
    std::vector<double> exact, estimate;
    for (int l = 0; l < c.n_layers; ++l)
      for (int h = 0; h < c.n_heads; ++h) {
        lm::Intervention iv;
        iv.mode = mode, iv.means = means, iv.heads = {{l, h}};
        const auto loss = run.Losses(iv);
        double s = 0;
        for (size_t i = 0; i < loss.size(); ++i) s += loss[i] - run.losses()[i];
        exact.push_back(s / double(loss.size()));
        estimate.push_back(a.Total(0, l, h) / double(loss.size()));
      }
    const double ex = Ms(t0);
    // Agreement on the heads that matter: of the exact top 10%, how many attribution's top 10% holds.
    const size_t k = std::max<size_t>(1, exact.size() / 10);
    std::vector<size_t> ie(exact.size()), ia(exact.size());
    for (size_t i = 0; i < ie.size(); ++i) ie[i] = ia[i] = i;
    std::sort(ie.begin(), ie.end(), [&](size_t x, size_t y) { return exact[x] > exact[y]; });
    std::sort(ia.begin(), ia.end(), [&](size_t x, size_t y) { return estimate[x] > estimate[y]; });
    size_t both = 0;
    for (size_t i = 0; i < k; ++i)
      both += std::find(ia.begin(), ia.begin() + long(k), ie[i]) != ia.begin() + long(k);
    std::printf("  %-5s attribution (fwd + bwd)       %8.1f ms = %5.2f forwards\n", lm::ModeName(mode), at[at.size() / 2],
                at[at.size() / 2] / f);
    std::printf("  %-5s exact, %4d heads alone        %8.1f ms = %5.1f forwards\n", lm::ModeName(mode),
                c.n_layers * c.n_heads, ex, ex / f);
    std::printf("  %-5s rank correlation (Spearman)  %8.3f; top %zu by exact found in attribution's top %zu: %zu\n",
                lm::ModeName(mode), lm::RankCorrelation(exact, estimate), k, k, both);
    std::printf("  %-5s largest exact rise: L%zuH%zu %+.4f nats (attribution %+.4f)\n", lm::ModeName(mode),
                ie[0] / size_t(c.n_heads), ie[0] % size_t(c.n_heads), exact[ie[0]], estimate[ie[0]]);
  }
}
}  // namespace

int main(int argc, char** argv) {
  int T = 64, reps = 3;
  std::vector<fs::path> dirs;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--tokens") && i + 1 < argc) T = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else dirs.emplace_back(argv[i]);
  }
  if (dirs.empty()) dirs.push_back(lm::DemoLmDir());
  jobs::ConfigureTorchForInference(2);
  for (const auto& d : dirs) Bench(d, T, reps);
  return 0;
}
