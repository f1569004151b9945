// Line plot widget (see line_plot.h).
#include "line_plot.h"

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cstdio>
#include <vector>

namespace widgets {

ImU32 PaletteColor(int i) {
  static const ImU32 kColors[] = {IM_COL32(0, 114, 178, 255),  IM_COL32(230, 159, 0, 255),
                                  IM_COL32(0, 158, 115, 255),  IM_COL32(204, 121, 167, 255),
                                  IM_COL32(86, 180, 233, 255), IM_COL32(213, 94, 0, 255),
                                  IM_COL32(240, 228, 66, 255), IM_COL32(120, 120, 120, 255)};
  return kColors[((i % 8) + 8) % 8];
}

namespace {
// "Nice" tick step for a range, 1/2/5 x 10^k.
double NiceStep(double range, int target) {
  double raw = range / std::max(1, target);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double n = raw / mag;
  return (n < 1.5 ? 1 : n < 3.5 ? 2 : n < 7.5 ? 5 : 10) * mag;
}
void FormatTick(char* buf, size_t n, double v) {
  if (std::fabs(v) < 1e-9) v = 0;  // no "-0"
  if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3))
    std::snprintf(buf, n, "%.0e", v);
  else
    std::snprintf(buf, n, "%g", v);
}
}  // namespace

