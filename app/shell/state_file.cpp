// The explorer's state file (see state_file.h).
#include "state_file.h"

#include <cstdio>
#include <iostream>

#include "families/miscope_run.h"
#include "io/atomic_file.h"
#include "io/json_text.h"
#include "panel.h"

namespace hs::app {
namespace fs = std::filesystem;

RememberedView LoadRememberedView(const fs::path& file) {
  RememberedView v;
  try {
    const auto j = io::ParseJson(io::ReadFile(file), file.string());
    if (j.contains("lm") && j["lm"].is_object()) {
      const auto& l = j["lm"];
      const fs::path model = l.value("model", std::string());
      if (!model.empty() && fs::exists(model / "config.json")) v.lm_model = model;
      v.lm_prompt = l.value("prompt", std::string());
      v.lm_step = l.value("step", -1);
      v.lm_shown = j.value("workspace", std::string()) == "lm";
    }
    const fs::path run = j.value("run", std::string());
    if (run.empty() || !fs::exists(run / "config.json")) return v;
    v.run = run;
    v.epoch = j.value("epoch", -1);
    if (j.contains("pair") && j["pair"].is_array() && j["pair"].size() == 2) {
      v.query_pos = j["pair"][0].get<int>();
      v.key_pos = j["pair"][1].get<int>();
    }
  } catch (const std::exception&) {  // no file or a broken one (any key of the wrong type): defaults
    return v.run.empty() ? v : RememberedView{};
  }
  return v;
}

bool SaveRememberedView(const nlohmann::json& state, const fs::path& file) {
  try {
    io::WriteFileAtomic(file, state.dump(2) + "\n");
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "headscope: could not remember the view: %s\n", e.what());
    return false;
  }
}

namespace {

// Parses "Q,K" and checks it against the run; prints a one-line error.
bool ParsePair(const std::string& text, const families::RunInfo& run, int* q, int* k) {
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d,%d%c", q, k, &tail) != 2) {
    std::cerr << "headscope: --pair '" << text << "' is not QUERY,KEY (for example 2,0)\n";
    return false;
  }
  if (!run.ValidPair(*q, *k)) {
    std::string names;
    for (int i = 0; i < run.model.n_ctx; ++i) names += (i ? ", " : "") + std::to_string(i) + "=" + run.PositionName(i);
    std::cerr << "headscope: --pair " << text << " is out of range: this run has " << run.model.n_ctx
              << " positions (" << names << ") and the key position must be <= the query position\n";
    return false;
  }
  return true;
}

}  // namespace

int ResolveStart(const ExplorerOptions& opt, StartView* s) {
  s->run = opt.run.empty() ? fs::path(DefaultRunDir(opt.runs)) : fs::path(opt.run);
  if (!opt.run.empty()) {  // a MIScope variant folder opens through its side folder (read-only)
    try {
      s->run = families::ResolveRunDir(s->run);
    } catch (const std::exception& e) {
      std::cerr << "headscope: " << e.what() << "\n";
      return 1;
    }
  }
  if (opt.frames == 0) {  // scripted runs and shots never depend on the last session
    s->remembered = LoadRememberedView();
    if (!s->remembered.run.empty() && opt.run.empty()) s->run = s->remembered.run;
  }
  if (!opt.run.empty() && !fs::exists(s->run / "config.json")) {
    std::cerr << "headscope: " << s->run.string() << " is not a run folder (no config.json). "
              << "Train one with `headscope train`, or pick one of the folders under " << opt.runs << "/.\n";
    return 1;
  }
  const RememberedView& r = s->remembered;
  if (opt.run.empty()) s->epoch = r.epoch, s->query_pos = r.query_pos, s->key_pos = r.key_pos;
  if (opt.epoch >= 0) s->epoch = opt.epoch;
  if (!opt.pair.empty()) {
    families::RunInfoPtr info;
    try {
      info = families::LoadRunInfo(s->run);
    } catch (const std::exception& e) {
      std::cerr << "headscope: " << e.what() << "\n";
      return 1;
    }
    if (!ParsePair(opt.pair, *info, &s->query_pos, &s->key_pos)) return 2;
  }
  // Which workspace: the one of --panel, else the LM one with --model / --lm.
  const PanelDef* single = opt.panel.empty() ? nullptr : FindPanel(opt.panel);
  s->lm_first = single ? single->workspace == WorkspaceKind::LanguageModel
                       : opt.lm_first || !opt.model.empty() || (opt.run.empty() && r.lm_shown);
  return 0;
}

}  // namespace hs::app
