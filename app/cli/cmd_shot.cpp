// `headscope shot`: the explorer (or one registered panel) at an epoch, a
// model, a prompt, drawn in a real GL context and written as a PNG once
// every panel has its data (uses the display, or xvfb-run when there is none).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "ablation_start.h"
#include "commands.h"
#include "lm/language_model.h"
#include "lm_workspace.h"
#include "panel.h"

namespace hs::app {
namespace {
void AddShot(CLI::App& cli) {
  auto shot = std::make_shared<ExplorerOptions>();
  shot->frames = 3;
  shot->wait_ready = true;
  shot->train_if_missing = false;
  auto* shot_cmd = cli.add_subcommand("shot", "Render the explorer (or one panel) at an epoch to a PNG, in a real GL context");
  shot_cmd->add_option("--run", shot->run, "Run folder (grokking panels)");
  shot_cmd->add_option("--runs", shot->runs, "Folder of runs (for --panel compare)")->capture_default_str();
  shot_cmd->add_option("--epoch", shot->epoch, "Checkpoint epoch (the nearest checkpoint at or after it)");
  shot_cmd->add_option("--model", shot->model, "Language-model folder or cached hub id (LM panels; e.g. assets/demo_lm)")
      ->transform(ModelArg());
  shot_cmd->add_option("--prompt", shot->prompt, "Prompt for the LM panels");
  shot_cmd->add_option("--head", shot->head, "Selected head as LAYER,HEAD (LM panels)");
  shot_cmd->add_option("--step", shot->step, "Training checkpoint step of the LM (default: final weights)");
  const std::string panels =
      PanelNameList(WorkspaceKind::Grokking) + "; language models: " + PanelNameList(WorkspaceKind::LanguageModel);
  shot_cmd->add_option("--panel", shot->panel, panels + " (default: the whole window)");
  shot_cmd->add_option("--compare", shot->compare, "Runs the compare_runs panel overlays with --run (comma-separated)")
      ->delimiter(',');
  shot_cmd->add_option("--pair", shot->pair, "Position pair for the head grids as QUERY,KEY (default: last position attending to a)");
  auto ablate = std::make_shared<std::string>();
  shot_cmd->add_option("--ablate", *ablate,
                       "The ablation panel's selection, e.g. \"heads=0,2;neurons=12;freqs=14\" (default: nothing off)");
  auto off = std::make_shared<std::pair<std::string, std::string>>("", "zero");  // LM heads turned off, mode
  shot_cmd->add_option("--off", off->first, "LM heads turned off in every view, LAYER.HEAD[,...] (e.g. 0.1)");
  shot_cmd->add_option("--off-mode", off->second, "How --off removes a head: zero, or mean (its mean output)")
      ->check(CLI::IsMember({"zero", "mean"}))
      ->capture_default_str();
  auto no_sink = std::make_shared<bool>(false);
  shot_cmd->add_flag("--no-sink", *no_sink,
                     "LM attention views without the first key, each row renormalised over the others");
  shot_cmd->add_option("--out", shot->screenshot, "PNG file to write")->required();
  shot_cmd->add_option("--after", shot->capture_after_s,
                       "Capture after this many seconds even while panels still compute (shows progress)");
  shot_cmd->add_option("--width", shot->width, "Window width in pixels")->capture_default_str();
  shot_cmd->add_option("--height", shot->height, "Window height in pixels")->capture_default_str();
  shot_cmd->callback([shot, panels, ablate, off, no_sink] {
    SetLmStartWithoutSink(*no_sink);
    if (!off->first.empty()) {
      std::vector<std::pair<int, int>> heads;
      std::string error;
      if (!ParseLayerPairs(off->first, "HEAD", &heads, &error)) {
        std::cerr << "headscope shot: --off '" << off->first << "': " << error << "\n";
        ExitWith(2);
      }
      SetLmStartOff(heads, off->second == "mean" ? lm::AblationMode::kMean : lm::AblationMode::kZero);
    }
    std::string ablate_error;
    if (!ablate->empty() && !SetAblationPanelStart(*ablate, &ablate_error)) {
      std::cerr << "headscope shot: --ablate '" << *ablate << "': " << ablate_error << "\n";
      ExitWith(2);
    }
    const PanelDef* def = shot->panel.empty() ? nullptr : FindPanel(shot->panel);
    if (!shot->panel.empty() && !def) {
      std::cerr << "headscope shot: unknown --panel '" << shot->panel << "'; use one of " << panels << "\n";
      ExitWith(2);
    }
    const bool lm_shot = def ? def->workspace == WorkspaceKind::LanguageModel : !shot->model.empty();
    if (!lm_shot && (shot->run.empty() || shot->epoch < 0)) {
      std::cerr << "headscope shot: give --run RUN --epoch N (grokking panels) or --model DIR (language-model "
                   "panels)\n";
      ExitWith(2);
    }
    if (lm_shot) {
      shot->lm_first = true;
      if (shot->model.empty()) shot->model = lm::DemoLmDir().string();
    }
    ExitWith(RunExplorer(*shot));
  });
}
const bool kShotRegistered = RegisterCommand({"shot", 60, AddShot});
}  // namespace

}  // namespace hs::app