bool LinePlot(const char* id, const LineSeries* series, int n_series, const LinePlotSpec& spec, float* clicked_x) {
  ImGui::PushID(id);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  ImVec2 size = spec.size;
  if (size.x <= 0) size.x = std::max(100.0f, ImGui::GetContentRegionAvail().x);
  if (size.y <= 0) size.y = std::max(80.0f, ImGui::GetContentRegionAvail().y);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##plot", size);
  const bool hovered = ImGui::IsItemHovered();
  const bool clicked = ImGui::IsItemClicked();
  const float fh = ImGui::GetFontSize();

  // Data range.
  double x0 = DBL_MAX, x1 = -DBL_MAX, y0 = DBL_MAX, y1 = -DBL_MAX;
  for (int s = 0; s < n_series; ++s)
    for (int i = 0; i < series[s].count; ++i) {
      const double x = series[s].x[i], y = series[s].y[i];
      if (!std::isfinite(x) || !std::isfinite(y) || (spec.log_y && y <= 0)) continue;
      x0 = std::min(x0, x); x1 = std::max(x1, x);
      y0 = std::min(y0, y); y1 = std::max(y1, y);
    }
  for (int f = 0; f < spec.n_fills; ++f)
    for (int i = 0; i < spec.fills[f].count; ++i)
      for (const float* v : {spec.fills[f].lo, spec.fills[f].hi}) {
        const double x = spec.fills[f].x[i], y = v[i];
        if (!std::isfinite(x) || !std::isfinite(y) || (spec.log_y && y <= 0)) continue;
        x0 = std::min(x0, x); x1 = std::max(x1, x);
        y0 = std::min(y0, y); y1 = std::max(y1, y);
      }
  const bool empty = x0 > x1;
  if (empty) { x0 = 0; x1 = 1; y0 = spec.log_y ? 0.1 : 0; y1 = 1; }
  if (std::isfinite(spec.y_min)) y0 = spec.y_min;
  if (std::isfinite(spec.y_max)) y1 = spec.y_max;
  if (x1 == x0) x1 = x0 + 1;
  auto ty = [&](double y) { return spec.log_y ? std::log10(std::max(y, 1e-30)) : y; };
  double ly0 = ty(y0), ly1 = ty(y1);
  if (spec.log_y) { ly0 = std::floor(ly0); ly1 = std::ceil(ly1); }
  if (ly1 == ly0) { ly0 -= 0.5; ly1 += 0.5; }
  else if (!spec.log_y) { const double pad = 0.05 * (ly1 - ly0); ly0 -= pad; ly1 += pad; }

  const float left = fh * 4.0f, bottom = fh * 2.6f, top = fh * 0.5f, right = fh * 0.8f;
  const ImVec2 p0(origin.x + left, origin.y + top), p1(origin.x + size.x - right, origin.y + size.y - bottom);
  auto px = [&](double x) { return float(p0.x + (x - x0) / (x1 - x0) * (p1.x - p0.x)); };
  auto py = [&](double y) { return float(p1.y - (ty(y) - ly0) / (ly1 - ly0) * (p1.y - p0.y)); };
  const ImU32 grid = ImGui::GetColorU32(ImGuiCol_Border, 0.5f), text = ImGui::GetColorU32(ImGuiCol_Text);
  dl->AddRectFilled(p0, p1, ImGui::GetColorU32(ImGuiCol_FrameBg));
  dl->PushClipRect(origin, ImVec2(origin.x + size.x, origin.y + size.y), true);
  for (int b = 0; b < spec.n_bands; ++b) {
    const LineBand& band = spec.bands[b];
    const float bx0 = std::max(p0.x, px(band.x0)), bx1 = std::min(p1.x, px(band.x1));
    if (!(bx1 > bx0)) continue;
    dl->AddRectFilled(ImVec2(bx0, p0.y), ImVec2(bx1, p1.y), band.color ? band.color : IM_COL32(0, 0, 0, 18));
    if (band.label && *band.label)  // staggered upwards, so narrow bands' labels never overlap
      dl->AddText(ImVec2(bx0 + 3, p1.y - fh * (1.15f + 1.1f * float(spec.n_bands - 1 - b))),
                  ImGui::GetColorU32(ImGuiCol_Text, 0.75f), band.label);
  }

  for (int f = 0; f < spec.n_fills; ++f) {
    const LineFill& fl = spec.fills[f];
    const ImU32 c = fl.color ? fl.color : IM_COL32(0, 0, 0, 30);
    auto ok = [&](int i) {
      return std::isfinite(fl.x[i]) && std::isfinite(fl.lo[i]) && std::isfinite(fl.hi[i]) &&
             (!spec.log_y || (fl.lo[i] > 0 && fl.hi[i] > 0));
    };
    for (int i = 0; i + 1 < fl.count; ++i) {
      if (!ok(i) || !ok(i + 1)) continue;
      const float xa = px(fl.x[i]), xb = px(fl.x[i + 1]);
      // Two triangles per segment (the quad need not be convex where the curves cross).
      const ImVec2 a0(xa, py(fl.lo[i])), a1(xa, py(fl.hi[i])), b0(xb, py(fl.lo[i + 1])), b1(xb, py(fl.hi[i + 1]));
      dl->AddTriangleFilled(a0, a1, b1, c);
      dl->AddTriangleFilled(a0, b1, b0, c);
    }
  }
  char buf[32];
  // Y ticks.
  if (spec.log_y) {
    const int decades = int(ly1 - ly0);
    const int every = std::max(1, decades / 6);
    for (int d = int(ly0); d <= int(ly1); d += every) {
      const float y = float(p1.y - (d - ly0) / (ly1 - ly0) * (p1.y - p0.y));
      dl->AddLine(ImVec2(p0.x, y), ImVec2(p1.x, y), grid);
      std::snprintf(buf, sizeof buf, "1e%d", d);
      dl->AddText(ImVec2(origin.x + 2, y - fh * 0.5f), text, buf);
    }
  } else {
    const double step = NiceStep(ly1 - ly0, 5);
    for (double v = std::ceil(ly0 / step) * step; v <= ly1 + 1e-9; v += step) {
      const float y = py(v);
      dl->AddLine(ImVec2(p0.x, y), ImVec2(p1.x, y), grid);
      FormatTick(buf, sizeof buf, v);
      dl->AddText(ImVec2(origin.x + 2, y - fh * 0.5f), text, buf);
    }
  }
  // X ticks.
  {
    const double step = NiceStep(x1 - x0, std::max(2, int((p1.x - p0.x) / (fh * 6))));
    for (double v = std::ceil(x0 / step) * step; v <= x1 + 1e-9; v += step) {
      const float x = px(v);
      dl->AddLine(ImVec2(x, p0.y), ImVec2(x, p1.y), grid);
      FormatTick(buf, sizeof buf, v);
      const float w = ImGui::CalcTextSize(buf).x;
      dl->AddText(ImVec2(std::min(x - w * 0.5f, origin.x + size.x - w - 1), p1.y + 2), text, buf);  // keep the last label inside
    }
  }
  if (spec.x_label && *spec.x_label) {
    const float w = ImGui::CalcTextSize(spec.x_label).x;
    dl->AddText(ImVec2((p0.x + p1.x) * 0.5f - w * 0.5f, p1.y + fh * 1.3f), text, spec.x_label);
  }
  if (spec.y_label && *spec.y_label) dl->AddText(ImVec2(p0.x + 4, p0.y + 2), text, spec.y_label);

  // Series: one vertex per pixel column at most (min/max kept per column).
  dl->PushClipRect(p0, p1, true);
  for (int s = 0; s < n_series; ++s) {
    const LineSeries& ser = series[s];
    const ImU32 col = ser.color ? ser.color : PaletteColor(s);
    std::vector<ImVec2> pts;
    pts.reserve(size_t(std::max(0, std::min(ser.count, int(p1.x - p0.x) * 2 + 2))));  // a tiny plot has no width
    int last_col = INT_MIN;
    float cmin = 0, cmax = 0;
    auto flush = [&]() {
      if (pts.size() >= 2) dl->AddPolyline(pts.data(), int(pts.size()), col, 0, 1.5f);
      pts.clear();
    };
    for (int i = 0; i < ser.count; ++i) {
      const double y = ser.y[i];
      if (!std::isfinite(y) || (spec.log_y && y <= 0)) { flush(); last_col = INT_MIN; continue; }
      const float X = px(ser.x[i]), Y = py(y);
      if (ser.markers) dl->AddCircleFilled(ImVec2(X, Y), 2.5f, col);
      if (ser.step && !pts.empty() && pts.back().y != Y) pts.push_back(ImVec2(X, pts.back().y));
      const int c = int(X);
      if (c == last_col) {
        if (Y < cmin) { cmin = Y; pts.push_back(ImVec2(X, Y)); }
        else if (Y > cmax) { cmax = Y; pts.push_back(ImVec2(X, Y)); }
        continue;
      }
      last_col = c;
      cmin = cmax = Y;
      pts.push_back(ImVec2(X, Y));
    }
    flush();
  }
  if (std::isfinite(spec.marker2_x)) {
    const float x = px(spec.marker2_x);
    for (float y = p0.y; y < p1.y; y += 8) dl->AddLine(ImVec2(x, y), ImVec2(x, std::min(y + 4, p1.y)), IM_COL32(0, 158, 115, 255), 1.5f);
    if (spec.marker2_label) {
      // Below the legend's rows; left of the line when it would run off the
      // right edge (a run that groks near its last epoch).
      const float w = ImGui::CalcTextSize(spec.marker2_label).x;
      const float lx = x + 3 + w > p1.x ? x - 3 - w : x + 3;
      const float ly = p0.y + fh * (1.4f + 1.1f * n_series);
      dl->AddText(ImVec2(lx, ly), IM_COL32(0, 158, 115, 255), spec.marker2_label);
    }
  }
  if (std::isfinite(spec.marker_x))
    dl->AddLine(ImVec2(px(spec.marker_x), p0.y), ImVec2(px(spec.marker_x), p1.y), IM_COL32(220, 50, 47, 255), 2.0f);
  dl->PopClipRect();

  // Legend (top right).
  float ly = p0.y + fh * 1.3f;  // below the y-axis title line
  for (int s = 0; s < n_series; ++s) {
    const float w = ImGui::CalcTextSize(series[s].label).x;
    const float lx = p1.x - w - fh * 2;
    dl->AddLine(ImVec2(lx, ly + fh * 0.5f), ImVec2(lx + fh * 1.2f, ly + fh * 0.5f),
                series[s].color ? series[s].color : PaletteColor(s), 3.0f);
    dl->AddText(ImVec2(lx + fh * 1.5f, ly), text, series[s].label);
    ly += fh * 1.1f;
  }
  if (empty) {
    const char* msg = "no data yet";
    const ImVec2 ts = ImGui::CalcTextSize(msg);
    dl->AddText(ImVec2((p0.x + p1.x - ts.x) * 0.5f, (p0.y + p1.y - ts.y) * 0.5f), text, msg);
  }
  dl->PopClipRect();

  // Hover read-out: nearest sample of each series at the mouse x.
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const double mx = x0 + (mouse.x - p0.x) / (p1.x - p0.x) * (x1 - x0);
  if (hovered && !empty && mouse.x >= p0.x && mouse.x <= p1.x) {
    dl->AddLine(ImVec2(mouse.x, p0.y), ImVec2(mouse.x, p1.y), grid);
    ImGui::BeginTooltip();
    ImGui::Text("%s %.0f", spec.x_label && *spec.x_label ? spec.x_label : "x", mx);
    for (int s = 0; s < n_series; ++s) {
      const LineSeries& ser = series[s];
      if (ser.count == 0) continue;
      const float* it = std::lower_bound(ser.x, ser.x + ser.count, float(mx));
      int i = int(it - ser.x);
      if (i >= ser.count) i = ser.count - 1;
      if (i > 0 && std::fabs(ser.x[i - 1] - mx) < std::fabs(ser.x[i] - mx)) --i;
      ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(ser.color ? ser.color : PaletteColor(s)), "%s: %.4g",
                         ser.label, ser.y[i]);
    }
    ImGui::EndTooltip();
  }
  if (clicked && clicked_x) *clicked_x = float(std::min(std::max(mx, x0), x1));
  ImGui::PopID();
  return clicked;
}

}  // namespace widgets
