// Runs a family's analyzers over a run's checkpoints: one forward pass per
// checkpoint shared by every analyzer, worker threads, resumable (valid
// artifacts are skipped; corrupt ones are reported and recomputed), atomic
// writes, then summary.npz per analyzer. Can follow a run still training.
// Torch-free interface for the CLI and the app.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/npz.h"

namespace hs::analyzers {

struct AnalyzeOptions {
  std::vector<std::string> analyzers;  // empty: the family's list (family.json)
  int threads = 2;                     // checkpoints analysed in parallel
  bool follow = false;                 // keep watching for new checkpoints
  double follow_poll_seconds = 2.0;
  // With follow: stop once the run's final epoch (config.json) is analysed
  // and no checkpoint has appeared for this long.
  double follow_idle_exit_seconds = 30.0;
};

struct AnalyzeProgress {
  int done = 0, total = 0;  // checkpoints
  int epoch = -1;           // last epoch finished
  double ms_per_checkpoint = 0;
};

struct AnalyzeReport {
  int analysed = 0;   // checkpoints whose artifacts were computed
  int skipped = 0;    // checkpoints whose artifacts were all present and valid
  std::vector<std::string> warnings;  // corrupt artifacts recomputed, unreadable checkpoints
};

// The analyzers a family lists in assets/families/<family>.json (copied to
// runs/<family>/family.json on first analysis). Falls back to every analyzer.
std::vector<std::string> FamilyAnalyzers(const std::filesystem::path& run_dir);

// Throws io::IoError for a missing or unreadable run folder.
AnalyzeReport AnalyzeRun(const std::filesystem::path& run_dir, const AnalyzeOptions& opt,
                         const std::function<void(const AnalyzeProgress&)>& on_progress = {},
                         const std::function<bool()>& should_stop = {});

// One analyzer's artifact for one epoch, computed from the checkpoint now
// (no files written). For on-demand use in the explorer.
io::NpzArchive ComputeArtifact(const std::filesystem::path& run_dir, const std::string& analyzer, int epoch);

// Reads an artifact and checks it holds the analyzer's documented keys and
// shapes for this run; throws io::IoError saying what is wrong otherwise.
io::NpzArchive ReadValidArtifact(const std::filesystem::path& run_dir, const std::string& analyzer, int epoch);

}  // namespace hs::analyzers
