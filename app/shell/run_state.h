// The explorer's view of one run folder: its descriptor (RunInfo, read once
// and shared immutably) and the checkpoints present, re-listed while it
// trains. Viewing never needs the trainer's config.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "families/run_info.h"

namespace hs::app {

struct RunState {
  std::filesystem::path dir;
  families::RunInfoPtr info;  // null when config.json or family.json is unreadable (see error)
  std::string error;
  std::vector<int> epochs;    // checkpoints present, ascending
  std::chrono::steady_clock::time_point last_scan{};

  bool valid() const { return info != nullptr; }
  // Loads the run's descriptor; on failure keeps the folder and the error.
  void Open(const std::filesystem::path& d);
  // Re-lists checkpoints at most every 0.5 s; true when the list changed.
  // Retries a descriptor that failed to load (a run being created).
  bool Refresh();
  // The final checkpoint exists: training is complete.
  bool Complete() const;
};

}  // namespace hs::app
