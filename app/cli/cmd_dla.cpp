// `headscope dla MODEL (--prompt TEXT | --tokens IDS) [--position P] [--wrong TOK] [--head L.H] [--top N] [--json]`:
// what each head (and each layer's MLP) writes to the next token's logit at
// a position (direct logit attribution through the frozen final norm), the
// logit lens there, and what one head promotes and suppresses.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "jobs/thread_policy.h"
#include "lm/language_model.h"
#include "lm/logit_attribution.h"

namespace hs::app {
namespace {

struct DlaOptions {
  std::string model_dir, prompt, wrong, head, bos = "auto";
  std::vector<int64_t> tokens;
  int position = -1, top = 10;
  bool json = false;
};

int RunDla(const DlaOptions& opt) {
  jobs::ConfigureTorchForInference(2);
  try {
    const auto lm = lm::LanguageModel::Open(opt.model_dir);
    const auto& tk = lm->tokenizer();
    std::vector<int64_t> tokens = opt.tokens;
    if (tokens.empty()) tokens = lm->Encode(opt.prompt, opt.bos == "yes" || (opt.bos == "auto" && lm->DefaultBos()));
    const int T = int(tokens.size());
    if (T < 2) throw std::invalid_argument("the prompt has " + std::to_string(T) + " token; attribution needs two or more");
    const int p = opt.position < 0 ? T - 2 : opt.position;
    if (p > T - 2)
      throw std::invalid_argument("--position " + std::to_string(p) + ": the last position with a next token is " +
                                  std::to_string(T - 2));
    int64_t wrong = -1;
    if (!opt.wrong.empty()) {
      const auto ids = lm->Encode(opt.wrong, false);
      if (ids.size() != 1)
        throw std::invalid_argument("--wrong '" + opt.wrong + "' is " + std::to_string(ids.size()) + " tokens, not one");
      wrong = ids[0];
    }
    const lm::LogitAttribution a = lm::DirectLogitAttribution(*lm, tokens, {}, wrong);
    const lm::LogitLens lens = lm::ComputeLogitLens(*lm, tokens, p, 5);
    std::pair<int, int> head{-1, -1};
    if (!opt.head.empty()) {
      std::vector<std::pair<int, int>> h;
      std::string error;
      if (!ParseLayerPairs(opt.head, "HEAD", &h, &error) || h.size() != 1)
        throw std::invalid_argument("--head: " + (error.empty() ? "give one LAYER.HEAD" : error));
      head = h[0];
    }
    lm::HeadPromotes hp;
    if (head.first >= 0) hp = lm::HeadOutputTokens(*lm, tokens, head.first, head.second, p, opt.top);
    auto text = [&](int64_t id) { return tk.TokenText(id); };
    if (opt.json) {
      nlohmann::json values = nlohmann::json::array();
      for (size_t k = 0; k < a.names.size(); ++k)
        values.push_back(std::vector<double>(a.values.begin() + long(k) * T, a.values.begin() + long(k + 1) * T));
      nlohmann::json top = nlohmann::json::array();
      for (const auto& layer : lens.top) {
        nlohmann::json t = nlohmann::json::array();
        for (const auto& [id, pr] : layer) t.push_back({id, pr});
        top.push_back(t);
      }
      nlohmann::json j = {{"tokens", tokens}, {"position", p}, {"targets", a.targets}, {"wrong", wrong},
                          {"names", a.names}, {"values", values}, {"logits", a.logits},
                          {"lens", {{"next_rank", lens.next_rank}, {"next_prob", lens.next_prob}, {"top", top}}}};
      if (head.first >= 0) {
        nlohmann::json up = nlohmann::json::array(), down = nlohmann::json::array();
        for (const auto& [id, v] : hp.up) up.push_back({id, v});
        for (const auto& [id, v] : hp.down) down.push_back({id, v});
        j["head"] = {{"layer", head.first}, {"head", head.second}, {"up", up}, {"down", down}};
      }
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      return 0;
    }
    std::printf("%s: position %d (%s) -> next token %s", opt.model_dir.c_str(), p, text(tokens[size_t(p)]).c_str(),
                text(a.targets[size_t(p)]).c_str());
    if (wrong >= 0) std::printf(" minus %s", text(wrong).c_str());
    double sum = 0;
    for (size_t k = 0; k < a.names.size(); ++k) sum += a.At(k, p);
    std::printf("\nlogit%s %.4f = sum of %zu components %.4f\n", wrong >= 0 ? " difference" : "", a.logits[size_t(p)],
                a.names.size(), sum);
    std::vector<size_t> order(a.names.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return std::abs(a.At(x, p)) > std::abs(a.At(y, p)); });
    std::printf("largest direct contributions:\n");
    for (size_t i = 0; i < order.size() && int(i) < opt.top; ++i)
      std::printf("  %-16s %+9.4f\n", a.names[order[i]].c_str(), a.At(order[i], p));
    std::printf("logit lens at position %d (top 5 after each layer; rank of the next token):\n", p);
    for (int l = 0; l < lens.n_layers; ++l) {
      std::printf("  after L%-2d rank %6d  ", l, lens.next_rank[size_t(l) * T + p]);
      for (const auto& [id, pr] : lens.top[size_t(l)]) std::printf(" [%s] %.2f", text(id).c_str(), pr);
      std::printf("\n");
    }
    if (head.first >= 0) {
      std::printf("L%dH%d at position %d raises:", head.first, head.second, p);
      for (const auto& [id, v] : hp.up) std::printf(" [%s] %+.2f", text(id).c_str(), v);
      std::printf("\n  and lowers:");
      for (const auto& [id, v] : hp.down) std::printf(" [%s] %+.2f", text(id).c_str(), v);
      std::printf("\n");
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "headscope dla: " << e.what() << "\n";
    return 1;
  }
}

void AddDla(CLI::App& cli) {
  auto o = std::make_shared<DlaOptions>();
  auto tokens_text = std::make_shared<std::string>();
  auto* sub = cli.add_subcommand("dla", "What each head writes: direct logit attribution, the logit lens, and what "
                                        "a head promotes");
  sub->add_option("model_dir", o->model_dir, "Hugging Face model folder, or a hub id cached locally")
      ->required()
      ->transform(ModelArg());
  auto* prompt_opt = sub->add_option("--prompt", o->prompt, "Text to run");
  auto* tokens_opt = sub->add_option("--tokens", *tokens_text, "Token ids instead of text, e.g. 1,2,3");
  prompt_opt->excludes(tokens_opt);
  sub->add_option("--position", o->position, "The position whose next-token logit to explain (default: the last "
                                             "one with a next token)");
  sub->add_option("--wrong", o->wrong, "Explain logit(next) - logit(WRONG) instead (one token as text)");
  sub->add_option("--head", o->head, "Also list what this head (LAYER.HEAD) raises and lowers at the position");
  sub->add_option("--top", o->top, "How many entries to list")->capture_default_str();
  sub->add_option("--bos", o->bos, "Prepend BOS to the prompt: yes, no or auto")
      ->check(CLI::IsMember({"yes", "no", "auto"}))
      ->capture_default_str();
  sub->add_flag("--json", o->json,
                "Print {tokens, position, targets, wrong, names, values [components][T], logits [T], lens, head}");
  sub->callback([o, tokens_text, prompt_opt, tokens_opt] {
    std::string error;
    if (tokens_opt->count() > 0 && !ParseTokenIds(*tokens_text, &o->tokens, &error)) {
      std::cerr << "headscope dla: --tokens '" << *tokens_text << "': " << error << "\n";
      ExitWith(2);
    }
    if (o->tokens.empty() && (prompt_opt->count() == 0 || o->prompt.empty())) {
      std::cerr << "headscope dla: give --prompt TEXT or --tokens 1,2,3\n";
      ExitWith(2);
    }
    ExitWith(RunDla(*o));
  });
}
const bool kDlaRegistered = RegisterCommand({"dla", 59, AddDla});
}  // namespace

}  // namespace hs::app
