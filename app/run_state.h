// The explorer's view of one run folder: its config, shape and checkpoints,
// re-scanned while it trains.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "train/train_config.h"
#include "view_context.h"

namespace hs::app {

struct RunState {
  std::filesystem::path dir;
  train::TrainConfig cfg;
  bool valid = false;
  std::string error;
  RunShape shape;
  std::vector<int> epochs;
  std::chrono::steady_clock::time_point last_scan{};

  void Open(const std::filesystem::path& d) {
    dir = d;
    valid = false;
    epochs.clear();
    last_scan = {};
    try {
      cfg = nlohmann::json::parse(io::ReadFile(d / "config.json")).get<train::TrainConfig>();
      shape.p = cfg.p;
      shape.n_heads = cfg.n_heads;
      shape.n_ctx = 3;
      shape.d_mlp = cfg.d_mlp;
      shape.n_freq = (cfg.p - 1) / 2;
      shape.total_epochs = cfg.epochs;
      shape.positions = {"a", "b", "="};
      valid = true;
      error.clear();
    } catch (const std::exception& e) {
      error = d.string() + ": cannot read config.json (" + e.what() + ")";
    }
  }
  // Re-lists checkpoints at most every 0.5 s (cheap, and live runs grow).
  bool Refresh() {
    if (std::chrono::steady_clock::now() - last_scan < std::chrono::milliseconds(500)) return false;
    last_scan = std::chrono::steady_clock::now();
    auto e = io::ListCheckpointEpochs(dir);
    const bool changed = e != epochs;
    epochs = std::move(e);
    return changed;
  }
};


}  // namespace hs::app
