// `headscope heads MODEL_DIR (--prompt TEXT | --tokens 1,2,3)`: one forward;
// which head roles are active on the prompt (the model's categories, from
// head_categories.json, computed first if missing), a per-layer, per-head
// summary of where attention goes, and optionally every pattern as .npz.
// --json prints exactly what the explorer's head-roles panel consumes:
// {category: [{layer, head, score, activation_score, is_active}], reasons}.
#include <memory>
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "io/atomic_file.h"
#include "io/npz.h"
#include "lm/categorize.h"
#include "lm/interventions.h"
#include "lm/language_model.h"
#include "lm/prompt_analysis.h"
#include "lm/role_checks.h"
#include "jobs/thread_policy.h"

namespace hs::app {
namespace {



// Where one head's attention goes, averaged over the query rows that can
// make the distinction.
struct HeadSummary {
  double previous_token = 0;  // mean attention of row i >= 1 on i - 1
  double first_token = 0;     // mean attention of row i >= 1 on position 0
  double self = 0;            // mean attention of row i >= 1 on itself
  double entropy = 0;         // mean row entropy / log(visible keys), rows i >= 1
};

HeadSummary Summarise(const float* a, int64_t T) {  // a: [T, T] row-major
  HeadSummary s;
  if (T < 2) return s;
  for (int64_t i = 1; i < T; ++i) {
    const float* row = a + i * T;
    s.previous_token += row[i - 1];
    s.first_token += row[0];
    s.self += row[i];
    double h = 0;
    for (int64_t j = 0; j <= i; ++j)
      if (row[j] > 0) h -= row[j] * std::log(double(row[j]));
    s.entropy += h / std::log(double(i + 1));
  }
  const double n = double(T - 1);
  s.previous_token /= n;
  s.first_token /= n;
  s.self /= n;
  s.entropy /= n;
  return s;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '\n') ? std::string("\\n") : std::string(1, c);
  return out;
}

}  // namespace

