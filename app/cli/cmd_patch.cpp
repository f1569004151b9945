// `headscope patch MODEL --clean TEXT --corrupt TEXT --answer TOK --wrong TOK [--json]`:
// activation patching (lm::PatchActivations): every head's hook_z and every
// layer's resid_pre, one position at a time, from the clean run into the
// corrupt one; the metric is logit(answer) - logit(wrong) at the last
// position, normalised so 0 = corrupt and 1 = clean.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "commands.h"
#include "jobs/thread_policy.h"
#include "lm/interventions.h"
#include "lm/language_model.h"

namespace hs::app {
namespace {

struct PatchOptions {
  std::string model_dir, clean, corrupt, answer, wrong, bos = "auto";
  bool json = false;
};

// A token given as text that is exactly one token, or as #ID.
int64_t OneToken(const lm::LanguageModel& lm, const std::string& what, const std::string& text) {
  if (text.size() > 1 && text[0] == '#') {
    std::vector<int64_t> ids;
    std::string error;
    if (!ParseTokenIds(text.substr(1), &ids, &error) || ids.size() != 1)
      throw std::invalid_argument(what + " '" + text + "': #ID takes one token id");
    return ids[0];
  }
  const std::vector<int64_t> ids = lm.Encode(text, false);
  if (ids.size() != 1) {
    std::string shown;
    for (int64_t t : ids) shown += "[" + lm.tokenizer().TokenText(t) + "]";
    throw std::invalid_argument(what + " '" + text + "' is " + std::to_string(ids.size()) + " tokens " + shown +
                                ", not one (give one token, e.g. with its leading space, or #ID)");
  }
  return ids[0];
}

int RunPatch(const PatchOptions& opt) {
  jobs::ConfigureTorchForInference(2);
  try {
    const auto lm = lm::LanguageModel::Open(opt.model_dir);
    const bool bos = opt.bos == "yes" || (opt.bos == "auto" && lm->DefaultBos());
    const std::vector<int64_t> clean = lm->Encode(opt.clean, bos), corrupt = lm->Encode(opt.corrupt, bos);
    const int64_t answer = OneToken(*lm, "--answer", opt.answer), wrong = OneToken(*lm, "--wrong", opt.wrong);
    const bool tty = !opt.json && isatty(fileno(stderr));
    const lm::PatchResult r = lm::PatchActivations(*lm, clean, corrupt, answer, wrong, [&](int done, int total) {
      if (tty && done % 64 == 0) std::fprintf(stderr, "\rpatching %d / %d runs", done, total);
      return true;
    });
    if (tty) std::fprintf(stderr, "\r%40s\r", "");
    const int L = r.n_layers, H = r.n_heads, T = r.T;
    if (opt.json) {
      nlohmann::json z = nlohmann::json::array(), resid = nlohmann::json::array();
      for (int l = 0; l < L; ++l) {
        nlohmann::json zl = nlohmann::json::array();
        for (int h = 0; h < H; ++h)
          zl.push_back(std::vector<float>(r.z.begin() + (size_t(l) * H + h) * T, r.z.begin() + (size_t(l) * H + h + 1) * T));
        z.push_back(zl);
        resid.push_back(std::vector<float>(r.resid.begin() + size_t(l) * T, r.resid.begin() + size_t(l + 1) * T));
      }
      const nlohmann::json j = {{"clean_tokens", clean}, {"corrupt_tokens", corrupt}, {"answer", answer},
                                {"wrong", wrong},        {"ld_clean", r.ld_clean},  {"ld_corrupt", r.ld_corrupt},
                                {"z", z},                {"resid_pre", resid},      {"ms", r.ms}};
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      return 0;
    }
    const auto& tk = lm->tokenizer();
    std::printf("%s: %d tokens; logit(%s) - logit(%s): clean %.3f, corrupt %.3f\n", opt.model_dir.c_str(), T,
                tk.TokenText(answer).c_str(), tk.TokenText(wrong).c_str(), r.ld_clean, r.ld_corrupt);
    // Columns where some patch restores something (the others are the positions
    // before the prompts differ, or ones nothing reads).
    std::vector<int> cols;
    for (int p = 0; p < T; ++p) {
      bool any = false;
      for (int l = 0; l < L; ++l) {
        any |= std::abs(r.resid[size_t(l) * T + p]) >= 0.005f;
        for (int h = 0; h < H; ++h) any |= std::abs(r.z[(size_t(l) * H + h) * T + p]) >= 0.005f;
      }
      if (any) cols.push_back(p);
    }
    std::printf("restored share of the logit difference (0 = corrupt, 1 = clean), patching one position; %d of %d "
                "positions shown (the others restore less than 0.005):\n%10s",
                int(cols.size()), T, "");
    for (int p : cols) {
      std::string t = std::to_string(p) + ":" + tk.TokenText(corrupt[size_t(p)]);
      if (t.size() > 6) t.resize(6);
      for (char& ch : t)
        if (ch == '\n' || ch == '\t') ch = ' ';
      std::printf(" %6s", t.c_str());
    }
    std::printf("\n");
    auto row = [&](const std::string& name, const float* v) {
      std::printf("%-10s", name.c_str());
      for (int p : cols) std::printf(" %6.2f", v[p]);
      std::printf("\n");
    };
    for (int l = 0; l < L; ++l) {
      row("resid L" + std::to_string(l), r.resid.data() + size_t(l) * T);
      for (int h = 0; h < H; ++h) row("  L" + std::to_string(l) + "H" + std::to_string(h), r.z.data() + (size_t(l) * H + h) * T);
    }
    std::printf("(%d forwards in %.0f ms)\n", L * (H + 1) * T + 2, r.ms);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "headscope patch: " << e.what() << "\n";
    return 1;
  }
}

void AddPatch(CLI::App& cli) {
  auto o = std::make_shared<PatchOptions>();
  auto* sub = cli.add_subcommand("patch",
                                 "Activation patching: which heads and positions restore the clean answer in a "
                                 "corrupted prompt");
  sub->add_option("model_dir", o->model_dir, "Hugging Face model folder, or a hub id cached locally")
      ->required()
      ->transform(ModelArg());
  sub->add_option("--clean", o->clean, "The prompt the model gets right")->required();
  sub->add_option("--corrupt", o->corrupt, "The same number of tokens, changed so the answer changes")->required();
  sub->add_option("--answer", o->answer, "The clean answer: one token as text (\" mat\") or #ID")->required();
  sub->add_option("--wrong", o->wrong, "The competing answer: one token as text or #ID")->required();
  sub->add_option("--bos", o->bos, "Prepend BOS to both prompts: yes, no or auto")
      ->check(CLI::IsMember({"yes", "no", "auto"}))
      ->capture_default_str();
  sub->add_flag("--json", o->json,
                "Print {clean_tokens, corrupt_tokens, answer, wrong, ld_clean, ld_corrupt, z [L][H][T], "
                "resid_pre [L][T]} as JSON");
  sub->callback([o] { ExitWith(RunPatch(*o)); });
}
const bool kPatchRegistered = RegisterCommand({"patch", 58, AddPatch});
}  // namespace

}  // namespace hs::app
