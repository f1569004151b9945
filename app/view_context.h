// What every panel of the explorer sees each frame: the run, its shape, the
// shared epoch, and where artifacts come from.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "artifact_source.h"
#include "heatmap.h"
#include "io/npz.h"

namespace hs::app {

struct RunShape {
  int p = 0, n_heads = 0, n_ctx = 0, d_mlp = 0, n_freq = 0;
  int total_epochs = 0;
  std::vector<std::string> positions;  // readable token names per position: a, b, =
};

struct ViewContext {
  std::filesystem::path run;
  RunShape shape;
  std::vector<int> epochs;  // checkpoints present, ascending
  int epoch = -1;           // the selected checkpoint epoch (-1: none yet)
  int grok_epoch = -1;      // first epoch with test accuracy > 0.9, -1 if not yet
  ArtifactSource* source = nullptr;
};

// Pointer to a float32 array's data if `a` holds `key` with `numel`
// elements, else nullptr.
const float* FloatData(const io::NpzArchive& a, const std::string& key, int64_t numel);

// The spec of a frequency x unit heatmap of variance fractions (rows k =
// 1..n_freq, values in [0, 1]) showing `epoch`'s data while `wanted` is selected.
widgets::HeatmapSpec FrequencyHeatmapSpec(const char* title, const char* unit, int epoch, int wanted);

// Draws a centred explanatory line in the remaining space (empty states).
void EmptyState(const char* text);

}  // namespace hs::app
