// The subcommands of the headscope binary. Each returns a process exit code;
// errors a user can cause are printed to stderr in words, never thrown out.
#pragma once

#include <string>
#include <vector>

#include "train/train_config.h"

namespace hs::app {

struct TrainOptions {
  train::TrainConfig cfg;
  std::string out = "runs";
  int threads = 1;
  bool quiet = false;
};
int RunTrain(const TrainOptions& opt);

struct AnalyzeOptions {
  std::string run_dir;
  std::vector<std::string> analyzers;  // empty: the family's list
  int threads = 2;
  bool follow = false;
  bool quiet = false;
};
int RunAnalyze(const AnalyzeOptions& opt);

struct ExplorerOptions {
  std::string runs = "runs";
  std::string run;             // a run folder; empty: the default run under `runs`
  bool train_if_missing = true;
  int frames = 0;              // > 0: close after this many frames (tests, screenshots)
  std::string screenshot;      // write a PNG of the last frame
  int width = 1600, height = 1000;
};
int RunExplorer(const ExplorerOptions& opt);

// The folder of the default run under `runs`: runs/modadd_1l/p113_seed999.
std::string DefaultRunDir(const std::string& runs);

}  // namespace hs::app
