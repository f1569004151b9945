// Heatmaps drawn from a GPU texture (colormap, colour bar, axis labels, hover
// tooltip with row / column / value, equal-aspect cells) and a facet grid of
// them with one shared colour scale.
//
//   widgets::HeatmapSpec spec;
//   spec.x_label = "b"; spec.y_label = "a"; spec.vmin = 0; spec.vmax = 1;
//   widgets::HeatmapState st;
//   if (widgets::Heatmap("##head0", grid, p, p, spec, &st)) OpenLarge(0);
#pragma once

#include <imgui.h>

#include <cmath>
#include <cstdint>

#include "colormap.h"

namespace widgets {

struct HeatmapSpec {
  Colormap colormap = Colormap::Viridis;
  float vmin = NAN, vmax = NAN;  // NaN: from the data (diverging maps centre on 0)
  const char* title = nullptr;
  const char* x_label = nullptr;  // what the columns are
  const char* y_label = nullptr;  // what the rows are
  const char* value_label = "value";
  const char* value_format = "%.3f";
  bool colorbar = true;
  bool equal_aspect = true;
  bool axis_ticks = true;
  int x_tick_base = 0, y_tick_base = 0;  // the label of column / row 0 (1 for 1-based frequencies)
  // Text labels instead of numbers (one per column / row; e.g. tokens), shown
  // as many as fit and in the hover tooltip.
  const char* const* x_tick_labels = nullptr;
  const char* const* y_tick_labels = nullptr;
  ImVec2 size = ImVec2(-1, -1);          // <= 0: fill the available space
  uint64_t version = 0;                  // bump when data changes in place at the same address
  bool stale = false;                    // draw a "recomputing" marker
  bool selected = false;                 // highlight the frame
};

// What the heatmap did this frame, for overlays drawn by the caller.
struct HeatmapState {
  bool hovered = false;
  int row = -1, col = -1;
  float value = NAN;
  ImVec2 plot_min, plot_max;  // screen rectangle of the cells
};

// values: [rows, cols] row-major. Returns true when clicked.
bool Heatmap(const char* id, const float* values, int rows, int cols, const HeatmapSpec& spec = {},
             HeatmapState* state = nullptr);

struct FacetSpec {
  int columns = 2;
  const char* const* titles = nullptr;  // one per facet
  HeatmapSpec heatmap;                  // shared by all facets (one colour scale)
  float facet_height = 0;               // 0: fit the available height
};

// values[i]: [rows, cols] for facet i. Returns the index clicked, or -1.
int FacetGrid(const char* id, const float* const* values, int n, int rows, int cols, const FacetSpec& spec = {});

// A colour bar for [vmin, vmax] (drawn by Heatmap; public for legends).
void ColorBar(const char* id, Colormap map, float vmin, float vmax, ImVec2 size, const char* label = nullptr);

}  // namespace widgets
