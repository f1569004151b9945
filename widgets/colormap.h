// Perceptually uniform colormaps: viridis (sequential: weights, fractions,
// attention) and a blue-white-red diverging map (signed values).
#pragma once

#include <imgui.h>

#include <cstdint>

namespace widgets {

enum class Colormap { Viridis, Diverging };

// t in [0, 1] (clamped; NaN gives grey) -> packed RGBA (IM_COL32 layout).
ImU32 ColormapColor(Colormap map, float t);

}  // namespace widgets
