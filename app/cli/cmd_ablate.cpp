// `headscope ablate MODEL (--prompt TEXT | --tokens IDS) [--heads L.H,...] [--neurons L.N,...]
//  [--mode zero|mean|resample] [--resample TEXT] [--json]`: the per-token loss of a language
// model on a prompt, clean and with the given heads (hook_z, before W_O) and
// neurons (hook_post) ablated, TransformerLens semantics. Entry i of each
// loss is -log p(token i+1 | tokens <= i) in nats (float64 log-softmax).
// `headscope ablate RUN --epoch E ...` is the grokking side (cmd_ablate_run.cpp).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "ablate_run.h"
#include "commands.h"
#include "jobs/thread_policy.h"
#include "lm/interventions.h"
#include "lm/language_model.h"
#include "lm/role_checks.h"

namespace hs::app {
namespace {

struct AblateOptions {
  std::string model_dir, prompt, heads, neurons, bos = "auto", mode = "zero", resample;
  std::vector<int64_t> tokens, resample_tokens;
  bool json = false, each = false;
};

// --each: every head ablated alone, exactly and by attribution patching.
int RunEach(const lm::LanguageModel& lm, const std::vector<int64_t>& tokens, const lm::Intervention& base, bool json) {
  const auto& c = lm.cfg();
  const int L = c.n_layers, H = c.n_heads, T = int(tokens.size());
  const auto t0 = std::chrono::steady_clock::now();
  const lm::HeadAttribution attr = lm::AttributeHeads(lm, tokens, base.mode, base.means);
  const auto t1 = std::chrono::steady_clock::now();
  const lm::CleanRun run(lm, tokens);
  std::vector<std::vector<double>> losses;
  std::vector<double> exact, estimate;
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h) {
      lm::Intervention iv = base;
      iv.heads = {{l, h}};
      iv.neurons.clear();
      losses.push_back(run.Losses(iv));
      double s = 0;
      for (size_t i = 0; i < losses.back().size(); ++i) s += losses.back()[i] - run.losses()[i];
      exact.push_back(s / double(T - 1));
      estimate.push_back(attr.Total(0, l, h) / double(T - 1));
    }
  const auto t2 = std::chrono::steady_clock::now();
  const double ms_attr = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const double ms_exact = std::chrono::duration<double, std::milli>(t2 - t1).count();
  const double rho = lm::RankCorrelation(exact, estimate);
  if (json) {
    nlohmann::json each = nlohmann::json::array();
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h) {
        const size_t i = size_t(l) * H + h;
        const float* e = attr.effect[0].data() + i * size_t(T);
        each.push_back({{"layer", l}, {"head", h}, {"loss_ablated", losses[i]}, {"mean_rise", exact[i]},
                        {"attribution", estimate[i]}, {"attribution_positions", std::vector<float>(e, e + T)}});
      }
    std::cout << nlohmann::json{{"tokens", tokens}, {"mode", lm::ModeName(base.mode)}, {"loss_clean", run.losses()},
                                {"each", each}, {"spearman", rho}, {"ms_attribution", ms_attr},
                                {"ms_exact", ms_exact}}
                     .dump()
              << "\n";
    return 0;
  }
  std::vector<size_t> order(exact.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return exact[a] > exact[b]; });
  std::printf("%d tokens; each head %s-ablated alone: mean loss rise per token (nats)\n", T, lm::ModeName(base.mode));
  std::printf(" head      exact  attribution\n");
  for (size_t k = 0; k < order.size() && k < 20; ++k)
    std::printf(" L%dH%-4d %+8.4f  %+8.4f\n", int(order[k]) / H, int(order[k]) % H, exact[order[k]], estimate[order[k]]);
  if (order.size() > 20) std::printf(" ... %zu more\n", order.size() - 20);
  std::printf("rank correlation (Spearman) %.3f; attribution %.0f ms (one forward and backward), exact %.0f ms (%d "
              "forwards from each head's layer)\n",
              rho, ms_attr, ms_exact, L * H);
  return 0;
}

