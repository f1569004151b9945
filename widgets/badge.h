// A role badge: a filled (active) or open (inactive) circle, a label and a
// bar for a score in [0, 1].
//
//   widgets::BadgeSpec b; b.color = widgets::PaletteColor(2);
//   widgets::RoleBadge("low-frequency", /*active=*/true, 0.97f, b);
#pragma once

#include <imgui.h>

namespace widgets {

struct BadgeSpec {
  ImU32 color = IM_COL32(0, 114, 178, 255);
  float bar_width = 80;  // pixels; 0 hides the bar
  float label_width = 0; // minimum label width in pixels (aligns the bars of a list)
  const char* tooltip = nullptr;
};

// Returns true when clicked.
bool RoleBadge(const char* label, bool active, float score, const BadgeSpec& spec = {});

}  // namespace widgets
