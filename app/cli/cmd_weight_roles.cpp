// `headscope weight-roles MODEL [--k 5] [--max-tokens 1000] [--json]`: roles read from the
// weights (copying, copy suppression, successor: lm/ov_scores.h) and each
// head's attention sink (mean attention to the first position on random
// tokens and on the natural sentences).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "commands.h"
#include "jobs/thread_policy.h"
#include "lm/categorize.h"
#include "lm/language_model.h"
#include "lm/ov_scores.h"

namespace hs::app {
namespace {

struct WeightRolesOptions {
  std::string model_dir;
  int k = 5, max_tokens = 1000;
  bool json = false;
};

int RunWeightRoles(const WeightRolesOptions& opt) {
  jobs::ConfigureTorchForInference(2);
  try {
    const auto lm = lm::LanguageModel::Open(opt.model_dir);
    const auto& c = lm->cfg();
    lm::OvScoreOptions so;
    so.k = opt.k, so.max_tokens = opt.max_tokens;
    const lm::OvScores s = lm::ComputeOvScores(*lm, so);
    // Sinks: 8 random sequences of 32 tokens (BOS first when the model uses one) and the natural sentences.
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::vector<int64_t>> random_prompts;
    std::mt19937_64 rng(0);
    std::uniform_int_distribution<int64_t> d(0, c.d_vocab - 1);
    const int n = int(std::min<int64_t>(32, c.n_ctx));
    for (int i = 0; i < 8; ++i) {
      std::vector<int64_t> p;
      if (lm->DefaultBos()) p.push_back(*lm->tokenizer().BosId());
      while (int(p.size()) < n) p.push_back(d(rng));
      random_prompts.push_back(p);
    }
    const std::vector<double> sink_random = lm::SinkScores(*lm, random_prompts);
    const std::vector<double> sink_text = lm::SinkScores(*lm, lm::NaturalPrompts(*lm, {}));
    const double sink_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (opt.json) {
      auto nan_null = [](const std::vector<double>& v) {
        nlohmann::json a = nlohmann::json::array();
        for (double x : v) a.push_back(std::isnan(x) ? nlohmann::json() : nlohmann::json(x));
        return a;
      };
      const nlohmann::json j = {{"n_layers", c.n_layers}, {"n_heads", c.n_heads}, {"k", s.k},
                                {"token_set", s.token_set}, {"copying", s.copying}, {"suppression", s.suppression},
                                {"successor", nan_null(s.successor)}, {"ordinal_sets", s.ordinal_sets},
                                {"successor_note", s.successor_note}, {"sink_random", nan_null(sink_random)},
                                {"sink_text", nan_null(sink_text)}, {"ov_ms", s.ms}, {"sink_ms", sink_ms}};
      std::cout << j.dump() << "\n";
      return 0;
    }
    std::printf("%s: OV circuits over %s, k = %d (%.0f ms); sinks on random tokens and text (%.0f ms)\n",
                opt.model_dir.c_str(), s.token_set.c_str(), s.k, s.ms, sink_ms);
    if (!s.successor_note.empty()) std::printf("successor: %s\n", s.successor_note.c_str());
    else {
      std::printf("successor over:");
      for (const auto& n2 : s.ordinal_sets) std::printf(" %s;", n2.c_str());
      std::printf("\n");
    }
    std::printf(" head   copying  suppression  successor  sink(random)  sink(text)\n");
    for (int l = 0; l < c.n_layers; ++l)
      for (int h = 0; h < c.n_heads; ++h) {
        const size_t i = size_t(l) * c.n_heads + h;
        std::printf(" L%dH%-3d %7.3f  %11.3f  %9.3f  %12.3f  %10.3f\n", l, h, s.copying[i], s.suppression[i],
                    s.successor[i], sink_random[i], sink_text[i]);
      }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "headscope weight-roles: " << e.what() << "\n";
    return 1;
  }
}

void AddWeightRoles(CLI::App& cli) {
  auto o = std::make_shared<WeightRolesOptions>();
  auto* sub = cli.add_subcommand("weight-roles", "Roles read from the weights: copying, copy suppression, successor "
                                                 "(OV circuits), and attention sinks");
  sub->add_option("model_dir", o->model_dir, "Hugging Face model folder, or a hub id cached locally")
      ->required()
      ->transform(ModelArg());
  sub->add_option("--k", o->k, "A token copies when it ranks in the top k of its row (suppression: bottom k)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  sub->add_option("--max-tokens", o->max_tokens, "Tokens in the set (a uniform sample of larger vocabularies)")
      ->check(CLI::Range(10, 100000))
      ->capture_default_str();
  sub->add_flag("--json", o->json, "Print the scores as JSON (per head, layer-major)");
  sub->callback([o] { ExitWith(RunWeightRoles(*o)); });
}
const bool kWeightRolesRegistered = RegisterCommand({"weight-roles", 59, AddWeightRoles});
}  // namespace

}  // namespace hs::app