int RunAblate(const AblateOptions& opt, lm::Intervention iv) {
  jobs::ConfigureTorchForInference(2);
  try {
    const auto lm = lm::LanguageModel::Open(opt.model_dir);
    const bool bos = opt.bos == "yes" || (opt.bos == "auto" && lm->DefaultBos());
    std::vector<int64_t> tokens = opt.tokens;
    if (tokens.empty()) tokens = lm->Encode(opt.prompt, bos);
    if (tokens.size() < 2) throw std::invalid_argument("the prompt has " + std::to_string(tokens.size()) +
                                                       " token; a loss needs two or more");
    if (iv.mode == lm::AblationMode::kMean) {
      std::string note;
      iv.means = lm::LoadOrComputeMeans(*lm, opt.model_dir, &note);
      if (!note.empty() && !opt.json) std::fprintf(stderr, "%s\n", note.c_str());
    }
    if (iv.mode == lm::AblationMode::kResample)
      iv.source = opt.resample_tokens.empty() ? lm->Encode(opt.resample, bos) : opt.resample_tokens;
    if (opt.each) return RunEach(*lm, tokens, iv, opt.json);
    lm::CheckIntervention(iv, lm->cfg(), tokens.size());
    const lm::CleanRun run(*lm, tokens);
    const std::vector<double>& clean = run.losses();
    const std::vector<double> ablated = run.Losses(iv);
    if (opt.json) {
      nlohmann::json hj = nlohmann::json::array(), nj = nlohmann::json::array();
      for (const auto& [l, h] : iv.heads) hj.push_back({l, h});
      for (const auto& [l, n] : iv.neurons) nj.push_back({l, n});
      nlohmann::json j = {{"tokens", tokens}, {"mode", lm::ModeName(iv.mode)}, {"heads", hj}, {"neurons", nj},
                          {"loss_clean", clean}, {"loss_ablated", ablated}};
      if (iv.mode == lm::AblationMode::kResample)
        j["resample_tokens"] = std::vector<int64_t>(iv.source.begin(), iv.source.begin() + int64_t(tokens.size()));
      std::cout << j.dump() << "\n";
      return 0;
    }
    double sc = 0, sa = 0, worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < clean.size(); ++i) {
      sc += clean[i], sa += ablated[i];
      if (ablated[i] - clean[i] > worst) worst = ablated[i] - clean[i], at = i;
    }
    std::printf("%s: %zu tokens; %s ablated\n", opt.model_dir.c_str(), tokens.size(), lm::Describe(iv).c_str());
    std::printf("mean loss %.4f nats clean, %.4f ablated (%+.4f)\n", sc / clean.size(), sa / clean.size(),
                (sa - sc) / clean.size());
    if (worst > 0)
      std::printf("largest rise: %+.4f nats predicting token %zu (%s)\n", worst, at + 1,
                  lm->tokenizer().TokenText(tokens[at + 1]).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "headscope ablate: " << e.what() << "\n";
    return 1;
  }
}