int RunHeads(const HeadsOptions& opt) {
  jobs::ConfigureTorchForInference(2);
  std::unique_ptr<lm::LanguageModel> lm;
  try {
    lm = lm::LanguageModel::Open(opt.model_dir);
  } catch (const std::exception& e) {
    std::cerr << "headscope heads: " << e.what() << "\n";
    return 1;
  }
  std::vector<int64_t> tokens;
  bool bos = false;
  if (!opt.tokens.empty()) {
    tokens = opt.tokens;  // as given; "bos" reports whether they start with one
    bos = lm->tokenizer().BosId() && tokens.front() == *lm->tokenizer().BosId();
  } else {
    bos = opt.bos == "yes" || (opt.bos == "auto" && lm->DefaultBos());
    try {
      tokens = lm->Encode(opt.prompt, bos);
    } catch (const std::exception& e) {
      std::cerr << "headscope heads: cannot encode the prompt: " << e.what() << "\n";
      return 1;
    }
  }
  const auto& c = lm->cfg();
  const int64_t T = int64_t(tokens.size());
  // The prompt is checked before the model is categorised (which takes a
  // while and prints a note): a bad prompt gets its one-line error first.
  if (T > c.n_ctx) {
    std::cerr << "headscope heads: " << T << " tokens, but the model has only " << c.n_ctx << " positions\n";
    return 1;
  }
  for (int64_t t : tokens)
    if (t < 0 || t >= c.d_vocab) {
      std::cerr << "headscope heads: token id " << t << " outside the vocabulary [0, " << c.d_vocab << ")\n";
      return 1;
    }
  auto model = std::make_shared<lm::LmModel>();
  model->dir = opt.model_dir;
  try {
    std::string note;
    model->categories = lm::LoadOrCategorize(*lm, opt.model_dir, {}, &note);
    if (!note.empty()) std::cerr << "headscope heads: " << note << "\n";
  } catch (const std::exception& e) {
    std::cerr << "headscope heads: " << e.what() << "\n";
    return 1;
  }
  // One streamed forward: the roles, the per-head summary and --patterns-out
  // see each layer's patterns as they come; none is kept.
  std::vector<HeadSummary> summaries(size_t(c.n_layers) * c.n_heads);
  std::unique_ptr<io::NpyFileWriter> npy;
  std::shared_ptr<lm::PromptAnalysis> a;
  try {
    if (!opt.patterns_out.empty())
      npy = std::make_unique<io::NpyFileWriter>(io::TempPathFor(opt.patterns_out).string() + ".patterns.npy",
                                                io::DType::F32, std::vector<int64_t>{c.n_layers, c.n_heads, T, T});
    lm::PromptOptions po;
    po.single_token_ok = true;
    if (!opt.off.empty()) {
      auto iv = std::make_shared<lm::Intervention>();
      std::string error;
      if (!ParseLayerPairs(opt.off, "HEAD", &iv->heads, &error)) throw std::invalid_argument("--off: " + error);
      if (opt.off_mode == "mean") {
        iv->mode = lm::AblationMode::kMean;
        iv->means = lm::LoadOrComputeMeans(*lm, opt.model_dir);
      }
      lm::CheckIntervention(*iv, c, tokens.size());
      po.intervention = iv;
    }
    po.sink = [&](const lm::PatternBlock& b) {
      if (npy) npy->Append(b.data, size_t(b.n_heads) * size_t(T) * size_t(T) * sizeof(float));
      if (!opt.json)
        for (int hi = 0; hi < b.n_heads; ++hi)
          summaries[size_t(b.layer) * c.n_heads + b.head0 + hi] = Summarise(b.data + size_t(hi) * T * T, T);
    };
    a = lm::AnalyzePrompt(*model, *lm, opt.prompt, tokens, bos, -1, po);
    if (!a->error.empty()) throw std::runtime_error(a->error);
    if (npy) {
      npy->Finish();
      io::WriteNpz(opt.patterns_out, {{"tokens", io::Array::I64({T}, tokens)}}, {{"patterns", npy->path()}});
      npy.reset();
    }
  } catch (const std::exception& e) {
    std::cerr << "headscope heads: " << e.what() << "\n";
    return 1;
  }
  std::ostringstream table;
  table << "layer head  prev-token first-token  self  entropy\n";
  for (int l = 0; l < c.n_layers; ++l)
    for (int h = 0; h < c.n_heads; ++h) {
      const HeadSummary& s = summaries[size_t(l) * c.n_heads + h];
      char line[128];
      std::snprintf(line, sizeof line, "%5d %4d  %10.3f %11.3f %5.3f %8.3f\n", l, h, s.previous_token, s.first_token,
                    s.self, s.entropy);
      table << line;
    }
  std::vector<std::string> texts;
  for (int64_t t : tokens) {
    try {
      texts.push_back(lm->tokenizer().TokenText(t));
    } catch (const std::exception&) {
      texts.push_back("?");
    }
  }
  library::PromptRoles& roles = a->roles;
  std::shared_ptr<lm::CausalChecks> checks;
  if (opt.check) {
    try {
      if (!opt.off.empty()) throw std::invalid_argument("--check measures the model as it is; leave out --off");
      std::string note;
      const auto means = lm::LoadOrComputeMeans(*lm, opt.model_dir, &note);
      if (!note.empty() && !opt.json) std::cerr << "headscope heads: " << note << "\n";
      checks = std::make_shared<lm::CausalChecks>(lm::CheckRoles(*lm, tokens, roles, means));
      lm::ApplyChecks(*checks, &roles);
    } catch (const std::exception& e) {
      std::cerr << "headscope heads: --check: " << e.what() << "\n";
      return 1;
    }
  }
  if (opt.json) {
    nlohmann::json j = roles.ToJson();
    if (a && !a->intervention.empty()) j["intervention"] = a->intervention;
    if (checks) {
      nlohmann::json hc = nlohmann::json::array();
      for (int l = 0; l < c.n_layers; ++l)
        for (int h = 0; h < c.n_heads; ++h) {
          const double all = checks->Rise(l, h);
          nlohmann::json e = {{"layer", l}, {"head", h}, {"mean_loss_rise", std::isnan(all) ? nlohmann::json() : nlohmann::json(all)}};
          if (checks->attribution_error.empty()) e["attribution"] = checks->attribution.Total(0, l, h) / double(T - 1);
          hc.push_back(e);
        }
      j["causal"] = {{"mode", lm::ModeName(checks->mode)}, {"heads", hc}, {"measured", checks->measured},
                     {"exact_ms", checks->exact_ms},
                     {"attribution_ms", checks->attribution.forward_ms + checks->attribution.backward_ms}};
      for (const auto& r : checks->roles) {
        nlohmann::json rh = nlohmann::json::array();
        for (const auto& h : r.heads)
          rh.push_back({{"layer", h.layer}, {"head", h.head}, {"rise", h.rise}, {"attribution", h.attribution},
                        {"others_p95", h.others_p95}, {"others_median", h.others_median}, {"checked", h.checked}});
        j["causal"]["roles"][r.key] = {{"where", r.where}, {"positions", r.positions}, {"heads", rh}};
      }
    }
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cout << opt.model_dir << " (" << lm->info().model_type << ", " << c.n_layers << " layers x " << c.n_heads
            << " heads): " << T << " tokens" << (bos ? ", BOS prepended" : "") << "\n  ";
  for (const auto& t : texts) std::cout << "[" << Escape(t) << "]";
  if (a && !a->intervention.empty()) std::cout << "\nTurned off: " << a->intervention;
  std::cout << "\nHead roles on this prompt (filled: active; activation score per top head)\n";
  for (const auto& ca : roles.categories) {
    const library::CategoryDef* def = library::FindCategoryDef(ca.key);
    if (ca.key == "other") {
      std::cout << "  o " << def->display_name << ": " << ca.heads.size() << " heads\n";
      continue;
    }
    std::cout << "  " << (ca.active ? "*" : "o") << " " << def->display_name << ":";
    for (const auto& h : ca.heads) {
      char b[64];
      std::snprintf(b, sizeof b, " L%dH%d %.2f%s", h.layer, h.head, h.activation_score, h.is_active ? "*" : "");
      std::cout << b;
    }
    if (!ca.reason.empty()) std::cout << "  (" << ca.reason << ")";
    if (!ca.note.empty()) std::cout << "\n      " << ca.note;
    if (ca.check != library::CategoryActivation::Check::kNotRun)
      std::cout << "\n      " << (ca.check == library::CategoryActivation::Check::kChecked ? "checked: " : "not checked: ")
                << ca.check_reason;
    std::cout << "\n";
  }
  std::cout << "Mean attention over query rows 1.." << T - 1
            << " (entropy: per row over log of the visible keys; 1 = uniform)\n"
            << table.str();
  return 0;
}

namespace {
void AddHeads(CLI::App& cli) {
  auto hd = std::make_shared<HeadsOptions>();
  auto tokens_text = std::make_shared<std::string>();  // parsed by ParseTokenIds: CLI11 would read "" and "1,,2" as ids 0
  auto* heads = cli.add_subcommand("heads", "Run a language model on a prompt; per-head attention summary");
  heads->add_option("model_dir", hd->model_dir, "Hugging Face model folder, or a hub id cached locally (gpt2, Qwen/Qwen2.5-0.5B@main)")
      ->required()
      ->transform(ModelArg());
  auto* prompt_opt = heads->add_option("--prompt", hd->prompt, "Text to run");
  auto* tokens_opt = heads->add_option("--tokens", *tokens_text, "Token ids instead of text, e.g. 1,2,3");
  prompt_opt->excludes(tokens_opt);
  heads->add_option("--bos", hd->bos, "Prepend BOS to the prompt: yes, no or auto (auto: yes if the tokenizer has one, "
                                     "except Qwen)")
      ->check(CLI::IsMember({"yes", "no", "auto"}))
      ->capture_default_str();
  heads->add_flag("--json", hd->json, "Print JSON instead of a table");
  heads->add_option("--patterns-out", hd->patterns_out, "Write tokens [T] and patterns [layers, heads, T, T] as .npz");
  heads->add_option("--off", hd->off, "Turn heads off for this run, LAYER.HEAD[,...] (every pattern and role shows the "
                                      "model without them)");
  heads->add_option("--off-mode", hd->off_mode, "How --off removes a head: zero, or mean (its mean output)")
      ->check(CLI::IsMember({"zero", "mean"}))
      ->capture_default_str();
  heads->add_flag("--check", hd->check, "Check the active roles causally: ablate each head and compare the loss where "
                                        "the role acts (badges: checked or not, with the numbers)");

  heads->callback([hd, tokens_text, prompt_opt, tokens_opt] {
    if (tokens_opt->count() > 0) {
      std::string error;
      if (!ParseTokenIds(*tokens_text, &hd->tokens, &error)) {
        std::cerr << "headscope heads: --tokens '" << *tokens_text << "': " << error << "\n";
        ExitWith(2);
      }
    } else if (prompt_opt->count() > 0 && hd->prompt.empty()) {
      std::cerr << "headscope heads: the prompt is empty; give some text, or ids with --tokens 1,2,3\n";
      ExitWith(2);
    }
    if (hd->prompt.empty() && hd->tokens.empty()) {
      std::cerr << "headscope heads: give --prompt TEXT or --tokens 1,2,3\n";
      ExitWith(2);
    }
    ExitWith(RunHeads(*hd));
  });
}
const bool kHeadsRegistered = RegisterCommand({"heads", 50, AddHeads});
}  // namespace

}  // namespace hs::app
