// `headscope ablate RUN --epoch E [--heads H,...] [--neurons N,...] [--freqs k,...] [--json]`:
// the grokking side of `ablate` (cmd_ablate.cpp dispatches here when its
// first argument is a training run folder rather than a language model).
#pragma once

#include <string>

namespace hs::app {

struct AblateRunArgs {
  std::string run_dir;
  int epoch = -1;         // -1: not given (the command says it is required)
  std::string heads;      // "0,3" (heads of the one attention layer); empty: none
  std::string neurons;    // "12,400"; empty: none
  std::string freqs;      // "14,35"; empty: none
  bool json = false;
};

// True when `dir` holds a headscope training run (not a language model).
bool IsTrainingRunDir(const std::string& dir);
// Process exit code; errors in words on stderr ("headscope ablate: ...").
int AblateRun(const AblateRunArgs& args);

}  // namespace hs::app
