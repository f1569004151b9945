// Line plot with several series, legend, optional log-scale y, a vertical
// marker and a hover read-out. Drawn with the ImGui draw list.
//
//   widgets::LineSeries s[] = {{"train", xs, train, n}, {"test", xs, test, n}};
//   widgets::LinePlotSpec spec;
//   spec.log_y = true; spec.x_label = "epoch"; spec.y_label = "loss";
//   spec.marker_x = current_epoch;
//   float clicked;
//   if (widgets::LinePlot("##loss", s, 2, spec, &clicked)) epoch = clicked;
#pragma once

#include <imgui.h>

#include <cmath>

namespace widgets {

struct LineSeries {
  const char* label = "";
  const float* x = nullptr;  // [count], ascending
  const float* y = nullptr;  // [count]; non-finite values break the line
  int count = 0;
  ImU32 color = 0;           // 0: pick from the default palette
  bool markers = false;      // a dot at every sample (discrete values)
  bool step = false;         // hold each value until the next sample
};

// A shaded x-range behind the series with a label at its foot (e.g. a
// training phase).
struct LineBand {
  float x0 = 0, x1 = 0;
  const char* label = "";
  ImU32 color = 0;  // 0: a light grey
};

// A shaded area between two curves on the same x (e.g. the range of several
// seeds), drawn under the series; non-finite samples break it.
struct LineFill {
  const float* x = nullptr;  // [count], ascending
  const float* lo = nullptr;
  const float* hi = nullptr;
  int count = 0;
  ImU32 color = 0;  // 0: a light grey
};

struct LinePlotSpec {
  const char* x_label = "";
  const char* y_label = "";
  bool log_y = false;
  float marker_x = NAN;        // vertical marker (e.g. the current epoch)
  float marker2_x = NAN;       // a second, dashed marker (e.g. the grokking epoch)
  const char* marker2_label = nullptr;
  ImVec2 size = ImVec2(-1, 220);  // -1: fill available width
  float y_min = NAN, y_max = NAN;  // fixed range; NaN: from data
  const LineBand* bands = nullptr;  // [n_bands], drawn under the grid
  int n_bands = 0;
  const LineFill* fills = nullptr;  // [n_fills], drawn under the series (their samples count for the range)
  int n_fills = 0;
};

// Returns true when the user clicked inside the plot; *clicked_x gets the
// x value under the mouse.
bool LinePlot(const char* id, const LineSeries* series, int n_series, const LinePlotSpec& spec = {},
              float* clicked_x = nullptr);

// The default series colours (colour-blind friendly, Okabe-Ito).
ImU32 PaletteColor(int i);

}  // namespace widgets
