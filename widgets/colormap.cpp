// Colormap tables (matplotlib's viridis and ColorBrewer's RdBu anchor
// colours), linearly interpolated.
#include "colormap.h"

#include <cmath>

namespace widgets {
namespace {
struct Rgb { float r, g, b; };
const Rgb kViridis[] = {{68, 1, 84},    {72, 40, 120},  {62, 74, 137},  {49, 104, 142}, {38, 130, 142},
                        {31, 158, 137}, {53, 183, 121}, {109, 205, 89}, {253, 231, 37}};
const Rgb kDiverging[] = {{5, 48, 97},     {33, 102, 172}, {67, 147, 195}, {146, 197, 222}, {247, 247, 247},
                          {244, 165, 130}, {214, 96, 77},  {178, 24, 43},  {103, 0, 31}};

template <int N>
ImU32 Lookup(const Rgb (&table)[N], float t) {
  const float x = t * (N - 1);
  int i = int(x);
  if (i >= N - 1) i = N - 2;
  const float f = x - float(i);
  const Rgb& a = table[i];
  const Rgb& b = table[i + 1];
  return IM_COL32(int(a.r + (b.r - a.r) * f + 0.5f), int(a.g + (b.g - a.g) * f + 0.5f), int(a.b + (b.b - a.b) * f + 0.5f), 255);
}
}  // namespace

ImU32 ColormapColor(Colormap map, float t) {
  if (std::isnan(t)) return IM_COL32(160, 160, 160, 255);
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  return map == Colormap::Viridis ? Lookup(kViridis, t) : Lookup(kDiverging, t);
}

}  // namespace widgets
