// RunState (see run_state.h).
#include "run_state.h"

#include "io/atomic_file.h"
#include "io/run_dir.h"

namespace hs::app {
namespace fs = std::filesystem;

void RunState::Open(const fs::path& d) {
  dir = d;
  info.reset();
  epochs.clear();
  last_scan = {};
  try {
    info = families::LoadRunInfo(d);
    error.clear();
  } catch (const std::exception& e) {
    error = e.what();
  }
}

bool RunState::Refresh() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_scan < std::chrono::milliseconds(500)) return false;
  last_scan = now;
  if (!info && !dir.empty() && fs::exists(dir / "config.json")) {
    auto keep = last_scan;
    Open(dir);
    last_scan = keep;
  }
  auto e = io::ListCheckpointEpochs(dir);
  const bool changed = e != epochs;
  epochs = std::move(e);
  return changed;
}

bool RunState::Complete() const {
  return info && fs::exists(io::RunPaths{dir}.Checkpoint(info->total_epochs));
}

}  // namespace hs::app
