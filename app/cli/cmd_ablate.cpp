// `headscope ablate MODEL (--prompt TEXT | --tokens IDS) --heads L.H[,L.H...] [--json]`:
// the per-token loss of a language model on a prompt, clean and with the
// given heads zero-ablated (TransformerLens semantics: the head's output
// hook_z, before W_O, set to zero). Entry i of each loss is
// -log p(token i+1 | tokens <= i) in nats (float64 log-softmax).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "jobs/thread_policy.h"
#include "lm/language_model.h"

namespace hs::app {
namespace {

struct AblateOptions {
  std::string model_dir, prompt, heads, bos = "auto", mode = "zero";
  std::vector<int64_t> tokens;
  bool json = false;
};

// "1.1,0.3" -> {{1, 1}, {0, 3}}.
bool ParseHeads(const std::string& text, std::vector<std::pair<int, int>>* out, std::string* error) {
  out->clear();
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(pos, end - pos);
    int l = -1, h = -1;
    char extra = 0;
    if (std::sscanf(item.c_str(), "%d.%d%c", &l, &h, &extra) != 2 || l < 0 || h < 0) {
      *error = "'" + item + "' is not LAYER.HEAD (e.g. 1.1 for L1H1)";
      return false;
    }
    out->emplace_back(l, h);
    pos = end + 1;
  }
  return !out->empty();
}

int RunAblate(const AblateOptions& opt, const std::vector<std::pair<int, int>>& heads) {
  jobs::ConfigureTorchForInference(2);
  try {
    const auto lm = lm::LanguageModel::Open(opt.model_dir);
    std::vector<int64_t> tokens = opt.tokens;
    if (tokens.empty()) tokens = lm->Encode(opt.prompt, opt.bos == "yes" || (opt.bos == "auto" && lm->DefaultBos()));
    if (tokens.size() < 2) throw std::invalid_argument("the prompt has " + std::to_string(tokens.size()) +
                                                       " token; a loss needs two or more");
    const std::vector<double> clean = lm->TokenLosses(tokens), ablated = lm->TokenLosses(tokens, heads);
    if (opt.json) {
      nlohmann::json hj = nlohmann::json::array();
      for (const auto& [l, h] : heads) hj.push_back({l, h});
      const nlohmann::json j = {{"tokens", tokens}, {"mode", opt.mode}, {"heads", hj},
                                {"loss_clean", clean}, {"loss_ablated", ablated}};
      std::cout << j.dump() << "\n";
      return 0;
    }
    double sc = 0, sa = 0, worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < clean.size(); ++i) {
      sc += clean[i], sa += ablated[i];
      if (ablated[i] - clean[i] > worst) worst = ablated[i] - clean[i], at = i;
    }
    std::printf("%s: %zu tokens; heads", opt.model_dir.c_str(), tokens.size());
    for (const auto& [l, h] : heads) std::printf(" L%dH%d", l, h);
    std::printf(" zero-ablated\nmean loss %.4f nats clean, %.4f ablated (%+.4f)\n", sc / clean.size(),
                sa / clean.size(), (sa - sc) / clean.size());
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
  auto tokens_text = std::make_shared<std::string>();
  auto* sub = cli.add_subcommand("ablate", "Per-token loss of a language model, clean and with heads zero-ablated");
  sub->add_option("model_dir", o->model_dir, "Hugging Face model folder, or a hub id cached locally")
      ->required()
      ->transform(ModelArg());
  auto* prompt_opt = sub->add_option("--prompt", o->prompt, "Text to run");
  auto* tokens_opt = sub->add_option("--tokens", *tokens_text, "Token ids instead of text, e.g. 1,2,3");
  prompt_opt->excludes(tokens_opt);
  sub->add_option("--heads", o->heads, "Heads to ablate, LAYER.HEAD[,LAYER.HEAD...] (e.g. 1.1,0.3)")->required();
  sub->add_option("--mode", o->mode, "zero (the head's output set to zero)")->check(CLI::IsMember({"zero"}));
  sub->add_option("--bos", o->bos, "Prepend BOS to the prompt: yes, no or auto")
      ->check(CLI::IsMember({"yes", "no", "auto"}))
      ->capture_default_str();
  sub->add_flag("--json", o->json, "Print {tokens, mode, heads, loss_clean, loss_ablated} as JSON");
  sub->callback([o, tokens_text, prompt_opt, tokens_opt] {
    std::string error;
    std::vector<std::pair<int, int>> heads;
    if (!ParseHeads(o->heads, &heads, &error)) {
      std::cerr << "headscope ablate: --heads: " << (error.empty() ? "no heads given" : error) << "\n";
      ExitWith(2);
    }
    if (tokens_opt->count() > 0 && !ParseTokenIds(*tokens_text, &o->tokens, &error)) {
      std::cerr << "headscope ablate: --tokens '" << *tokens_text << "': " << error << "\n";
      ExitWith(2);
    }
    if (o->tokens.empty() && (prompt_opt->count() == 0 || o->prompt.empty())) {
      std::cerr << "headscope ablate: give --prompt TEXT or --tokens 1,2,3\n";
      ExitWith(2);
    }
    ExitWith(RunAblate(*o, heads));
  });
}
const bool kAblateRegistered = RegisterCommand({"ablate", 57, AddAblate});
}  // namespace

}  // namespace hs::app