void AddAblate(CLI::App& cli) {
  auto o = std::make_shared<AblateOptions>();
  auto r = std::make_shared<AblateRunArgs>();
  auto tokens_text = std::make_shared<std::string>();
  auto* sub = cli.add_subcommand(
      "ablate",
      "Turn heads or neurons off: a language model's per-token loss, or a grokking run's loss and accuracy, "
      "clean and ablated");
  sub->add_option("target", o->model_dir,
                  "Hugging Face model folder or cached hub id, or a grokking run folder (runs/modadd_1l/...)")
      ->required()
      ->transform(ModelArg());
  auto* prompt_opt = sub->add_option("--prompt", o->prompt, "Text to run (language model)");
  auto* tokens_opt = sub->add_option("--tokens", *tokens_text, "Token ids instead of text, e.g. 1,2,3");
  prompt_opt->excludes(tokens_opt);
  sub->add_option("--heads", o->heads,
                  "Heads to ablate: LAYER.HEAD[,...] for a language model (1.1,0.3), HEAD[,...] for a grokking run");
  sub->add_option("--neurons", o->neurons,
                  "MLP neurons to ablate (hook_post): LAYER.NEURON[,...] for a language model, NEURON[,...] for a run");
  sub->add_option("--mode", o->mode,
                  "zero (output set to 0), mean (to its mean over natural sentences), resample (to its value on "
                  "--resample's prompt)")
      ->check(CLI::IsMember({"zero", "mean", "resample"}))
      ->capture_default_str();
  sub->add_option("--resample", o->resample, "The second prompt for --mode resample (at least as many tokens)");
  sub->add_option("--bos", o->bos, "Prepend BOS to the prompt: yes, no or auto")
      ->check(CLI::IsMember({"yes", "no", "auto"}))
      ->capture_default_str();
  sub->add_flag("--each", o->each,
                "Language model: ablate every head alone, exactly and by attribution patching (one forward and "
                "backward), and compare them");
  sub->add_option("--epoch", r->epoch, "Grokking run: the checkpoint epoch");
  sub->add_option("--freqs", r->freqs, "Grokking run: key frequencies to remove from the neuron activations, k[,...]");
  sub->add_flag("--json", o->json,
                "Print JSON (language model: {tokens, mode, heads, neurons, loss_clean, loss_ablated})");
  auto sub_count = [sub](const char* name) { return sub->get_option(name)->count(); };
  sub->callback([o, r, tokens_text, prompt_opt, tokens_opt, sub_count] {
    if (IsTrainingRunDir(o->model_dir)) {
      for (const char* name : {"--prompt", "--tokens", "--mode", "--resample", "--bos", "--each"})
        if (sub_count(name) > 0) {
          std::cerr << "headscope ablate: " << name << " is for a language model; " << o->model_dir
                    << " is a grokking run (give --epoch, --heads, --neurons, --freqs)\n";
          ExitWith(2);
        }
      r->run_dir = o->model_dir, r->heads = o->heads, r->neurons = o->neurons, r->json = o->json;
      ExitWith(AblateRun(*r));
    }
    auto fail = [](const std::string& what) {
      std::cerr << "headscope ablate: " << what << "\n";
      ExitWith(2);
    };
    if (r->epoch >= 0 || !r->freqs.empty())
      fail("--epoch and --freqs are for a grokking run; " + o->model_dir + " is not one");
    std::string error;
    lm::Intervention iv;
    iv.mode = o->mode == "mean" ? lm::AblationMode::kMean
              : o->mode == "resample" ? lm::AblationMode::kResample : lm::AblationMode::kZero;
    if (!ParseLayerPairs(o->heads, "HEAD", &iv.heads, &error)) fail("--heads: " + error);
    if (!ParseLayerPairs(o->neurons, "NEURON", &iv.neurons, &error)) fail("--neurons: " + error);
    if (iv.empty() && !o->each) fail("give --heads LAYER.HEAD[,...] or --neurons LAYER.NEURON[,...] (or --each)");
    if (o->each && !iv.empty()) fail("--each ablates every head in turn; leave out --heads and --neurons");
    if (o->each && iv.mode == lm::AblationMode::kResample) fail("--each takes --mode zero or mean");
    if (tokens_opt->count() > 0 && !ParseTokenIds(*tokens_text, &o->tokens, &error))
      fail("--tokens '" + *tokens_text + "': " + error);
    if (o->tokens.empty() && (prompt_opt->count() == 0 || o->prompt.empty()))
      fail("give --prompt TEXT or --tokens 1,2,3");
    if (iv.mode == lm::AblationMode::kResample && o->resample.empty())
      fail("--mode resample needs --resample TEXT (a second prompt)");
    if (iv.mode == lm::AblationMode::kResample && !o->tokens.empty() &&
        !ParseTokenIds(o->resample, &o->resample_tokens, &error))
      fail("--resample '" + o->resample + "' (token ids, as --tokens): " + error);
    ExitWith(RunAblate(*o, iv));
  });
}
const bool kAblateRegistered = RegisterCommand({"ablate", 57, AddAblate});
}  // namespace

}  // namespace hs::app
