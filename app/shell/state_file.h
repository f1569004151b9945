// headscope_state.json: what the explorer remembers between sessions (the
// last run, epoch and position pair; the language-model workspace's model,
// prompt and step, and which workspace was shown), beside the ImGui layout file. Read
// leniently (a missing or broken file means defaults), written atomically.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"

namespace hs::app {

inline constexpr const char* kStateFile = "headscope_state.json";

struct RememberedView {
  std::filesystem::path run;  // empty: none (or the run folder is gone)
  int epoch = -1;
  int query_pos = -1, key_pos = -1;
  // The language-model workspace ("lm": {model, prompt, step}) and which
  // workspace was shown ("workspace": "grokking" | "lm").
  std::filesystem::path lm_model;  // empty: none (or the folder is gone)
  std::string lm_prompt;
  int lm_step = -1;
  bool lm_shown = false;
};

// The remembered view, if the file exists, parses and names a run folder
// that still has a config.json; else defaults.
RememberedView LoadRememberedView(const std::filesystem::path& file = kStateFile);
// Writes the workspace's state atomically; returns false (and says why on
// stderr) when it cannot.
bool SaveRememberedView(const nlohmann::json& state, const std::filesystem::path& file = kStateFile);

// What the window opens on: the options, else the remembered view (not for
// scripted runs), else the default run; which workspace is shown first.
struct StartView {
  std::filesystem::path run;
  int epoch = -1, query_pos = -1, key_pos = -1;
  RememberedView remembered;
  bool lm_first = false;
};
// Fills *s; returns an exit code with a one-line message on stderr when the
// options are wrong (not a run folder: 1, a bad --pair: 2), else 0.
int ResolveStart(const ExplorerOptions& opt, StartView* s);

}  // namespace hs::app
