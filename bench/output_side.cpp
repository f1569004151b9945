// The output side's costs, in one process, against one clean forward of the
// same prompt (the reference):
//   - once per model: the roles read from the weights (ComputeOvScores) and
//     the sink on random tokens (SinkScores over 20 prompts of 50 tokens);
//   - per prompt edit: direct logit attribution of every component, the
//     logit lens (every layer), what one head promotes, and AnalyzePrompt
//     with and without the output roles' verification (24 heads given the
//     three output roles, 8 each, spread over the layers).
//
//   bench_output_side DIR [--tokens 256] [--reps 3]
//
// Random ids for the prompt (any folder; the random-weight GPT-2-small
// folder of bench_lm_scale_make is the realistic one).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "lm/categorize.h"
#include "lm/logit_attribution.h"
#include "lm/ov_scores.h"
#include "lm/interventions.h"
#include "lm/prompt_analysis.h"

namespace fs = std::filesystem;
using namespace hs;

namespace {
double MedianMs(int reps, const std::function<void()>& f) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_output_side DIR [--tokens 256] [--reps 3]\n");
    return 2;
  }
  const fs::path dir = argv[1];
  int T = 256, reps = 3;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tokens")) T = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
  }
  auto model = std::make_shared<lm::LmModel>();
  model->dir = dir;
  model->lm = std::shared_ptr<const lm::LanguageModel>(lm::LanguageModel::Open(dir));
  const auto& c = model->lm->cfg();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> d(0, c.d_vocab - 1);
  std::vector<int64_t> tokens(size_t(std::min<int64_t>(T, c.n_ctx)));
  for (auto& t : tokens) t = d(rng);
  std::printf("%s: %d layers x %d heads, d_model %d, vocabulary %d, %zu tokens\n", dir.string().c_str(), c.n_layers,
              c.n_heads, int(c.d_model), int(c.d_vocab_out), tokens.size());

  const double fwd = MedianMs(reps, [&] { lm::TokenLosses(*model->lm, tokens); });
  std::printf("  one forward (reference)                 %9.1f ms\n", fwd);

  // Once per model.
  lm::OvScores ov;
  const double ov_ms = MedianMs(1, [&] { ov = lm::ComputeOvScores(*model->lm); });
  std::vector<std::vector<int64_t>> sink_prompts(20);
  for (auto& p : sink_prompts) {
    p.resize(50);
    for (auto& t : p) t = d(rng);
  }
  const double sink_ms = MedianMs(1, [&] { lm::SinkScores(*model->lm, sink_prompts); });
  std::printf("  once per model: OV roles (%d tokens)    %9.1f ms  (%.1f forwards)\n", ov.n_tokens, ov_ms, ov_ms / fwd);
  std::printf("  once per model: sinks, 20 x 50 tokens   %9.1f ms  (%.1f forwards)\n", sink_ms, sink_ms / fwd);

  // Per prompt edit.
  const double dla = MedianMs(reps, [&] { lm::DirectLogitAttribution(*model->lm, tokens); });
  const double lens = MedianMs(reps, [&] { lm::ComputeLogitLens(*model->lm, tokens, int(tokens.size()) - 1); });
  const double promotes =
      MedianMs(reps, [&] { lm::HeadOutputTokens(*model->lm, tokens, c.n_layers - 1, 0, int(tokens.size()) - 1); });
  std::printf("  direct logit attribution, every part    %9.1f ms  (%.2f forwards)\n", dla, dla / fwd);
  std::printf("  logit lens, every layer                 %9.1f ms  (%.2f forwards)\n", lens, lens / fwd);
  std::printf("  what one head promotes                  %9.1f ms  (%.2f forwards)\n", promotes, promotes / fwd);

  // AnalyzePrompt without and with 24 output-role heads.
  model->categories = lm::LoadOrCategorize(*model->lm, dir);
  const std::string text = "";
  const double plain = MedianMs(reps, [&] { lm::AnalyzePrompt(*model, *model->lm, text, tokens, false); });
  library::HeadCategories with = model->categories;
  int k = 0;
  for (auto& cat : with.categories) {
    const auto* def = library::FindCategoryDef(cat.key);
    if (!def || !def->output_role) continue;
    cat.top_heads.clear();
    for (int i = 0; i < 8; ++i, ++k) {  // 24 distinct heads, spread evenly
      const int idx = k * c.n_layers * c.n_heads / 24;
      cat.top_heads.push_back({idx / c.n_heads, idx % c.n_heads, 1.0});
    }
  }
  auto model2 = std::make_shared<lm::LmModel>(*model);
  model2->categories = with;
  std::shared_ptr<lm::PromptAnalysis> a;
  const double verified = MedianMs(reps, [&] { a = lm::AnalyzePrompt(*model2, *model2->lm, text, tokens, false); });
  std::printf("  prompt analysis, no output roles        %9.1f ms  (%.2f forwards)\n", plain, plain / fwd);
  std::printf("  ... with %2zu output-role heads verified  %9.1f ms  (%.2f forwards, x%.2f)\n", a->out_watched.size(),
              verified, verified / fwd, verified / plain);
  return 0;
}
